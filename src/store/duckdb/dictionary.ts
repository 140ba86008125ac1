// The data dictionary in DuckDB: two small tables merged from each loaded batch's summary (pipeline/dictionary)
// in the load transaction, so a name or path is in the dictionary exactly when its events are stored.
//   dictionary_days:  per (workspace, kind, name, day): events, first and last seen. Volume per day, and the
//                     totals a share divides by.
//   dictionary_paths: per (workspace, kind, name, path): events holding it, by JSON type (JSON_TYPES order),
//                     first and last seen, up to 3 example values.
// After a user's deletion (deletions.ts calls forgetEvents in its transaction): the day rows the deleted events
// fell on are recomputed from the events that remain (so a name whose only events were deleted is gone); the
// deleted events are walked as at load and their counts subtracted from the path rows (a path left with no
// event is gone), and every example equal to a value they held at that path is removed. First and last seen
// of a path that remains are kept as they were (at most wider than its remaining events).

import { type DuckDBPreparedStatement, type DuckDBValue, listValue } from '@duckdb/node-api';
import { REJECTED_FIELD } from '../../core/columns.ts';
import { DictionaryBatch, dayStart } from '../../pipeline/dictionary/observe.ts';
import { type Db, StoreError, ts } from './db.ts';

/** Distinct paths kept per name (about: one batch may add up to LIMITS.pathsPerName beyond it). */
export const MAX_PATHS_PER_NAME = 1000;

export const DICTIONARY_MIGRATIONS = [
  `CREATE TABLE IF NOT EXISTS dictionary_days (workspace_id VARCHAR NOT NULL, kind VARCHAR NOT NULL,
     name VARCHAR NOT NULL, day DATE NOT NULL, count BIGINT NOT NULL, first_seen TIMESTAMP NOT NULL,
     last_seen TIMESTAMP NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS dictionary_paths (workspace_id VARCHAR NOT NULL, kind VARCHAR NOT NULL,
     name VARCHAR NOT NULL, path VARCHAR NOT NULL, count BIGINT NOT NULL, types BIGINT[] NOT NULL,
     first_seen TIMESTAMP NOT NULL, last_seen TIMESTAMP NOT NULL, examples VARCHAR[] NOT NULL)`,
];

/** The dictionary's kind and name of an events row, in SQL (as pipeline/dictionary/observe.ts kindOf does). */
export const NAME_SQL = `CASE type WHEN 'track' THEN coalesce(event, '') WHEN 'page' THEN coalesce(name, '')
  WHEN 'screen' THEN coalesce(name, '') ELSE '' END`;

const KEY = 'd.workspace_id = s.workspace_id AND d.kind = s.kind AND d.name = s.name';
const list = (xs: DuckDBValue[]) => listValue(xs);

/**
 * A summary goes to DuckDB through two temporary tables of the connection, filled with an appender, then
 * merged: binding the same rows as parameter lists took ~1.4 s for 8,000 paths (nested lists convert slowly),
 * the appender ~15-25 ms.
 */
const INPUTS = [
  `CREATE TEMP TABLE IF NOT EXISTS dictionary_in_days (workspace_id VARCHAR, kind VARCHAR, name VARCHAR,
     day INTEGER, count BIGINT, first_seen BIGINT, last_seen BIGINT)`,
  `CREATE TEMP TABLE IF NOT EXISTS dictionary_in_paths (workspace_id VARCHAR, kind VARCHAR, name VARCHAR,
     path VARCHAR, count BIGINT, types VARCHAR, first_seen BIGINT, last_seen BIGINT, examples VARCHAR)`,
];

/** Connections whose input tables exist (a connection reopened after a purge makes them again). */
const staged = new WeakSet<object>();

/**
 * The statements every load runs, prepared once per connection: planning took most of a MERGE's time (on a
 * busy machine, 6.4 ms a MERGE of 64 paths each time, 2.2 ms prepared).
 */
const prepared = new WeakMap<object, Map<string, DuckDBPreparedStatement>>();
async function run(db: Db, sql: string): Promise<void> {
  let mine = prepared.get(db.conn);
  if (!mine) {
    mine = new Map();
    prepared.set(db.conn, mine);
  }
  try {
    let p = mine.get(sql);
    if (!p) {
      p = await db.conn.prepare(sql);
      mine.set(sql, p);
    }
    await p.run();
  } catch (cause) {
    throw new StoreError(`duckdb: ${(cause as Error).message}`, sql, { cause });
  }
}

/** The input tables, holding `batch` (their earlier rows removed). */
async function stage(db: Db, batch: DictionaryBatch): Promise<{ paths: number }> {
  if (!staged.has(db.conn)) {
    for (const sql of INPUTS) await db.run(sql);
    staged.add(db.conn);
  }
  await run(db, 'DELETE FROM dictionary_in_days');
  await run(db, 'DELETE FROM dictionary_in_paths');
  const days = await db.conn.createAppender('dictionary_in_days', 'main', 'temp');
  const paths = await db.conn.createAppender('dictionary_in_paths', 'main', 'temp');
  let n = 0;
  try {
    for (const name of batch.names.values()) {
      for (const d of name.days.values()) {
        days.appendVarchar(name.workspaceId);
        days.appendVarchar(name.kind);
        days.appendVarchar(name.name);
        days.appendInteger(d.day);
        days.appendBigInt(BigInt(d.count));
        days.appendBigInt(BigInt(d.first));
        days.appendBigInt(BigInt(d.last));
        days.endRow();
      }
      for (const p of name.paths.values()) {
        paths.appendVarchar(name.workspaceId);
        paths.appendVarchar(name.kind);
        paths.appendVarchar(name.name);
        paths.appendVarchar(p.path);
        paths.appendBigInt(BigInt(p.count));
        paths.appendVarchar(JSON.stringify(p.types));
        paths.appendBigInt(BigInt(p.first));
        paths.appendBigInt(BigInt(p.last));
        paths.appendVarchar(JSON.stringify(p.examples));
        paths.endRow();
        n++;
      }
    }
    days.flushSync();
    paths.flushSync();
  } finally {
    days.closeSync();
    paths.closeSync();
  }
  return { paths: n };
}

/**
 * The staged paths, typed; `capped` when their name already has MAX_PATHS_PER_NAME paths. The capped names are
 * found by one aggregate of the dictionary's paths kept only past the cap (usually none): counting only the
 * batch's names through a semi join with the input took a third more of the load's MERGE (10k-event segments,
 * alternated load by load: 0.79 -> 0.55 µs of CPU per event; without any cap check 0.31).
 */
const STAGED_PATHS = `(SELECT s.workspace_id, s.kind, s.name, s.path, s.count, s.types::BIGINT[] AS types,
    epoch_ms(s.first_seen) AS first_seen, epoch_ms(s.last_seen) AS last_seen,
    s.examples::JSON::VARCHAR[] AS examples, c.name IS NOT NULL AS capped
  FROM temp.dictionary_in_paths AS s
  LEFT JOIN (SELECT workspace_id, kind, name FROM dictionary_paths GROUP BY ALL
             HAVING count(*) >= ${MAX_PATHS_PER_NAME}) AS c
    USING (workspace_id, kind, name)) AS s`;

/** The summary of a log file's event rows (core/columns.ts: column names, epoch ms, JSON columns as values). */
export function observeFile(text: string): DictionaryBatch {
  const batch = new DictionaryBatch();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const row = JSON.parse(line) as Record<string, unknown>;
    if (row[REJECTED_FIELD] !== undefined && row[REJECTED_FIELD] !== null) continue;
    batch.add({
      workspaceId: String(row.workspace_id),
      type: String(row.type),
      event: (row.event ?? null) as string | null,
      name: (row.name ?? null) as string | null,
      receivedAt: new Date(Number(row.received_at)),
      properties: (row.properties ?? {}) as Record<string, unknown>,
      traits: (row.traits ?? {}) as Record<string, unknown>,
    });
  }
  return batch;
}

/** Adds a loaded batch's summary to the dictionary; runs inside the load's transaction. */
export async function mergeDictionary(db: Db, batch: DictionaryBatch): Promise<void> {
  if (batch.names.size === 0) return;
  const input = await stage(db, batch);
  await run(
    db,
    `MERGE INTO dictionary_days AS d
     USING (SELECT workspace_id, kind, name, DATE '1970-01-01' + day AS day, count, epoch_ms(first_seen) AS first_seen,
              epoch_ms(last_seen) AS last_seen FROM temp.dictionary_in_days) AS s
     ON ${KEY} AND d.day = s.day
     WHEN MATCHED THEN UPDATE SET count = d.count + s.count, first_seen = least(d.first_seen, s.first_seen),
       last_seen = greatest(d.last_seen, s.last_seen)
     WHEN NOT MATCHED THEN INSERT VALUES (s.workspace_id, s.kind, s.name, s.day, s.count, s.first_seen, s.last_seen)`,
  );
  if (input.paths === 0) return;
  // Names already at the cap take no new path (their known paths still count).
  await run(
    db,
    `MERGE INTO dictionary_paths AS d USING ${STAGED_PATHS}
     ON ${KEY} AND d.path = s.path
     WHEN MATCHED THEN UPDATE SET count = d.count + s.count,
       types = list_transform(list_zip(d.types, s.types), x -> x[1] + x[2]),
       first_seen = least(d.first_seen, s.first_seen), last_seen = greatest(d.last_seen, s.last_seen),
       examples = CASE WHEN len(d.examples) >= 3 THEN d.examples
         ELSE list_slice(list_concat(d.examples, list_filter(s.examples, x -> NOT list_contains(d.examples, x))), 1, 3) END
     WHEN NOT MATCHED AND NOT s.capped THEN INSERT VALUES (s.workspace_id, s.kind, s.name, s.path, s.count, s.types,
       s.first_seen, s.last_seen, s.examples)`,
  );
}

/** A deletion's walk: every path, and up to this many values a path (to take out of its examples). */
const DELETED = {
  examples: 10_000,
  pathsPerName: Number.POSITIVE_INFINITY,
  pathsPerBatch: Number.POSITIVE_INFINITY,
};

/**
 * Takes the events matching `where` (with `params`; they are about to be deleted, in the same transaction) out
 * of the dictionary of workspace `ws` (the rule is at the top of this file).
 */
export async function forgetEvents(db: Db, ws: string, where: string, params: DuckDBValue[]): Promise<void> {
  const batch = new DictionaryBatch(DELETED);
  await db.each(
    `SELECT type, event, name, epoch_ms(received_at) AS at, properties::VARCHAR AS p, traits::VARCHAR AS t
       FROM events WHERE (${where}) AND type IN ('track', 'page', 'screen', 'identify', 'group')`,
    params,
    (chunk) => {
      const [type, event, name, at, p, t] = [0, 1, 2, 3, 4, 5].map((i) => chunk.getColumnValues(i));
      for (let i = 0; i < chunk.rowCount; i++) {
        batch.add({
          workspaceId: ws,
          type: String(type?.[i]),
          event: (event?.[i] ?? null) as string | null,
          name: (name?.[i] ?? null) as string | null,
          receivedAt: new Date(Number(at?.[i])),
          properties: JSON.parse(String(p?.[i])) as Record<string, unknown>,
          traits: JSON.parse(String(t?.[i])) as Record<string, unknown>,
        });
      }
    },
  );
  if (batch.names.size === 0) return;
  if ((await stage(db, batch)).paths > 0) {
    await db.run(
      `MERGE INTO dictionary_paths AS d USING ${STAGED_PATHS}
       ON ${KEY} AND d.path = s.path
       WHEN MATCHED THEN UPDATE SET count = d.count - s.count,
         types = list_transform(list_zip(d.types, s.types), x -> greatest(x[1] - x[2], 0)),
         examples = list_filter(d.examples, x -> NOT list_contains(s.examples, x))`,
    );
    await db.run('DELETE FROM dictionary_paths WHERE workspace_id = ? AND count <= 0', [ws]);
  }
  // The touched days, recomputed from the events that remain (the range bounds the scan).
  const touched: string[] = [];
  let lo = Number.POSITIVE_INFINITY;
  let hi = 0;
  for (const n of batch.names.values()) {
    for (const d of n.days.keys()) {
      touched.push(`${n.kind}\u0000${n.name}\u0000${dayStart(d).toISOString().slice(0, 10)}`);
      [lo, hi] = [Math.min(lo, d), Math.max(hi, d)];
    }
  }
  const key = (kind: string, name: string, day: string) =>
    `list_contains(?::VARCHAR[], ${kind} || chr(0) || ${name} || chr(0) || strftime(${day}, '%Y-%m-%d'))`;
  await db.run(`DELETE FROM dictionary_days WHERE workspace_id = ? AND ${key('kind', 'name', 'day')}`, [
    ws,
    list(touched),
  ]);
  await db.run(
    `INSERT INTO dictionary_days
     SELECT workspace_id, kind, name, day, count(*), min(received_at), max(received_at)
       FROM (SELECT workspace_id, type AS kind, ${NAME_SQL} AS name, received_at::DATE AS day, received_at
               FROM events
              WHERE workspace_id = ? AND received_at >= ? AND received_at < ? AND (${where}) IS NOT TRUE)
      WHERE ${key('kind', 'name', 'day')}
      GROUP BY ALL`,
    [ws, ts(dayStart(lo)), ts(dayStart(hi + 1)), ...params, list(touched)],
  );
}
