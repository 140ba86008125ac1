// Compaction of the data dictionary on ClickHouse: each load appends a few rows per name (dictionary.ts), and
// reads add them up, so a key's rows grow with the loads. A compaction reads the checkpoints S (every lane's),
// folds each key's live rows committed at S into one state row (seq 0, snap S, job `!compact <sum> <nonce>`),
// then deletes every row outranked by its key's latest state row (gc). Run by each loader between its loads (its
// maintenance), and by the store between its own loads and deletions.
//
// Why it is exactly once at every point, for readers and through a crash (the rule: dictionary.ts liveRows):
// - The moment a folded row is inserted it is its key's latest state row (S is at or above every snap written
//   before it was read: checkpoints only grow) and outranks the rows it folded, deleted or not. Load rows not
//   committed at S (a load in flight in any lane, or one committed after S was read) stay live beside it. Keys
//   are independent, so an insert cut half-way leaves each key either folded or not. gc changes nothing readers
//   see (an outranked row stays outranked: ranks only grow), and what a cut leaves of it the next run deletes.
// - Two compactions at once (each loader runs one): each folds a key's live rows at its own S; the later (by
//   (sum of S, nonce)) outranks the other, and both rows hold the key's value at their snapshot. The nonce keeps
//   two rows at the same S from both being latest.
// - Against deletions: S is read before the deletion jobs are, and none may be running: a deletion that was not
//   running then marks itself running before it reads its snapshot D (erasure.ts), so D >= S and its rows
//   outrank the folded ones (at D = S too: '!' sorts before every job id). A deletion left running by a process
//   that died holds compaction off until it is run again.
import { randomUUID } from 'node:crypto';
import { LANE_SPAN } from '../lanes.ts';
import { DICTIONARY_KEYS, type DictionaryTable, foldExamples, liveRows, outranked } from './dictionary.ts';
import { readDocs } from './docs.ts';
import { type ClickHouse, lit } from './http.ts';
import { checkpoints, mutationsDone } from './load.ts';
import { committed } from './schema.ts';

export interface CompactionResult {
  /** The checkpoints folded at; the rows folded and the rows written, per table. */
  snap: number[];
  days: { folded: number; written: number };
  paths: { folded: number; written: number };
  /** Outranked rows deleted (this run's and what an earlier cut or a deletion's cut left). */
  deleted: number;
}

/** Largest statement text of a deletion (ClickHouse caps a query's text at 256 KiB). */
const MAX_SQL = 200_000;

/** Folds every key with two or more live rows committed at the checkpoints; null when it may not run now. */
export async function compactDictionary(ch: ClickHouse): Promise<CompactionResult | null> {
  const snap = await checkpoints(ch);
  if (snap.every((cp, lane) => cp <= lane * LANE_SPAN)) return null; // nothing loaded yet
  // After the checkpoints were read (see above).
  const jobs = await readDocs<{ status: string }>(ch, 'deletion');
  if (jobs.some((j) => j.value.status === 'running')) return null;
  const job = `!compact ${snap.reduce((a, b) => a + b, 0)} ${randomUUID()}`;
  const days = await foldDays(ch, snap, job);
  const paths = await foldPaths(ch, snap, job);
  const deleted = (await gc(ch, 'dictionary_days')) + (await gc(ch, 'dictionary_paths'));
  return { snap, days, paths, deleted };
}

async function foldDays(ch: ClickHouse, snap: number[], job: string) {
  const rows = await ch.rows(
    `SELECT workspace_id AS w, kind AS k, name AS n, day AS d, sum(count) AS c, minIf(first_ms, count > 0) AS f,
            maxIf(last_ms, count > 0) AS l, count() AS r
       FROM ${liveRows('dictionary_days', '1')} WHERE ${committed(snap)}
      GROUP BY w, k, n, d HAVING r > 1`,
  );
  await ch.insert(
    'dictionary_days',
    rows.map((r) => ({
      workspace_id: String(r.w),
      kind: String(r.k),
      name: String(r.n),
      day: Number(r.d),
      count: Number(r.c),
      first_ms: Number(r.f),
      last_ms: Number(r.l),
      seq: 0,
      job,
      snap,
    })),
  );
  return { folded: rows.reduce((s, r) => s + Number(r.r), 0), written: rows.length };
}

async function foldPaths(ch: ClickHouse, snap: number[], job: string) {
  const rows = await ch.rows(
    `SELECT workspace_id AS w, kind AS k, name AS n, path AS p, sum(count) AS c, sumForEach(types) AS t,
            minIf(first_ms, count > 0) AS f, maxIf(last_ms, count > 0) AS l, groupArray((seq, job, examples)) AS ex,
            count() AS r
       FROM ${liveRows('dictionary_paths', '1')} WHERE ${committed(snap)}
      GROUP BY w, k, n, p HAVING r > 1`,
  );
  await ch.insert(
    'dictionary_paths',
    rows.map((r) => {
      const count = Number(r.c);
      return {
        workspace_id: String(r.w),
        kind: String(r.k),
        name: String(r.n),
        path: String(r.p),
        count,
        types: (r.t as unknown[]).map(Number),
        first_ms: Number(r.f),
        last_ms: Number(r.l),
        examples: count > 0 ? foldExamples(r.ex as Array<[unknown, unknown, unknown]>) : [],
        seq: 0,
        job,
        snap,
      };
    }),
  );
  return { folded: rows.reduce((s, r) => s + Number(r.r), 0), written: rows.length };
}

/**
 * Deletes the rows outranked by their key's latest state row (a compaction's or a deletion's): they count for
 * no reader. One mutation per state row's slice of keys, waited for; returns how many rows were outranked.
 */
async function gc(ch: ClickHouse, table: DictionaryTable): Promise<number> {
  const key = `workspace_id, ${DICTIONARY_KEYS[table]}`;
  const dead = await ch.rows(
    `SELECT ${key}, tupleElement(st, 2) AS sj, ss, count() AS r
       FROM (SELECT ${key}, seq, job, snap, st, ss FROM ${table}
              ANY LEFT JOIN (SELECT ${key}, maxIf((arraySum(snap), job), job != '') AS st,
                                    argMaxIf(snap, (arraySum(snap), job), job != '') AS ss
                               FROM ${table} GROUP BY ${key}) USING (${key})
             WHERE tupleElement(st, 2) != ''
               AND (job = '' AND ${committed('ss')} OR job != '' AND (arraySum(snap), job) < st))
      GROUP BY ${key}, sj, ss`,
    { output_format_json_quote_64bit_integers: 0 },
  );
  if (dead.length === 0) return 0;
  // Keys by the state row that outranks their dead rows (a compaction's keys share one).
  const byState = new Map<string, string[]>();
  const last = table === 'dictionary_days' ? 'day' : 'path';
  for (const r of dead) {
    const st = JSON.stringify([r.ss, r.sj]);
    const list = byState.get(st) ?? [];
    list.push(
      `(${lit(String(r.workspace_id))}, ${lit(String(r.kind))}, ${lit(String(r.name))}, ${lit(r[last] as string | number)})`,
    );
    byState.set(st, list);
  }
  for (const [st, keys] of byState) {
    const [s, j] = JSON.parse(st) as [unknown[], string];
    for (let i = 0; i < keys.length; ) {
      const slice: string[] = [];
      for (let size = 0; i < keys.length && size < MAX_SQL; i++) {
        slice.push(keys[i] as string);
        size += (keys[i] as string).length + 2;
      }
      await ch.exec(
        `ALTER TABLE ${table} DELETE WHERE ${outranked(s.map(Number), j)} AND (${key}) IN (${slice.join(', ')})`,
      );
    }
  }
  await mutationsDone(ch, table);
  return dead.reduce((s, r) => s + Number(r.r), 0);
}
