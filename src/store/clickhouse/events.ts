// Event and rejection listings on ClickHouse. Values are quoted literals (lit: 18.16 has no bound parameters);
// identifiers come from fixed maps. Only committed rows are read (schema.ts VISIBLE_EVENTS).
import { IntakeError } from '../../core/errors.ts';
import type { CanonicalEvent, Rejection } from '../../core/event.ts';
import {
  EQUALITY_FILTERS,
  type EventCursor,
  type EventFilter,
  type EventPage,
  type EventQuery,
  type JsonColumn,
  ORDER_FIELDS,
  type Page,
  TIME_ORDER_FIELDS,
} from '../types.ts';
import { type ClickHouse, lit, litList } from './http.ts';
import { checkpoints } from './load.ts';
import { EVENT_SELECT, rowEvent, rowRejection } from './rows.ts';
import { committed, VISIBLE_EVENTS } from './schema.ts';

/** The column an order field reads: times are epoch ms columns. */
const orderColumn = (f: keyof typeof ORDER_FIELDS) =>
  f === 'timestamp' ? 'timestamp_ms' : f === 'receivedAt' ? 'received_at_ms' : ORDER_FIELDS[f];

/** The value at `path` of a parsed JSON column matches the filter (README, GET /events). */
export function jsonMatches(doc: unknown, path: string[], value: string): boolean {
  let v = doc;
  for (const p of path) {
    if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.hasOwn(v, p)) return false;
    v = (v as Record<string, unknown>)[p];
  }
  if (typeof v === 'string') return v === value;
  if (typeof v === 'number' || typeof v === 'boolean') return JSON.stringify(v) === value;
  return false;
}

/** The filters of `q` as one conjunction, without the JSON-path filters (jsonIds). */
function where(ws: string, q: EventFilter): string {
  const parts = [`workspace_id = ${lit(ws)}`];
  for (const field of EQUALITY_FILTERS) {
    const v = q[field];
    if (v !== undefined) parts.push(`${ORDER_FIELDS[field]} = ${lit(v)}`);
  }
  if (q.startDate) parts.push(`timestamp_ms >= ${q.startDate.getTime()}`);
  if (q.endDate) parts.push(`timestamp_ms <= ${q.endDate.getTime()}`);
  if (q.violations !== undefined) {
    // A top-level key of context, as the server writes it (JSON.stringify: no space before the colon).
    const has = `position(context, '"violationErrors":') > 0`;
    parts.push(q.violations ? has : `NOT (${has})`);
  }
  return parts.join(' AND ');
}

/**
 * The JSON-path filters, exact: 18.16 has no JSONExtract, and visitParamExtract* finds a key anywhere in the
 * text, not at a path. So SQL narrows to the rows whose column holds the last key's JSON text, and the path is
 * checked here on those rows; the page then reads `id IN (...)`. Costs a read of every candidate's column.
 */
async function jsonIds(ch: ClickHouse, ws: string, q: EventFilter): Promise<string | null> {
  if (q.json.length === 0) return null;
  const cols = [...new Set(q.json.map((f) => f.column))] as JsonColumn[];
  const needles = q.json.map(
    (f) => `position(${f.column}, ${lit(`${JSON.stringify(f.path.at(-1) ?? '')}:`)}) > 0`,
  );
  const rows = await ch.rows(
    `SELECT id, ${cols.join(', ')} FROM ${VISIBLE_EVENTS} WHERE ${where(ws, q)} AND ${needles.join(' AND ')}`,
  );
  const ids = rows
    .filter((r) => q.json.every((f) => jsonMatches(JSON.parse(String(r[f.column])), f.path, f.value)))
    .map((r) => String(r.id));
  return `id IN ${litList(ids)}`;
}

async function filterSql(ch: ClickHouse, ws: string, q: EventFilter): Promise<string> {
  const json = await jsonIds(ch, ws, q);
  return json === null ? where(ws, q) : `${where(ws, q)} AND ${json}`;
}

/** The events strictly after `c` in the order (nulls last, then by id). */
function afterSql(col: string, time: boolean, dir: 'ASC' | 'DESC', c: EventCursor): string {
  const fwd = dir === 'ASC' ? '>' : '<';
  if (c.value === null) return `(${col} IS NULL AND id ${fwd} ${lit(c.id)})`;
  const v = time ? String(Math.floor(Number(c.value) / 1000)) : lit(String(c.value));
  return `(${col} IS NULL OR ${col} ${fwd} ${v} OR (${col} = ${v} AND id ${fwd} ${lit(c.id)}))`;
}

export async function listEvents(ch: ClickHouse, ws: string, q: EventQuery): Promise<EventPage> {
  const col = orderColumn(q.orderBy);
  const time = TIME_ORDER_FIELDS.includes(q.orderBy);
  const filter = await filterSql(ch, ws, q);
  const position = q.after ? ` AND ${afterSql(col, time, q.direction, q.after)}` : '';
  // isNull() first: nulls last in both directions (18.16 reads NULLS LAST too, but this is plainer).
  const order = `isNull(${col}), ${col} ${q.direction}, id ${q.direction}`;
  const rows = await ch.rows(
    `SELECT ${EVENT_SELECT} FROM ${VISIBLE_EVENTS} WHERE ${filter}${position}
     ORDER BY ${order} LIMIT ${q.offset}, ${q.limit + 1}`,
  );
  const page = rows.slice(0, q.limit);
  const results: CanonicalEvent[] = page.map(rowEvent);
  const last = page.at(-1);
  let next: EventCursor | null = null;
  if (rows.length > q.limit && last) {
    const v = last[col];
    next = {
      value: v === null || v === undefined ? null : time ? Number(v) * 1000 : String(v),
      id: String(last.id),
    };
  }
  let total: number | null = null;
  const first = !q.after && q.offset === 0;
  if (first && rows.length <= q.limit) total = results.length;
  else if (q.count !== false) {
    const n = await ch.rows(`SELECT count() AS n FROM ${VISIBLE_EVENTS} WHERE ${filter}`);
    total = Number(n[0]?.n ?? 0);
  }
  return { results, total, next };
}

export async function listRejected(
  ch: ClickHouse,
  ws: string,
  page: { limit: number; offset: number },
): Promise<Page<Rejection>> {
  const from = `(SELECT * FROM rejected FINAL WHERE ${committed()}) WHERE workspace_id = ${lit(ws)}`;
  const rows = await ch.rows(
    `SELECT * FROM ${from} ORDER BY received_at_ms DESC, id DESC LIMIT ${page.offset}, ${page.limit}`,
  );
  const n = await ch.rows(`SELECT count() AS n FROM ${from}`);
  return { results: rows.map(rowRejection), total: Number(n[0]?.n ?? 0) };
}

/** Every matching event as NDJSON lines, in chunks of 1,000 read by id (the events as they stood at the start). */
export async function exportEvents(
  ch: ClickHouse,
  ws: string,
  filter: EventFilter,
  onLines: (text: string) => boolean | Promise<boolean>,
  timeoutMs: number,
  shape?: readonly (readonly [string, keyof CanonicalEvent])[],
): Promise<number> {
  const sql = await filterSql(ch, ws, filter);
  // The rows of the start: read at the checkpoint of the start.
  const from = `(SELECT * FROM events FINAL WHERE ${committed(await checkpoints(ch))})`;
  let after = '';
  let n = 0;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // Checked between chunks, and each chunk's statement is stopped by the server at what is left.
    const left = deadline - Date.now();
    if (left <= 0)
      throw new IntakeError(
        'INTAKE_ERR_QUERY_TIMEOUT',
        `the export ran past the ${timeoutMs} ms limit (--query-stream-timeout-ms) and was stopped after ${n} events`,
      );
    const rows = await ch.rows(
      `SELECT ${EVENT_SELECT} FROM ${from} WHERE ${sql}${after ? ` AND id > ${lit(after)}` : ''}
       ORDER BY id LIMIT 1000`,
      { max_execution_time: Math.max(1, Math.ceil(left / 1000)) },
    );
    if (rows.length === 0) return n;
    let text = '';
    for (const r of rows) {
      const e = rowEvent(r);
      if (shape) {
        const o: Record<string, unknown> = {};
        for (const [name, key] of shape) o[name] = e[key];
        text += `${JSON.stringify(o)}\n`;
      } else text += `${JSON.stringify(e)}\n`;
    }
    n += rows.length;
    if ((await onLines(text)) === false) return n;
    after = String(rows.at(-1)?.id);
    if (rows.length < 1000) return n;
  }
}
