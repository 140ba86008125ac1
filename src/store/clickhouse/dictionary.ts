// The data dictionary on ClickHouse, kept as the embedded store keeps it (store/duckdb/dictionary.ts holds the
// rule) but without UPDATE or transactions: each load appends its batch's summary as rows carrying the load's
// seq (so they are committed, invisible until the load commits and cleaned with the load's other rows: load.ts),
// and reads add the rows up (dictionary-reads.ts).
//   dictionary_days:  per load and (workspace, kind, name, day): events, first and last seen.
//   dictionary_paths: per load and (workspace, kind, name, path): events holding it, by JSON type, first and last
//                     seen, the load's examples. A path's examples are the first 3 distinct ones in seq order,
//                     which is what the embedded store's merge keeps.
// A deletion (erasure.ts, before the events go) writes, for every day and path its events touched, one row of
// the state that remains at a snapshot of the checkpoints (kept in the job), tagged with its job and seq 0
// (committed at once) and the snapshot as `snap`, then deletes the rows of those keys it outranks (a mutation). A
// crash anywhere in it is repaired by the job's re-run: its rows, when found, are not written again, and the
// mutation is repeated.
// Rows tagged with a job are *state rows* (a deletion's, or a compaction's `!compact ...`: dictionary-compact.ts):
// the key's whole state at the checkpoints `snap`. A key's value is its latest state row plus the load rows (job
// '') not committed at its snap; what it outranks no longer counts (liveRows), whether or not a mutation has
// deleted it yet, so a reader never sees a row twice. Latest: the largest (arraySum(snap), job). Snapshots are
// reads of checkpoints that only grow, lane by lane, so of any two one is at or above the other in every lane and
// the sum orders them; at the same snapshot a deletion's row beats a compaction's ('!' sorts before job ids).
import { DictionaryBatch } from '../../pipeline/dictionary/observe.ts';
import { type ClickHouse, lit } from './http.ts';
import { mutationsDone } from './load.ts';
import { committed } from './schema.ts';

/** Distinct paths kept per name (as the embedded store: one batch may add up to LIMITS.pathsPerName beyond it). */
export const MAX_PATHS_PER_NAME = 1000;

/** The dictionary's kind and name of an events row, in SQL (as pipeline/dictionary/observe.ts kindOf does). */
export const NAME_SQL = `multiIf(type = 'track', ifNull(event, ''), type IN ('page', 'screen'), ifNull(name, ''), '')`;

const wf = (s: string) => s.toWellFormed();

/** A dictionary table's key, without workspace_id. */
export const DICTIONARY_KEYS = {
  dictionary_days: 'kind, name, day',
  dictionary_paths: 'kind, name, path',
} as const;
export type DictionaryTable = keyof typeof DICTIONARY_KEYS;

/** A dictionary table's columns past its key; the last three are seq, job and snap. */
const VALUES: Record<DictionaryTable, string[]> = {
  dictionary_days: ['count', 'first_ms', 'last_ms', 'seq', 'job', 'snap'],
  dictionary_paths: ['count', 'types', 'first_ms', 'last_ms', 'examples', 'seq', 'job', 'snap'],
};

/**
 * The rows of `table` matching `where` that count: per key, its latest state row (the largest (arraySum(snap),
 * job) among rows with a job) and the load rows (job '') not committed at that row's snap; without a state row,
 * every load row. The caller applies the checkpoint (state rows have seq 0: committed at once). Every read of
 * the dictionary goes through it: the API's reads, the cap on paths, a deletion's paths left, the compaction.
 * One scan, grouped by key, the live rows filtered from the key's own rows: a self-join reads the table twice,
 * and a state row inserted between the two reads would drop the rows it outranks without counting itself (a
 * compaction folding then would store that loss).
 */
export function liveRows(table: DictionaryTable, where: string): string {
  const key = `workspace_id, ${DICTIONARY_KEYS[table]}`;
  const vals = VALUES[table];
  const el = (name: string) => `tupleElement(x, ${vals.indexOf(name) + 1})`;
  const live = `(${el('job')} = '' AND NOT (${committed('ss', el('seq'))}))
                OR (${el('job')} != '' AND (arraySum(${el('snap')}), ${el('job')}) = st)`;
  return `(SELECT ${key}, ${vals.map((c, k) => `tupleElement(r, ${k + 1}) AS ${c}`).join(', ')} FROM (
       SELECT ${key}, arrayFilter((x, ss, st) -> ${live}, rs, arrayResize([ss], length(rs), ss),
                                  arrayResize([st], length(rs), st)) AS lr FROM (
         SELECT ${key}, maxIf((arraySum(snap), job), job != '') AS st,
                argMaxIf(snap, (arraySum(snap), job), job != '') AS ss, groupArray((${vals.join(', ')})) AS rs
           FROM ${table} WHERE ${where} GROUP BY ${key}))
     ARRAY JOIN lr AS r)`;
}

/** The rows a state row at `snap` of job `job` outranks (load rows committed at snap, lesser state rows). */
export function outranked(snap: readonly number[], job: string): string {
  const sum = (snap.length > 0 ? snap : [0]).reduce((a, b) => a + Math.trunc(b), 0);
  return `((job = '' AND ${committed(snap.length > 0 ? snap : [0])})
     OR (job != '' AND (arraySum(snap), job) < (toUInt64(${sum}), ${lit(job)})))`;
}
const tuple = (...xs: Array<string | number>) => `(${xs.map(lit).join(', ')})`;
const tuples = (xs: string[]) => (xs.length === 0 ? '((NULL))' : `(${xs.join(', ')})`);

/**
 * Per (workspace, kind, name): at least as many distinct paths as it holds, kept by the store across loads so
 * that most loads skip counting a name's paths in ClickHouse: a name whose bound plus the batch's paths stays
 * under MAX_PATHS_PER_NAME cannot reach it. Counting them every load cost 13 ms a load (400 loads of 500 events,
 * 5 names of 11 paths, busy machine: 5.3 s of statements; 0.06 s with the bounds). Deletions only lower the real
 * counts, so the bound stays a bound; another process adding paths to the same names could take a name a little
 * past the cap (several loaders of one store each keep their own bounds).
 */
export type PathBounds = Map<string, number>;

/** The (workspace, kind, name) of names at MAX_PATHS_PER_NAME, with the paths they hold. */
async function capped(
  ch: ClickHouse,
  batch: DictionaryBatch,
  cps: readonly number[],
  bounds: PathBounds,
): Promise<Map<string, Set<string>>> {
  const keys: string[] = [];
  for (const n of batch.names.values()) {
    if (n.paths.size === 0) continue;
    const key = `${wf(n.workspaceId)}\0${n.kind}\0${wf(n.name)}`;
    const bound = bounds.get(key);
    if (bound !== undefined && bound + n.paths.size < MAX_PATHS_PER_NAME) continue;
    keys.push(tuple(wf(n.workspaceId), n.kind, wf(n.name)));
    bounds.set(key, 0); // none stored unless the count below says otherwise
  }
  const out = new Map<string, Set<string>>();
  if (keys.length === 0) return out;
  const rows = await ch.rows(
    `SELECT workspace_id AS w, kind AS k, name AS n, count() AS c,
            if(c >= ${MAX_PATHS_PER_NAME}, groupArray(path), emptyArrayString()) AS ps FROM (
       SELECT workspace_id, kind, name, path
         FROM ${liveRows('dictionary_paths', `(workspace_id, kind, name) IN ${tuples(keys)}`)}
        WHERE ${committed(cps)}
        GROUP BY workspace_id, kind, name, path HAVING sum(count) > 0)
     GROUP BY workspace_id, kind, name`,
  );
  for (const r of rows) {
    bounds.set(`${r.w}\0${r.k}\0${r.n}`, Number(r.c));
    if (Number(r.c) >= MAX_PATHS_PER_NAME)
      out.set(`${r.w}\0${r.k}\0${r.n}`, new Set((r.ps as unknown[]).map(String)));
  }
  return out;
}

/** Appends a loaded batch's summary with the load's seq; runs before the load's commit (load.ts). */
export async function addSummary(
  ch: ClickHouse,
  batch: DictionaryBatch,
  seq: number,
  cps: readonly number[],
  bounds: PathBounds,
): Promise<void> {
  if (batch.names.size === 0) return;
  const full = await capped(ch, batch, cps, bounds);
  const days = [];
  const paths = [];
  for (const n of batch.names.values()) {
    const [workspace_id, kind, name] = [wf(n.workspaceId), n.kind, wf(n.name)];
    for (const d of n.days.values())
      days.push({
        workspace_id,
        kind,
        name,
        day: d.day,
        count: d.count,
        first_ms: d.first,
        last_ms: d.last,
        seq,
        job: '',
        snap: [],
      });
    // A name already at the cap takes no new path (its known paths still count).
    const known = full.get(`${workspace_id}\0${kind}\0${name}`);
    for (const p of n.paths.values()) {
      const path = wf(p.path);
      if (known && !known.has(path)) continue;
      paths.push({
        workspace_id,
        kind,
        name,
        path,
        count: p.count,
        types: p.types,
        first_ms: p.first,
        last_ms: p.last,
        examples: p.examples.map(wf),
        seq,
        job: '',
        snap: [],
      });
    }
  }
  await ch.insert('dictionary_days', days);
  await ch.insert('dictionary_paths', paths);
  for (const n of batch.names.values()) {
    const key = `${wf(n.workspaceId)}\0${n.kind}\0${wf(n.name)}`;
    if (n.paths.size > 0 && !full.has(key)) bounds.set(key, (bounds.get(key) ?? 0) + n.paths.size);
  }
}

/** The first `n` distinct examples of a path's rows, in seq order (a deletion's row first at its seq). */
export function foldExamples(rows: ReadonlyArray<readonly [unknown, unknown, unknown]>, n = 3): string[] {
  const sorted = rows
    .map(([seq, job, ex]) => ({ seq: Number(seq), mine: String(job) === '' ? 1 : 0, ex: ex as string[] }))
    .sort((a, b) => a.seq - b.seq || a.mine - b.mine);
  const out: string[] = [];
  for (const r of sorted) for (const x of r.ex) if (out.length < n && !out.includes(x)) out.push(x);
  return out;
}

/** A deletion's walk: every path, and up to this many values a path (to take out of its examples). */
const DELETED = {
  examples: 10_000,
  pathsPerName: Number.POSITIVE_INFINITY,
  pathsPerBatch: Number.POSITIVE_INFINITY,
};

/** Rows of a table tagged with the job: their keys. */
async function jobRows(
  ch: ClickHouse,
  table: string,
  key: string,
  job: string,
): Promise<{ keys: string[] } | null> {
  const rows = await ch.rows(`SELECT ${key} AS k FROM ${table} WHERE job = ${lit(job)}`, {
    output_format_json_quote_64bit_integers: 0,
  });
  if (rows.length === 0) return null;
  return { keys: rows.map((r) => JSON.stringify(r.k)) };
}

/** Deletes the rows of the job's keys that its rows outrank (a mutation, waited for). */
async function dropOlder(
  ch: ClickHouse,
  table: string,
  cols: string,
  ws: string,
  job: string,
  mine: { keys: string[] },
  snapshot: readonly number[],
): Promise<void> {
  const keys = mine.keys.map((k) => tuple(...(JSON.parse(k) as Array<string | number>)));
  await ch.exec(
    `ALTER TABLE ${table} DELETE WHERE workspace_id = ${lit(ws)} AND ${outranked(snapshot, job)}
     AND (${cols}) IN ${tuples(keys)}`,
  );
  await mutationsDone(ch, table);
}

/**
 * Takes the events of workspace `ws` matching `where` (they are about to be deleted by job `job`) out of the
 * dictionary, at the checkpoints `snapshot` (the same on a re-run): their days recomputed from the events that remain, their paths' counts and
 * types lowered and the values they held taken out of the examples (the rule of store/duckdb/dictionary.ts).
 */
export async function forgetEvents(
  ch: ClickHouse,
  ws: string,
  where: string,
  job: string,
  snapshot: readonly number[],
): Promise<void> {
  let days = await jobRows(ch, 'dictionary_days', '(kind, name, day)', job);
  let paths = await jobRows(ch, 'dictionary_paths', '(kind, name, path)', job);
  if (days === null || paths === null) {
    const events = `(SELECT * FROM events FINAL WHERE ${committed(snapshot)})`;
    const batch = new DictionaryBatch(DELETED);
    const rows = await ch.rows(
      `SELECT type, event, name, received_at_ms AS at, properties AS p, traits AS t FROM ${events}
        WHERE workspace_id = ${lit(ws)} AND (${where}) AND type IN ('track', 'page', 'screen', 'identify', 'group')`,
    );
    for (const r of rows)
      batch.add({
        workspaceId: ws,
        type: String(r.type),
        event: (r.event ?? null) as string | null,
        name: (r.name ?? null) as string | null,
        receivedAt: new Date(Number(r.at)),
        properties: JSON.parse(String(r.p)) as Record<string, unknown>,
        traits: JSON.parse(String(r.t)) as Record<string, unknown>,
      });
    if (batch.names.size > 0 && paths === null) {
      await ch.insert('dictionary_paths', await pathsLeft(ch, ws, batch, job, snapshot));
      paths = await jobRows(ch, 'dictionary_paths', '(kind, name, path)', job);
    }
    if (batch.names.size > 0 && days === null) {
      await ch.insert('dictionary_days', await daysLeft(ch, ws, where, events, batch, job, snapshot));
      days = await jobRows(ch, 'dictionary_days', '(kind, name, day)', job);
    }
  }
  if (paths) await dropOlder(ch, 'dictionary_paths', 'kind, name, path', ws, job, paths, snapshot);
  if (days) await dropOlder(ch, 'dictionary_days', 'kind, name, day', ws, job, days, snapshot);
}

/** One row per path the deleted events held: the path's state without them (a count of 0 when none is left). */
async function pathsLeft(
  ch: ClickHouse,
  ws: string,
  batch: DictionaryBatch,
  job: string,
  snapshot: readonly number[],
) {
  const gone = new Map<string, { count: number; types: number[]; examples: string[] }>();
  for (const n of batch.names.values())
    for (const p of n.paths.values())
      gone.set(JSON.stringify([n.kind, wf(n.name), wf(p.path)]), {
        count: p.count,
        types: p.types,
        examples: p.examples.map(wf),
      });
  if (gone.size === 0) return [];
  const keys = [...gone.keys()].map((k) => tuple(...(JSON.parse(k) as string[])));
  const rows = await ch.rows(
    `SELECT kind AS k, name AS n, path AS p, sum(count) AS c, sumForEach(types) AS t,
            minIf(first_ms, count > 0) AS f, maxIf(last_ms, count > 0) AS l, groupArray((seq, job, examples)) AS ex
       FROM ${liveRows('dictionary_paths', `workspace_id = ${lit(ws)} AND (kind, name, path) IN ${tuples(keys)}`)}
      WHERE ${committed(snapshot)}
      GROUP BY kind, name, path`,
  );
  return rows.map((r) => {
    const g = gone.get(JSON.stringify([r.k, r.n, r.p])) ?? { count: 0, types: [], examples: [] };
    const count = Math.max(Number(r.c) - g.count, 0);
    return {
      workspace_id: ws,
      kind: String(r.k),
      name: String(r.n),
      path: String(r.p),
      count,
      types: (r.t as unknown[]).map((x, i) => Math.max(Number(x) - (g.types[i] ?? 0), 0)),
      first_ms: Number(r.f),
      last_ms: Number(r.l),
      examples:
        count > 0
          ? foldExamples(r.ex as Array<[unknown, unknown, unknown]>).filter((x) => !g.examples.includes(x))
          : [],
      seq: 0,
      job,
      snap: snapshot,
    };
  });
}

/** One row per day the deleted events fell on, recomputed from the events that remain (0 when none). */
async function daysLeft(
  ch: ClickHouse,
  ws: string,
  where: string,
  events: string,
  batch: DictionaryBatch,
  job: string,
  snapshot: readonly number[],
) {
  const left = new Map<string, { count: number; first_ms: number; last_ms: number }>();
  let lo = Number.POSITIVE_INFINITY;
  let hi = 0;
  for (const n of batch.names.values())
    for (const d of n.days.keys()) {
      left.set(JSON.stringify([n.kind, wf(n.name), d]), { count: 0, first_ms: 0, last_ms: 0 });
      [lo, hi] = [Math.min(lo, d), Math.max(hi, d)];
    }
  const rows = await ch.rows(
    `SELECT type AS k, ${NAME_SQL} AS n, toInt32(intDiv(received_at_ms, 86400000)) AS d, count() AS c,
            min(received_at_ms) AS f, max(received_at_ms) AS l
       FROM ${events}
      WHERE workspace_id = ${lit(ws)} AND received_at_ms >= ${lo * 86_400_000}
        AND received_at_ms < ${(hi + 1) * 86_400_000} AND NOT ifNull((${where}), 0)
      GROUP BY k, n, d`,
  );
  for (const r of rows) {
    const key = JSON.stringify([r.k, r.n, Number(r.d)]);
    if (left.has(key)) left.set(key, { count: Number(r.c), first_ms: Number(r.f), last_ms: Number(r.l) });
  }
  return [...left].map(([key, v]) => {
    const [kind, name, day] = JSON.parse(key) as [string, string, number];
    return { workspace_id: ws, kind, name, day, ...v, seq: 0, job, snap: snapshot };
  });
}
