// Reading the data dictionary (dictionary.ts keeps it) and summing up the tracking plan's violations. The
// violations are read from the events themselves (`context.violationErrors`) and from the refused items, over a
// time range: a deletion takes them away with the rows, and nothing is kept twice. Filtering on received_at
// lets DuckDB skip whole row groups (rows are appended in the order they are received).
import { type DuckDBValue, listValue } from '@duckdb/node-api';
import { type DictionaryKind, dayOf, dayStart } from '../../pipeline/dictionary/observe.ts';
import {
  type DayCount,
  type NameDetail,
  type NameQuery,
  type NameSummary,
  type PathSummary,
  pathSummary,
  type TraitPage,
  type TraitQuery,
  type ViolationQuery,
  type ViolationSummary,
} from '../governance.ts';
import { type Db, date, type Row, strOrNull, ts } from './db.ts';
import { NAME_SQL } from './dictionary.ts';

const ORDER: Record<NameQuery['orderBy'], string> = {
  name: 'kind, name',
  count: 'count DESC, kind, name',
  lastSeen: 'last_seen DESC, kind, name',
};

const dayText = (v: unknown): string => date(v).toISOString().slice(0, 10);
const toPath = (r: Row, total: number): PathSummary =>
  pathSummary(
    {
      path: String(r.path),
      count: Number(r.count),
      types: (r.types as unknown[]).map(Number),
      examples: r.examples as string[],
      firstSeen: date(r.first_seen),
      lastSeen: date(r.last_seen),
    },
    total,
  );

async function volume(
  db: Db,
  ws: string,
  names: Array<{ kind: string; name: string }>,
  from: Date,
): Promise<Map<string, DayCount[]>> {
  const out = new Map<string, DayCount[]>();
  if (names.length === 0) return out;
  const rows = await db.all(
    `SELECT kind, name, day, count FROM dictionary_days
      WHERE workspace_id = ? AND day >= ? AND list_contains(?::VARCHAR[], kind || chr(0) || name)
      ORDER BY day`,
    [ws, ts(dayStart(dayOf(from.getTime()))), listValue(names.map((n) => `${n.kind}\u0000${n.name}`))],
  );
  for (const r of rows) {
    const key = `${String(r.kind)}\u0000${String(r.name)}`;
    const days = out.get(key) ?? [];
    days.push({ day: dayText(r.day), count: Number(r.count) });
    out.set(key, days);
  }
  return out;
}

export async function listNames(
  db: Db,
  ws: string,
  q: NameQuery,
): Promise<{ results: NameSummary[]; total: number }> {
  const where = ['workspace_id = ?', "kind IN ('track', 'page', 'screen')"];
  const params: DuckDBValue[] = [ws];
  if (q.kind) {
    where.push('kind = ?');
    params.push(q.kind);
  }
  if (q.search) {
    where.push('contains(lower(name), lower(?))');
    params.push(q.search);
  }
  const having = q.seenSince ? 'HAVING max(last_seen) >= ?' : '';
  if (q.seenSince) params.push(ts(q.seenSince));
  const rows = await db.all(
    `SELECT kind, name, sum(count)::BIGINT AS count, min(first_seen) AS first_seen, max(last_seen) AS last_seen,
            count(*) OVER () AS total
       FROM dictionary_days WHERE ${where.join(' AND ')} GROUP BY kind, name ${having}
      ORDER BY ${ORDER[q.orderBy]} LIMIT ? OFFSET ?`,
    [...params, q.limit, q.offset],
  );
  const names = rows.map((r) => ({ kind: String(r.kind), name: String(r.name) }));
  const vol = await volume(db, ws, names, q.volumeFrom);
  const total = rows.length > 0 ? Number(rows[0]?.total) : await countNames(db, where, params, having);
  return {
    total,
    results: rows.map((r) => ({
      kind: String(r.kind) as DictionaryKind,
      name: String(r.name),
      count: Number(r.count),
      firstSeen: date(r.first_seen),
      lastSeen: date(r.last_seen),
      volume: vol.get(`${String(r.kind)}\u0000${String(r.name)}`) ?? [],
    })),
  };
}

/** A page past the end still tells the total. */
async function countNames(db: Db, where: string[], params: DuckDBValue[], having: string): Promise<number> {
  const rows = await db.all(
    `SELECT count(*) AS n FROM (SELECT 1 FROM dictionary_days WHERE ${where.join(' AND ')}
       GROUP BY kind, name ${having})`,
    params,
  );
  return Number(rows[0]?.n ?? 0);
}

async function paths(db: Db, ws: string, kind: string, name: string, extra = '', params: DuckDBValue[] = []) {
  return db.all(
    `SELECT path, count, types, examples, first_seen, last_seen FROM dictionary_paths
      WHERE workspace_id = ? AND kind = ? AND name = ? ${extra} ORDER BY path`,
    [ws, kind, name, ...params],
  );
}

async function totals(db: Db, ws: string, since?: Date) {
  const rows = await db.all(
    `SELECT kind, name, sum(count)::BIGINT AS count, min(first_seen) AS first_seen, max(last_seen) AS last_seen
       FROM dictionary_days WHERE workspace_id = ? GROUP BY kind, name
     ${since ? 'HAVING max(last_seen) >= ?' : ''} ORDER BY kind, name`,
    since ? [ws, ts(since)] : [ws],
  );
  return rows;
}

export async function getName(
  db: Db,
  ws: string,
  kind: DictionaryKind,
  name: string,
  volumeFrom: Date,
): Promise<NameDetail | null> {
  const rows = await db.all(
    `SELECT sum(count)::BIGINT AS count, min(first_seen) AS first_seen, max(last_seen) AS last_seen
       FROM dictionary_days WHERE workspace_id = ? AND kind = ? AND name = ? HAVING count(*) > 0`,
    [ws, kind, name],
  );
  const r = rows[0];
  if (!r) return null;
  const count = Number(r.count);
  const vol = await volume(db, ws, [{ kind, name }], volumeFrom);
  return {
    kind,
    name,
    count,
    firstSeen: date(r.first_seen),
    lastSeen: date(r.last_seen),
    volume: vol.get(`${kind}\u0000${name}`) ?? [],
    properties: (await paths(db, ws, kind, name)).map((p) => toPath(p, count)),
  };
}

export async function listTraits(db: Db, ws: string, q: TraitQuery): Promise<TraitPage> {
  const calls = await db.all(
    `SELECT coalesce(sum(count), 0)::BIGINT AS n FROM dictionary_days WHERE workspace_id = ? AND kind = ?`,
    [ws, q.kind],
  );
  const n = Number(calls[0]?.n ?? 0);
  const search = q.search ? 'AND contains(lower(path), lower(?))' : '';
  const params: DuckDBValue[] = [ws, q.kind, ...(q.search ? [q.search] : [])];
  const rows = await db.all(
    `SELECT path, count, types, examples, first_seen, last_seen, count(*) OVER () AS total FROM dictionary_paths
      WHERE workspace_id = ? AND kind = ? AND name = '' ${search} ORDER BY path LIMIT ? OFFSET ?`,
    [...params, q.limit, q.offset],
  );
  let total = rows.length > 0 ? Number(rows[0]?.total) : 0;
  if (rows.length === 0 && q.offset > 0) {
    const c = await db.all(
      `SELECT count(*) AS n FROM dictionary_paths WHERE workspace_id = ? AND kind = ? AND name = '' ${search}`,
      params,
    );
    total = Number(c[0]?.n ?? 0);
  }
  return { calls: n, total, results: rows.map((r) => toPath(r, n)) };
}

export async function seenSince(db: Db, ws: string, since: Date): Promise<NameDetail[]> {
  const names = await totals(db, ws, since);
  const rows = await db.all(
    `SELECT kind, name, path, count, types, examples, first_seen, last_seen FROM dictionary_paths
      WHERE workspace_id = ? AND last_seen >= ? ORDER BY kind, name, path`,
    [ws, ts(since)],
  );
  const byName = new Map<string, Row[]>();
  for (const r of rows) {
    const key = `${String(r.kind)}\u0000${String(r.name)}`;
    byName.set(key, [...(byName.get(key) ?? []), r]);
  }
  return names.map((n) => {
    const count = Number(n.count);
    return {
      kind: String(n.kind) as DictionaryKind,
      name: String(n.name),
      count,
      firstSeen: date(n.first_seen),
      lastSeen: date(n.last_seen),
      volume: [],
      properties: (byName.get(`${String(n.kind)}\u0000${String(n.name)}`) ?? []).map((p) => toPath(p, count)),
    };
  });
}

const PARSED = "CASE WHEN json_valid(payload) THEN payload ELSE '{}' END";
const ITEM_NAME = `CASE json_extract_string(${PARSED}, '$.type') WHEN 'track' THEN coalesce(json_extract_string(${PARSED}, '$.event'), '')
  WHEN 'page' THEN coalesce(json_extract_string(${PARSED}, '$.name'), '')
  WHEN 'screen' THEN coalesce(json_extract_string(${PARSED}, '$.name'), '') ELSE '' END`;

export async function violations(
  db: Db,
  ws: string,
  q: ViolationQuery,
): Promise<{ results: ViolationSummary[]; total: number }> {
  const end = q.endDate ?? new Date('9999-12-31T00:00:00Z');
  const filters: string[] = [];
  const params: DuckDBValue[] = [];
  for (const [col, v] of [
    ['type', q.type],
    ['event', q.event],
    ['kind', q.kind],
  ] as const) {
    if (v !== undefined) {
      filters.push(`${col} = ?`);
      params.push(v);
    }
  }
  const rows = await db.all(
    `WITH v AS (
       SELECT id, type, ${NAME_SQL} AS event, received_at, false AS r,
              unnest(list_distinct(json_extract_string(context, '$.violationErrors[*].kind'))) AS kind
         FROM events
        WHERE workspace_id = ? AND received_at >= ? AND received_at <= ?
          AND contains(context, '"violationErrors"') AND json_exists(context, '$.violationErrors')
       UNION ALL
       SELECT id, coalesce(json_extract_string(${PARSED}, '$.type'), '') AS type, ${ITEM_NAME} AS event, received_at,
              true AS r, unnest(list_distinct(json_extract_string(violations, '$[*].kind'))) AS kind
         FROM rejected
        WHERE workspace_id = ? AND received_at >= ? AND received_at <= ? AND violations IS NOT NULL
     ), d AS (
       SELECT type, event, kind, received_at::DATE AS day, count(*) FILTER (WHERE NOT r) AS f,
              count(*) FILTER (WHERE r) AS j, min(received_at) AS lo, max(received_at) AS hi,
              max(id) FILTER (WHERE NOT r) AS se, max(id) FILTER (WHERE r) AS sr
         FROM v ${filters.length > 0 ? `WHERE ${filters.join(' AND ')}` : ''} GROUP BY ALL
     )
     SELECT type, event, kind, sum(f)::BIGINT AS flagged, sum(j)::BIGINT AS rejected, min(lo) AS first_seen,
            max(hi) AS last_seen, max(se) AS sample_event, max(sr) AS sample_rejected,
            list({'day': strftime(day, '%Y-%m-%d'), 'flagged': f, 'rejected': j} ORDER BY day) AS days,
       FROM d GROUP BY type, event, kind
      ORDER BY flagged + rejected DESC, type, event, kind`,
    [ws, ts(q.startDate), ts(end), ws, ts(q.startDate), ts(end), ...params],
  );
  // A row per (type, name, kind): few enough to page here, which keeps the total exact past the last page.
  return {
    total: rows.length,
    results: rows.slice(q.offset, q.offset + q.limit).map((r) => ({
      type: String(r.type),
      event: String(r.event),
      kind: String(r.kind),
      flagged: Number(r.flagged),
      rejected: Number(r.rejected),
      firstSeen: date(r.first_seen),
      lastSeen: date(r.last_seen),
      sampleEventId: strOrNull(r.sample_event),
      sampleRejectedId: strOrNull(r.sample_rejected),
      days: (r.days as Array<Record<string, unknown>>).map((d) => ({
        day: String(d.day),
        flagged: Number(d.flagged),
        rejected: Number(d.rejected),
      })),
    })),
  };
}
