// Event and rejection listings. Every value is a bound parameter; every identifier comes from a fixed map.
import { DuckDBTimestampValue, type DuckDBValue } from '@duckdb/node-api';
import type { ErrorCode } from '../../core/errors.ts';
import type { CanonicalEvent, Rejection } from '../../core/event.ts';
import {
  EQUALITY_FILTERS,
  type EventCursor,
  type EventPage,
  type EventQuery,
  ORDER_FIELDS,
  type Page,
  TIME_ORDER_FIELDS,
} from '../types.ts';
import { type Db, date, type Row, strOrNull, ts } from './db.ts';
import { EVENT_COLUMNS, rowToEvent } from './schema.ts';
import { userKeySql } from './user-key.ts';

/** A JSON path with each segment quoted; segments are checked by the caller to hold no quote. */
export const jsonPath = (path: string[]): string => `$.${path.map((p) => `"${p}"`).join('.')}`;

/** How JSON.stringify writes a number with a positive exponent (1e+21), and the same without its plus. */
const EXPONENT_PLUS = /^-?\d(\.\d+)?e\+\d+$/;
const EXPONENT_BARE = /^-?\d(\.\d+)?e\d+$/;

/**
 * The JSON-path filter (README, GET /events): the value at `path` in `column` matches `value` when it is a JSON
 * string equal to it, or a number or boolean whose JSON text, as JSON.stringify writes it, equals it; null,
 * objects, arrays and a missing path never match. `bind` adds a parameter and returns its placeholder.
 *
 * json_extract_string gives a string's value, a scalar's JSON text, NULL for null or a missing path, and an
 * object's or array's JSON text: the type check that rules those out costs a second parse, so it is added only
 * for a value starting with { or [, the only ones such a text can equal. DuckDB writes a number as
 * JSON.stringify does except for the plus of a positive exponent (1e21 for 1e+21), so the few values shaped
 * like such a number are compared with it in mind.
 */
export function jsonEquals(
  column: string,
  path: string[],
  value: string,
  bind: (v: DuckDBValue) => string,
): string {
  const at = jsonPath(path);
  const text = () => `json_extract_string(${column}, ${bind(at)})`;
  const type = () => `json_type(${column}, ${bind(at)})`;
  if (value.startsWith('{') || value.startsWith('[')) {
    return `(${text()} = ${bind(value)} AND ${type()} NOT IN ('OBJECT', 'ARRAY'))`;
  }
  if (EXPONENT_PLUS.test(value)) {
    return `(${text()} = ${bind(value)} OR (${text()} = ${bind(value.replace('e+', 'e'))} AND ${type()} = 'DOUBLE'))`;
  }
  // A number written 1e21 is 1e+21 in JSON.stringify's text: only a string can match.
  if (EXPONENT_BARE.test(value)) return `(${text()} = ${bind(value)} AND ${type()} = 'VARCHAR')`;
  return `${text()} = ${bind(value)}`;
}

type Bind = (v: DuckDBValue) => string;

function where(workspaceId: string, q: EventQuery, bind: Bind): string {
  const parts = [`workspace_id = ${bind(workspaceId)}`];
  // The user key first: an integer compare that leaves few rows for the text compare of user_id (user-key.ts).
  if (q.userId !== undefined)
    parts.push(`user_key = ${userKeySql(`${bind(workspaceId)}::VARCHAR`, `${bind(q.userId)}::VARCHAR`)}`);
  for (const field of EQUALITY_FILTERS) {
    const v = q[field];
    if (v !== undefined) parts.push(`${ORDER_FIELDS[field]} = ${bind(v)}`);
  }
  if (q.startDate) parts.push(`timestamp >= ${bind(ts(q.startDate))}`);
  if (q.endDate) parts.push(`timestamp <= ${bind(ts(q.endDate))}`);
  for (const f of q.json) parts.push(jsonEquals(f.column, f.path, f.value, bind));
  return parts.join(' AND ');
}

/** A statement's text with its parameters, built by appending both together. */
class Sql {
  readonly params: DuckDBValue[] = [];
  readonly bind: Bind = (v) => {
    this.params.push(v);
    return '?';
  };
}

const SELECT_EVENTS = EVENT_COLUMNS.map((c) =>
  c.sql.startsWith('JSON') ? `${c.name}::VARCHAR AS ${c.name}` : c.name,
).join(', ');

/**
 * How an order reads and compares: its column, the expression of its cursor value (time in epoch microseconds:
 * a JS Date holds only milliseconds), and the comparison towards the end of the order.
 */
function orderOf(q: EventQuery) {
  const col = ORDER_FIELDS[q.orderBy];
  const time = TIME_ORDER_FIELDS.includes(q.orderBy);
  return {
    col,
    key: time ? `epoch_us(${col})` : col,
    value: (v: string | number): DuckDBValue => (time ? new DuckDBTimestampValue(BigInt(v)) : String(v)),
    /** Towards the end of the order. */
    fwd: q.direction === 'ASC' ? '>' : '<',
    /** Towards its start. */
    back: q.direction === 'ASC' ? '<' : '>',
    sql: `${col} ${q.direction} NULLS LAST, id ${q.direction}`,
  };
}
type Order = ReturnType<typeof orderOf>;

/**
 * The events strictly after `c` in the order (nulls last, then by id). The value comparison is also written
 * alone (`col <= v`), which DuckDB pushes into the scan: row groups past it are skipped by their zone maps.
 */
function after(o: Order, c: EventCursor, bind: Bind): string {
  if (c.value === null) return `(${o.col} IS NULL AND id ${o.fwd} ${bind(c.id)})`;
  const v = bind(o.value(c.value));
  return `(${o.col} IS NULL OR (${o.col} ${o.fwd}= ${v} AND (${o.col} ${o.fwd} ${bind(o.value(c.value))} OR id ${o.fwd} ${bind(c.id)})))`;
}

/**
 * The events from `first` to `last` (both included, first not after last), as up to three ranges made only of
 * comparisons DuckDB pushes into the scan: the rest of first's value from its id, the values strictly between,
 * and last's value up to its id. A page of a low-cardinality order (event names) is thereby read from its own
 * rows, not from every row sharing a value at its ends. Each range binds its parameters when called.
 */
function between(o: Order, first: EventCursor, last: EventCursor): Array<(bind: Bind) => string> {
  const is = (c: EventCursor, bind: Bind) =>
    c.value === null ? `${o.col} IS NULL` : `${o.col} = ${bind(o.value(c.value))}`;
  if (first.value === last.value)
    return [(b) => `${is(first, b)} AND id ${o.fwd}= ${b(first.id)} AND id ${o.back}= ${b(last.id)}`];
  // first's value is not null: nulls come last, and last's value differs from it.
  const from = (b: Bind) => `${o.col} ${o.fwd} ${b(o.value(first.value as string | number))}`;
  return [
    (b) => `${is(first, b)} AND id ${o.fwd}= ${b(first.id)}`,
    (b) => (last.value === null ? from(b) : `${from(b)} AND ${o.col} ${o.back} ${b(o.value(last.value))}`),
    (b) => `${is(last, b)} AND id ${o.back}= ${b(last.id)}`,
  ];
}

const cursorOf = (r: Row): EventCursor => ({
  value: r.k === null || r.k === undefined ? null : typeof r.k === 'bigint' ? Number(r.k) : String(r.k),
  id: String(r.id),
});

/**
 * A page in two reads. The first finds the page's positions (the order value and id of up to limit + 1 events)
 * reading only the filter and order columns; the second reads whole rows between the page's first and last
 * position. Reading whole rows only for the page matters: DuckDB's top-N otherwise carries every column of
 * every candidate row (the JSON ones are ~1 KB an event), measured on the 10M bench set at 5-10x the time of the
 * two reads for a page of 1,000 at any depth (bench/layout.ts). The second read keeps only the events the first
 * found: an event loaded between the two is left for no one to miss, since it did not exist when they began.
 */
export async function listEvents(db: Db, workspaceId: string, q: EventQuery): Promise<EventPage> {
  const o = orderOf(q);
  const keys = new Sql();
  const w = where(workspaceId, q, keys.bind);
  const position = q.after ? ` AND ${after(o, q.after, keys.bind)}` : '';
  const found = (
    await db.all(
      `SELECT ${o.key} AS k, id FROM events WHERE ${w}${position} ORDER BY ${o.sql} LIMIT ${keys.bind(q.limit + 1)} OFFSET ${keys.bind(q.offset)}`,
      keys.params,
    )
  ).map(cursorOf);
  const page = found.slice(0, q.limit);
  const next = found.length > q.limit ? (page.at(-1) ?? null) : null;
  let results: CanonicalEvent[] = [];
  const first = page[0];
  const last = page.at(-1);
  if (first && last) {
    const rows = new Sql();
    const ranges = between(o, first, last).map(
      (range) =>
        `SELECT ${SELECT_EVENTS} FROM events WHERE ${where(workspaceId, q, rows.bind)} AND ${range(rows.bind)}`,
    );
    const wanted = new Set(page.map((c) => c.id));
    results = (await db.all(`${ranges.join(' UNION ALL ')} ORDER BY ${o.sql}`, rows.params))
      .filter((r) => wanted.has(String(r.id)))
      .map(rowToEvent);
  }
  // A first page that is not full tells the total; counting scans the filters again (there is no index).
  if (!q.after && found.length <= q.limit && (found.length > 0 || q.offset === 0))
    return { results, total: q.offset + found.length, next };
  if (q.count === false) return { results, total: null, next };
  const count = new Sql();
  const n = await db.all(
    `SELECT count(*)::BIGINT AS n FROM events WHERE ${where(workspaceId, q, count.bind)}`,
    count.params,
  );
  return { results, total: Number(n[0]?.n ?? 0), next };
}

export async function listRejected(
  db: Db,
  workspaceId: string,
  page: { limit: number; offset: number },
): Promise<Page<Rejection>> {
  const rows = await db.all(
    'SELECT * FROM rejected WHERE workspace_id = ? ORDER BY received_at DESC, id DESC LIMIT ? OFFSET ?',
    [workspaceId, page.limit, page.offset],
  );
  const count = await db.all('SELECT count(*)::BIGINT AS n FROM rejected WHERE workspace_id = ?', [
    workspaceId,
  ]);
  return {
    total: Number(count[0]?.n ?? 0),
    results: rows.map((r) => ({
      id: String(r.id),
      workspaceId: String(r.workspace_id),
      receivedAt: date(r.received_at),
      source: String(r.source),
      messageId: strOrNull(r.message_id),
      code: String(r.code) as ErrorCode,
      reason: String(r.reason),
      payload: String(r.payload),
    })),
  };
}
