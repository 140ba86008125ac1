// The one registry of coded errors. Every error body has the shape {statusCode, code, error, message, details?}.
import { STATUS_CODES } from 'node:http';

interface ErrorDef {
  status: number;
  /** What the code means, for the docs. */
  doc: string;
}

export const ERRORS = {
  INTAKE_ERR_UNAUTHORIZED: { status: 401, doc: 'The key is missing, unknown or revoked.' },
  INTAKE_ERR_WRONG_KEY_KIND: {
    status: 403,
    doc: 'The key is valid but lacks the scope this route needs (e.g. a write key, scope ingest, on a read route; `details.scope` names it), or would manage another workspace or a key with scopes it does not have itself.',
  },
  INTAKE_ERR_ORIGIN_NOT_ALLOWED: {
    status: 403,
    doc: "The key has allowed origins and the request's `Origin` header is missing or not one of them.",
  },
  INTAKE_ERR_IP_NOT_ALLOWED: {
    status: 403,
    doc: "The key has allowed IPs and the request's IP (`X-Forwarded-For` only behind `--trust-proxy`) is not in them.",
  },
  INTAKE_ERR_RATE_LIMITED: {
    status: 429,
    doc: 'The key is over its requests/s or events/s limit (`details.limit` says which); nothing of the request was stored. Retry after `Retry-After` seconds.',
  },
  INTAKE_ERR_INVALID_JSON: { status: 400, doc: 'The body is not valid JSON.' },
  INTAKE_ERR_EMPTY_BODY: { status: 400, doc: 'The route needs a body and none was sent.' },
  INTAKE_ERR_BAD_ENCODING: {
    status: 400,
    doc: 'The body does not decode with its Content-Encoding (e.g. corrupt gzip).',
  },
  INTAKE_ERR_UNSUPPORTED_ENCODING: {
    status: 415,
    doc: 'The Content-Encoding is not one of identity, gzip, deflate.',
  },
  INTAKE_ERR_BODY_TOO_LARGE: { status: 413, doc: 'The body, after decompression, is over the body limit.' },
  INTAKE_ERR_EVENT_TOO_LARGE: {
    status: 413,
    doc: 'One event is over the per-event limit (32 KiB by default).',
  },
  INTAKE_ERR_INVALID_BODY: { status: 400, doc: 'The body does not have the shape the route documents.' },
  INTAKE_ERR_INVALID_EVENT: {
    status: 400,
    doc: 'The event is invalid; `details` names the field. In a batch this is the reason of one rejected item.',
  },
  INTAKE_ERR_NESTED_TOO_DEEP: {
    status: 400,
    doc: "The event's properties, traits, context or integrations nest objects and arrays more than 64 levels deep; the message names the field. In a batch this refuses that item alone.",
  },
  INTAKE_ERR_MISSING_ID: {
    status: 400,
    doc: 'The event has neither userId nor anonymousId (alias: previousId and userId).',
  },
  INTAKE_ERR_MISSING_EVENT_NAME: { status: 400, doc: 'A track event has no `event` name.' },
  INTAKE_ERR_INVALID_TIMESTAMP: { status: 400, doc: 'A timestamp field is not an ISO-8601 date.' },
  INTAKE_ERR_INVALID_PARAMETER: {
    status: 400,
    doc: 'A query-string or path parameter is invalid; the message names it.',
  },
  INTAKE_ERR_INVALID_CURSOR: {
    status: 400,
    doc: "The `after` (or `cursor`) page token of GET /events is not one it gave for this query: malformed, or made for other filters, another order or another workspace. Pass on the previous page's `next` with the same parameters.",
  },
  INTAKE_ERR_NOT_FOUND: { status: 404, doc: 'No such route or resource.' },
  INTAKE_ERR_QUERY_INVALID: {
    status: 400,
    doc: 'The SQL does not parse, is not one SELECT statement, or its parameters do not fit it.',
  },
  INTAKE_ERR_QUERY_FORBIDDEN: {
    status: 400,
    doc: 'The SQL names a table, function or construct a query may not use; the message names it.',
  },
  INTAKE_ERR_QUERY_FAILED: {
    status: 400,
    doc: 'The engine refused the query while running it (unknown column, bad cast, ...); the message says why.',
  },
  INTAKE_ERR_QUERY_UNSUPPORTED: {
    status: 400,
    doc: 'The SQL uses a function or construct that the cluster engine (ClickHouse) cannot run with the same meaning (window functions, more than one JOIN in one SELECT, WITH RECURSIVE, ...); the message names it. The embedded engine runs it.',
  },
  INTAKE_ERR_QUERY_TIMEOUT: { status: 400, doc: 'The query ran past its time limit and was stopped.' },
  INTAKE_ERR_QUERY_TOO_LARGE: {
    status: 400,
    doc: 'The query needed more memory than a query may use and was stopped.',
  },
  INTAKE_ERR_INSIGHT_PROPERTY: {
    status: 400,
    doc: 'An insight names a property with a path that is not `properties.<key>[.<key>...]`, `context.<key>...` or `person.<trait>...` (keys of letters, digits, `_ $ -` and space, at most 8 levels); `details.field` says where.',
  },
  INTAKE_ERR_INSIGHT_STEPS: {
    status: 400,
    doc: 'A funnel has fewer than 2 or more than 20 steps, or a trends query more than 10 series.',
  },
  INTAKE_ERR_INSIGHT_RANGE: {
    status: 400,
    doc: 'An insight date range does not parse, is empty, or spans more than 1000 buckets (trends) or cohorts (retention); the message says which.',
  },
  INTAKE_ERR_INSIGHT_INTERVAL: {
    status: 400,
    doc: 'An interval (hour, day, week, month), retention period (day, week, month) or conversion window unit is not one of those listed.',
  },
  INTAKE_ERR_INSIGHT_INVALID: {
    status: 400,
    doc: 'An insight is inconsistent: an aggregate without a property, a filter without the value its operator needs, an unknown math or order, ...; the message and `details.field` name it.',
  },
  INTAKE_ERR_INVALID_TIMEZONE: {
    status: 400,
    doc: 'A time zone is not an IANA name the server knows (e.g. `Europe/Paris`, `America/New_York`, `UTC`).',
  },
  INTAKE_ERR_CONFLICT: { status: 409, doc: 'The resource already exists (e.g. a workspace name).' },
  INTAKE_ERR_OVERLOADED: {
    status: 503,
    doc: 'Too many accepted events are waiting to be loaded; retry after `Retry-After` seconds.',
  },
  INTAKE_ERR_STORE_UNAVAILABLE: {
    status: 503,
    doc: 'Ingest: the log write failed, nothing was acknowledged (the file log refuses writes until the server restarts; on NATS JetStream, retry after `Retry-After` seconds). Reads: accepted events cannot be loaded yet, or the store (ClickHouse) cannot be reached or did not answer within `--clickhouse-timeout-ms`; retry after `Retry-After` seconds.',
  },
  INTAKE_ERR_SHUTTING_DOWN: {
    status: 503,
    doc: 'The server is shutting down; retry against another instance or later.',
  },
  INTAKE_ERR_INTERNAL: {
    status: 500,
    doc: 'A bug. The body never holds a stack trace; the log has the details.',
  },
  INTAKE_ERR_MISSING_FIELD: {
    status: 400,
    doc: 'A field the wire format requires is missing or has the wrong type (e.g. a Bento `$purchase` without `details.unique.key`, a Biteral event without `productCode`); the message names it.',
  },
  INTAKE_ERR_UNSUPPORTED_EVENT_TYPE: {
    status: 400,
    doc: 'The event type is not one this wire format accepts (e.g. Sequence takes only track and identify).',
  },
  INTAKE_ERR_TOO_MANY_EVENTS: {
    status: 400,
    doc: 'The request holds more events than its wire format allows in one request (Bento 1000, Biteral 100, UserFlux 50).',
  },
  INTAKE_ERR_READ_TIMEOUT: {
    status: 503,
    doc: 'A read (or deletion) waited `--read-wait-ms` (30 s by default) for the events acknowledged before it to be loaded, e.g. a large backlog after a restart; nothing is lost, retry after `Retry-After` seconds.',
  },
  INTAKE_ERR_PLAN_VIOLATION: {
    status: 400,
    doc: "The event breaks the workspace's tracking plan in a way its modes reject; the message lists the violations, and `GET /rejected` keeps the event with them.",
  },
  INTAKE_ERR_NOT_IMPLEMENTED: {
    status: 501,
    doc: 'The store this server runs on does not do this yet: a part of the store contract its engine does not implement (the embedded and ClickHouse stores implement every part).',
  },
} as const satisfies Record<string, ErrorDef>;

export type ErrorCode = keyof typeof ERRORS;

export class IntakeError extends Error {
  readonly statusCode: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.statusCode = ERRORS[code].status;
  }
}

export interface ErrorBody {
  statusCode: number;
  code: ErrorCode;
  error: string;
  message: string;
  details?: unknown;
}

export function errorBody(code: ErrorCode, message: string, details?: unknown): ErrorBody {
  const statusCode = ERRORS[code].status;
  const body: ErrorBody = { statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message };
  if (details !== undefined) body.details = details;
  return body;
}
