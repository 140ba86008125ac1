// Turns GET /events query parameters into an EventQuery, naming any bad parameter.
import { IntakeError } from '../core/errors.ts';
import {
  EQUALITY_FILTERS,
  type EventQuery,
  JSON_COLUMNS,
  type JsonColumn,
  ORDER_FIELDS,
  type OrderField,
} from '../store/types.ts';

/** Trench's names for Intake's fields (its events carry `uuid` and `parsedAt`): GET /events takes either. */
const TRENCH_NAMES = { uuid: 'messageId', parsedAt: 'receivedAt' } as const satisfies Record<
  string,
  OrderField
>;
/** Every name orderByField takes. */
export const ORDER_NAMES: string[] = [...Object.keys(ORDER_FIELDS), ...Object.keys(TRENCH_NAMES)];

const KNOWN = new Set<string>([
  ...EQUALITY_FILTERS,
  'uuid',
  'startDate',
  'endDate',
  'limit',
  'offset',
  'orderByField',
  'orderByDirection',
  // Paging (query/cursor.ts), and the stream of every event (format=ndjson).
  'after',
  'cursor',
  'total',
  'format',
  'violations',
]);
const SEGMENT = /^[A-Za-z0-9_$][A-Za-z0-9_$ -]{0,99}$/;

const bad = (name: string, why: string) => new IntakeError('INTAKE_ERR_INVALID_PARAMETER', `${name} ${why}`);

function date(name: string, v: unknown): Date | undefined {
  if (v === undefined || v === '') return undefined;
  const ms = Date.parse(String(v));
  if (!Number.isFinite(ms)) throw bad(name, `must be an ISO-8601 date, got "${String(v).slice(0, 64)}"`);
  return new Date(ms);
}

export function parseEventQuery(raw: Record<string, unknown>): EventQuery {
  const q: EventQuery = {
    json: [],
    orderBy: 'timestamp',
    direction: 'DESC',
    limit: 100,
    offset: 0,
  };
  for (const [key, value] of Object.entries(raw)) {
    if (Array.isArray(value)) throw bad(key, 'is given more than once');
    if (KNOWN.has(key)) continue;
    const dot = key.indexOf('.');
    const column = key.slice(0, dot) as JsonColumn;
    if (dot < 0 || !JSON_COLUMNS.includes(column)) {
      throw bad(
        key,
        `is not a known parameter; filters are ${[...KNOWN].join(', ')} and properties.*, traits.*, context.*`,
      );
    }
    const path = key.slice(dot + 1).split('.');
    if (path.length > 8 || !path.every((p) => SEGMENT.test(p))) {
      throw bad(key, 'has a bad path: use letters, digits, _ $ - and space, dot-separated, at most 8 levels');
    }
    q.json.push({ column, path, value: String(value) });
  }
  for (const f of EQUALITY_FILTERS) {
    const v = raw[f];
    if (v !== undefined && v !== '') q[f] = String(v);
  }
  // Trench's uuid is the messageId (a Trench client's own uuid, else the one assigned).
  if (raw.uuid !== undefined && raw.uuid !== '') {
    if (q.messageId !== undefined && q.messageId !== String(raw.uuid))
      throw bad('uuid', 'and messageId name the same field and differ');
    q.messageId = String(raw.uuid);
  }
  if (raw.violations !== undefined && raw.violations !== '') {
    if (raw.violations !== 'true' && raw.violations !== 'false')
      throw bad('violations', 'must be true or false');
    q.violations = raw.violations === 'true';
  }
  q.startDate = date('startDate', raw.startDate);
  q.endDate = date('endDate', raw.endDate);
  if (raw.limit !== undefined) q.limit = Number(raw.limit);
  if (raw.offset !== undefined) q.offset = Number(raw.offset);
  if (raw.orderByField !== undefined) {
    const name = String(raw.orderByField);
    q.orderBy = (TRENCH_NAMES[name as keyof typeof TRENCH_NAMES] ?? name) as OrderField;
  }
  if (raw.orderByDirection !== undefined)
    q.direction = String(raw.orderByDirection).toUpperCase() as 'ASC' | 'DESC';
  if (!(q.orderBy in ORDER_FIELDS)) throw bad('orderByField', `must be one of ${ORDER_NAMES.join(', ')}`);
  return q;
}
