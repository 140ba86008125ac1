// Event and rejection listings. Every value is a bound parameter; every identifier comes from a fixed map.
import type { DuckDBValue } from '@duckdb/node-api';
import type { ErrorCode } from '../../core/errors.ts';
import type { CanonicalEvent, Rejection } from '../../core/event.ts';
import { EQUALITY_FILTERS, type EventQuery, ORDER_FIELDS, type Page } from '../types.ts';
import { type Db, date, strOrNull, ts } from './db.ts';
import { EVENT_COLUMNS, rowToEvent } from './schema.ts';

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

function where(workspaceId: string, q: EventQuery): { sql: string; params: DuckDBValue[] } {
  const parts = ['workspace_id = ?'];
  const params: DuckDBValue[] = [workspaceId];
  for (const field of EQUALITY_FILTERS) {
    const v = q[field];
    if (v !== undefined) {
      parts.push(`${ORDER_FIELDS[field]} = ?`);
      params.push(v);
    }
  }
  if (q.startDate) {
    parts.push('timestamp >= ?');
    params.push(ts(q.startDate));
  }
  if (q.endDate) {
    parts.push('timestamp <= ?');
    params.push(ts(q.endDate));
  }
  // Tracking plan violations (README "Tracking plans"): the substring test skips parsing most rows' JSON.
  if (q.violations !== undefined) {
    const has = `(contains(context, '"violationErrors"') AND json_exists(context, '$.violationErrors'))`;
    parts.push(q.violations ? has : `NOT ${has}`);
  }
  const bind = (v: DuckDBValue) => {
    params.push(v);
    return '?';
  };
  for (const f of q.json) parts.push(jsonEquals(f.column, f.path, f.value, bind));
  return { sql: parts.join(' AND '), params };
}

const SELECT_EVENTS = EVENT_COLUMNS.map((c) =>
  c.sql.startsWith('JSON') ? `${c.name}::VARCHAR AS ${c.name}` : c.name,
).join(', ');

export async function listEvents(db: Db, workspaceId: string, q: EventQuery): Promise<Page<CanonicalEvent>> {
  const w = where(workspaceId, q);
  const order = `${ORDER_FIELDS[q.orderBy]} ${q.direction}, id ${q.direction}`;
  const rows = await db.all(
    `SELECT ${SELECT_EVENTS} FROM events WHERE ${w.sql} ORDER BY ${order} LIMIT ? OFFSET ?`,
    [...w.params, q.limit, q.offset],
  );
  // A page that is not full already tells the total (every filter is a scan without an index, so the
  // count would cost as much again): only a full page, or an empty one past the start, needs counting.
  if (rows.length < q.limit && (rows.length > 0 || q.offset === 0)) {
    return { results: rows.map(rowToEvent), total: q.offset + rows.length };
  }
  const count = await db.all(`SELECT count(*)::BIGINT AS n FROM events WHERE ${w.sql}`, w.params);
  return { results: rows.map(rowToEvent), total: Number(count[0]?.n ?? 0) };
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
      ...(r.violations === null || r.violations === undefined
        ? {}
        : { violations: JSON.parse(String(r.violations)) as Rejection['violations'] }),
    })),
  };
}
