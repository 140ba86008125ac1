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
import { type DuckDBValue, listValue } from '@duckdb/node-api';
import { DictionaryBatch, dayStart, type NameStat } from '../../pipeline/dictionary/observe.ts';
import { type Db, ts } from './db.ts';

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

interface Rows {
  names: NameStat[];
}

/** The batch's day rows as bound column lists. */
function dayLists({ names }: Rows): DuckDBValue[] {
  const ws: string[] = [];
  const kind: string[] = [];
  const name: string[] = [];
  const day: number[] = [];
  const count: bigint[] = [];
  const first: bigint[] = [];
  const last: bigint[] = [];
  for (const n of names) {
    for (const d of n.days.values()) {
      ws.push(n.workspaceId);
      kind.push(n.kind);
      name.push(n.name);
      day.push(d.day);
      count.push(BigInt(d.count));
      first.push(BigInt(d.first));
      last.push(BigInt(d.last));
    }
  }
  return [list(ws), list(kind), list(name), list(day), list(count), list(first), list(last)];
}

function pathLists({ names }: Rows, capped: Set<string>): DuckDBValue[] {
  const cols: DuckDBValue[][] = [[], [], [], [], [], [], [], [], [], []];
  for (const n of names) {
    const isCapped = capped.has(`${n.kind}\u0000${n.name}`);
    for (const p of n.paths.values()) {
      const row: DuckDBValue[] = [
        n.workspaceId,
        n.kind,
        n.name,
        p.path,
        BigInt(p.count),
        list(p.types.map((t) => BigInt(t))),
        BigInt(p.first),
        BigInt(p.last),
        list(p.examples),
        isCapped,
      ];
      for (const [i, v] of row.entries()) cols[i]?.push(v);
    }
  }
  return cols.map(list);
}

const SOURCE_PATHS = `(SELECT unnest(?::VARCHAR[]) AS workspace_id, unnest(?::VARCHAR[]) AS kind,
  unnest(?::VARCHAR[]) AS name, unnest(?::VARCHAR[]) AS path, unnest(?::BIGINT[]) AS count,
  unnest(?::BIGINT[][]) AS types, epoch_ms(unnest(?::BIGINT[])) AS first_seen,
  epoch_ms(unnest(?::BIGINT[])) AS last_seen, unnest(?::VARCHAR[][]) AS examples, unnest(?::BOOLEAN[]) AS capped) AS s`;

/** Adds a loaded batch's summary to the dictionary; runs inside the load's transaction. */
export async function mergeDictionary(db: Db, batch: DictionaryBatch): Promise<void> {
  if (batch.names.size === 0) return;
  const rows: Rows = { names: [...batch.names.values()] };
  await db.run(
    `MERGE INTO dictionary_days AS d USING (SELECT unnest(?::VARCHAR[]) AS workspace_id,
       unnest(?::VARCHAR[]) AS kind, unnest(?::VARCHAR[]) AS name, DATE '1970-01-01' + unnest(?::INTEGER[]) AS day,
       unnest(?::BIGINT[]) AS count, epoch_ms(unnest(?::BIGINT[])) AS first_seen,
       epoch_ms(unnest(?::BIGINT[])) AS last_seen) AS s
     ON ${KEY} AND d.day = s.day
     WHEN MATCHED THEN UPDATE SET count = d.count + s.count, first_seen = least(d.first_seen, s.first_seen),
       last_seen = greatest(d.last_seen, s.last_seen)
     WHEN NOT MATCHED THEN INSERT VALUES (s.workspace_id, s.kind, s.name, s.day, s.count, s.first_seen, s.last_seen)`,
    dayLists(rows),
  );
  if (!rows.names.some((n) => n.paths.size > 0)) return;
  // Names already at the cap take no new path (their known paths still count).
  const full = await db.all(
    `SELECT kind, name FROM dictionary_paths
      WHERE workspace_id = ? AND list_contains(?::VARCHAR[], kind || chr(0) || name)
      GROUP BY kind, name HAVING count(*) >= ?`,
    [
      rows.names[0]?.workspaceId ?? '',
      list(rows.names.map((n) => `${n.kind}\u0000${n.name}`)),
      MAX_PATHS_PER_NAME,
    ],
  );
  const capped = new Set(full.map((r) => `${String(r.kind)}\u0000${String(r.name)}`));
  // One workspace per batch is the common case; a batch of several checks the cap for the first only.
  await db.run(
    `MERGE INTO dictionary_paths AS d USING ${SOURCE_PATHS}
     ON ${KEY} AND d.path = s.path
     WHEN MATCHED THEN UPDATE SET count = d.count + s.count,
       types = list_transform(list_zip(d.types, s.types), x -> x[1] + x[2]),
       first_seen = least(d.first_seen, s.first_seen), last_seen = greatest(d.last_seen, s.last_seen),
       examples = CASE WHEN len(d.examples) >= 3 THEN d.examples
         ELSE list_slice(list_concat(d.examples, list_filter(s.examples, x -> NOT list_contains(d.examples, x))), 1, 3) END
     WHEN NOT MATCHED AND NOT s.capped THEN INSERT VALUES (s.workspace_id, s.kind, s.name, s.path, s.count, s.types,
       s.first_seen, s.last_seen, s.examples)`,
    pathLists(rows, capped),
  );
}

/** Example values a deletion collects per path, to take out of the dictionary's examples. */
const DELETED_VALUES = 10_000;

/**
 * Takes the events matching `where` (with `params`; they are about to be deleted, in the same transaction) out
 * of the dictionary of workspace `ws` (the rule is at the top of this file).
 */
export async function forgetEvents(db: Db, ws: string, where: string, params: DuckDBValue[]): Promise<void> {
  const batch = new DictionaryBatch(DELETED_VALUES);
  const result = await db.conn.stream(
    `SELECT type, event, name, epoch_ms(received_at) AS at, properties::VARCHAR AS p, traits::VARCHAR AS t
       FROM events WHERE (${where}) AND type IN ('track', 'page', 'screen', 'identify', 'group')`,
    params,
  );
  for (
    let chunk = await result.fetchChunk();
    chunk && chunk.rowCount > 0;
    chunk = await result.fetchChunk()
  ) {
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
  }
  if (batch.names.size === 0) return;
  const rows: Rows = { names: [...batch.names.values()] };
  if (rows.names.some((n) => n.paths.size > 0)) {
    await db.run(
      `MERGE INTO dictionary_paths AS d USING ${SOURCE_PATHS}
       ON ${KEY} AND d.path = s.path
       WHEN MATCHED THEN UPDATE SET count = d.count - s.count,
         types = list_transform(list_zip(d.types, s.types), x -> greatest(x[1] - x[2], 0)),
         examples = list_filter(d.examples, x -> NOT list_contains(s.examples, x))`,
      pathLists(rows, new Set()),
    );
    await db.run('DELETE FROM dictionary_paths WHERE workspace_id = ? AND count <= 0', [ws]);
  }
  // The touched days, recomputed from the events that remain (the range bounds the scan).
  const touched: string[] = [];
  let lo = Number.POSITIVE_INFINITY;
  let hi = 0;
  for (const n of rows.names) {
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
