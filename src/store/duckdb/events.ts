// Event and rejection listings. Every value is a bound parameter; every identifier comes from a fixed map.
import type { DuckDBValue } from '@duckdb/node-api';
import type { ErrorCode } from '../../core/errors.ts';
import type { Rejection } from '../../core/event.ts';
import {
  EQUALITY_FILTERS,
  type EventFilter,
  type EventPage,
  type EventQuery,
  ORDER_FIELDS,
  type Page,
} from '../types.ts';
import { type Db, date, strOrNull, ts } from './db.ts';
import { isValueOrder, type OrderValues } from './order-values.ts';
import { type Bind, orderOf, readPage, type Source } from './pages.ts';
import { userSources } from './user-index.ts';
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

/** The filters of `q` as one conjunction. */
export function where(workspaceId: string, q: EventFilter, bind: Bind): string {
  const parts = [`workspace_id = ${bind(workspaceId)}`];
  if (q.userId !== undefined)
    parts.push(`user_key = ${userKeySql(`${bind(workspaceId)}::VARCHAR`, `${bind(q.userId)}::VARCHAR`)}`);
  for (const field of EQUALITY_FILTERS) {
    const v = q[field];
    if (v !== undefined) parts.push(`${ORDER_FIELDS[field]} = ${bind(v)}`);
  }
  if (q.startDate) parts.push(`timestamp >= ${bind(ts(q.startDate))}`);
  if (q.endDate) parts.push(`timestamp <= ${bind(ts(q.endDate))}`);
  // Tracking plan violations (README "Tracking plans"): the substring test skips parsing most rows' JSON.
  if (q.violations !== undefined) {
    const has = `(contains(context, '"violationErrors"') AND json_exists(context, '$.violationErrors'))`;
    parts.push(q.violations ? has : `NOT ${has}`);
  }
  for (const f of q.json) parts.push(jsonEquals(f.column, f.path, f.value, bind));
  return parts.join(' AND ');
}

/**
 * A page of the events `q` filters, in its order (pages.ts reads it in two steps). userId adds the user key:
 * an integer compare that leaves few rows for the text compare of user_id (user-key.ts), in the receive-time
 * ranges the user index gives (user-index.ts). Given the store's `values`, a page in the order of event or type
 * is read value by value (pages.ts positionsByValue); an equality filter on the order's own field leaves that
 * one value.
 */
export async function listEvents(
  db: Db,
  workspaceId: string,
  q: EventQuery,
  values?: OrderValues,
): Promise<EventPage> {
  let list: Array<string | null> | null = null;
  if (values && isValueOrder(q.orderBy) && q.offset === 0) {
    const only = q[q.orderBy];
    list = only === undefined ? await values.of(db, workspaceId, q.orderBy) : [only];
  }
  const filter: Source = (bind) => where(workspaceId, q, bind);
  // By user: only where the user index says the user's events are.
  const sources =
    q.userId === undefined ? [filter] : await userSources(db, workspaceId, [q.userId], () => filter);
  return readPage(db, sources, orderOf(q.orderBy, q.direction), q, list);
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
