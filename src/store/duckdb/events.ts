// Event and rejection listings. Every value is a bound parameter; every identifier comes from a fixed map.
import type { DuckDBValue } from '@duckdb/node-api';
import type { ErrorCode } from '../../core/errors.ts';
import type { CanonicalEvent, Rejection } from '../../core/event.ts';
import { EQUALITY_FILTERS, type EventQuery, ORDER_FIELDS, type Page } from '../types.ts';
import { type Db, date, strOrNull, ts } from './db.ts';
import { EVENT_COLUMNS, rowToEvent } from './schema.ts';

/** A JSON path with each segment quoted; segments are checked by the caller to hold no quote. */
export const jsonPath = (path: string[]): string => `$.${path.map((p) => `"${p}"`).join('.')}`;

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
  for (const f of q.json) {
    parts.push(`json_extract_string(${f.column}, ?) = ?`);
    params.push(jsonPath(f.path), f.value);
  }
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
    })),
  };
}
