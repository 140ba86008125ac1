// Compaction of the data dictionary on ClickHouse: each load appends a few rows per name (dictionary.ts), and
// reads add them up, so a key's rows grow with the loads. A compaction folds each key's live rows at or below
// the checkpoint S into one state row (seq S, job `!compact S`), then deletes the rows it outranks. Run by the
// loader between loads (its maintenance), and by the store between its own loads and deletions.
//
// Why it is exactly once at every point, for readers and through a crash:
// - A key's value is its latest state row plus the load rows above it (liveRows): the moment a folded row is
//   inserted, it outranks the rows it folded, whether or not they are deleted yet. Keys are independent, so an
//   insert cut half-way leaves each key either folded or not. The deletion of outranked rows changes nothing
//   readers see; what a cut leaves of it is deleted by the next compaction (gc() takes every outranked row).
// - Against deletions: a deletion's state row at seq s is the whole state at s (computed from the live rows),
//   so it may outrank a folded row at the same seq, whichever was written first; `!compact` sorts before every
//   job id, so at the same seq the deletion's row wins. S is read before the deletion jobs are: a deletion not
//   running then reads its checkpoint later (it marks itself running first, erasure.ts), at or above S, so its
//   rows outrank the folded ones. While a deletion runs (its rows come from rows it read earlier, at a
//   checkpoint that may be below S) nothing is compacted; a deletion left running by a process that died holds
//   compaction off until it is run again.
// - Loads write above the checkpoint (one loader per store), so nothing at or below S changes under it.
import { DICTIONARY_KEYS, type DictionaryTable, foldExamples, liveRows } from './dictionary.ts';
import { readDocs } from './docs.ts';
import { type ClickHouse, lit } from './http.ts';
import { checkpoint, mutationsDone } from './load.ts';

export interface CompactionResult {
  /** The seq folded through, the rows folded and the rows written, per table; null when it did not run. */
  seq: number;
  days: { folded: number; written: number };
  paths: { folded: number; written: number };
  /** Outranked rows deleted (this run's and what an earlier cut left). */
  deleted: number;
}

/** Largest statement text of a deletion (ClickHouse caps a query's text at 256 KiB). */
const MAX_SQL = 200_000;

/** Folds every key with two or more live rows at or below the checkpoint; null when it may not run now. */
export async function compactDictionary(ch: ClickHouse): Promise<CompactionResult | null> {
  const upTo = await checkpoint(ch);
  if (upTo < 1) return null;
  // After the checkpoint was read (see above).
  const jobs = await readDocs<{ status: string }>(ch, 'deletion');
  if (jobs.some((j) => j.value.status === 'running')) return null;
  const job = `!compact ${upTo}`;
  const days = await foldDays(ch, upTo, job);
  const paths = await foldPaths(ch, upTo, job);
  const deleted = (await gc(ch, 'dictionary_days')) + (await gc(ch, 'dictionary_paths'));
  return { seq: upTo, days, paths, deleted };
}

async function foldDays(ch: ClickHouse, upTo: number, job: string) {
  const rows = await ch.rows(
    `SELECT workspace_id AS w, kind AS k, name AS n, day AS d, sum(count) AS c, minIf(first_ms, count > 0) AS f,
            maxIf(last_ms, count > 0) AS l, count() AS r
       FROM ${liveRows('dictionary_days', '1')} WHERE seq <= ${upTo}
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
      seq: upTo,
      job,
    })),
  );
  return { folded: rows.reduce((s, r) => s + Number(r.r), 0), written: rows.length };
}

async function foldPaths(ch: ClickHouse, upTo: number, job: string) {
  const rows = await ch.rows(
    `SELECT workspace_id AS w, kind AS k, name AS n, path AS p, sum(count) AS c, sumForEach(types) AS t,
            minIf(first_ms, count > 0) AS f, maxIf(last_ms, count > 0) AS l, groupArray((seq, job, examples)) AS ex,
            count() AS r
       FROM ${liveRows('dictionary_paths', '1')} WHERE seq <= ${upTo}
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
        seq: upTo,
        job,
      };
    }),
  );
  return { folded: rows.reduce((s, r) => s + Number(r.r), 0), written: rows.length };
}

/**
 * Deletes the rows outranked by their key's latest state row (a compaction's or a deletion's): they count for
 * no reader. One mutation per slice of keys, each waited for; returns how many rows were outranked.
 */
async function gc(ch: ClickHouse, table: DictionaryTable): Promise<number> {
  const key = `workspace_id, ${DICTIONARY_KEYS[table]}`;
  const dead = await ch.rows(
    `SELECT ${key}, st, count() AS r
       FROM (SELECT ${key}, seq, job, st FROM ${table}
              ANY LEFT JOIN (SELECT ${key}, maxIf((seq, job), job != '') AS st FROM ${table} GROUP BY ${key})
              USING (${key})
             WHERE job != '' AND (seq, job) < st OR job = '' AND seq <= tupleElement(st, 1) AND tupleElement(st, 2) != '')
      GROUP BY ${key}, st`,
  );
  if (dead.length === 0) return 0;
  // Keys by the state row that outranks their dead rows (a compaction's keys share one).
  const byState = new Map<string, string[]>();
  const last = table === 'dictionary_days' ? 'day' : 'path';
  for (const r of dead) {
    const st = JSON.stringify(r.st);
    const list = byState.get(st) ?? [];
    list.push(
      `(${lit(String(r.workspace_id))}, ${lit(String(r.kind))}, ${lit(String(r.name))}, ${lit(r[last] as string | number)})`,
    );
    byState.set(st, list);
  }
  for (const [st, keys] of byState) {
    const [s, j] = JSON.parse(st) as [number, string];
    for (let i = 0; i < keys.length; ) {
      const slice: string[] = [];
      for (let size = 0; i < keys.length && size < MAX_SQL; i++) {
        slice.push(keys[i] as string);
        size += (keys[i] as string).length + 2;
      }
      await ch.exec(
        `ALTER TABLE ${table} DELETE WHERE (seq, job) < (${Number(s)}, ${lit(j)}) AND (${key}) IN (${slice.join(', ')})`,
      );
    }
  }
  await mutationsDone(ch, table);
  return dead.reduce((s, r) => s + Number(r.r), 0);
}
