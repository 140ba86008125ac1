// Biteral's POST /events: one typed event object or an array of at most 100, with X-API-Key. Every event is
// checked against its type's required fields before anything is stored; any violation refuses the request
// with a 400 listing `fieldErrors: [{field, code, description}]`. The route is shared with Trench (trench.ts).
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ERRORS } from '../core/errors.ts';
import type { JsonObject } from '../core/event.ts';
import type { RouteContext } from '../http/context.ts';
import { stringifyCapped } from '../pipeline/json.ts';
import { isObject } from '../pipeline/validate.ts';
import { ingestMapped, nonEmptyString } from './shared.ts';
import { requestContext } from './types.ts';

/** Biteral's documented batch size. */
const MAX_EVENTS = 100;

const PRODUCT = ['productCode'];
/** Required fields besides `type` and `customerCode`, by event type. */
const REQUIRED: Record<string, string[]> = {
  EventAddedToCart: PRODUCT,
  EventRemovedFromCart: PRODUCT,
  EventSale: PRODUCT,
  EventAddedToWishlist: PRODUCT,
  EventRemovedFromWishlist: PRODUCT,
  EventReturnRequested: PRODUCT,
  EventProductViewed: PRODUCT,
  EventStockAlertRequested: PRODUCT,
  EventReviewWritten: PRODUCT,
  EventCategoryViewed: ['categoryCode'],
  EventBrandViewed: ['brandCode'],
  EventSearch: ['query'],
  EventFilterApplied: ['filterName', 'filterValue'],
  EventOrderApplied: ['orderDescription'],
  EventCouponApplied: [],
};
/** Types whose `quantity` is optional and defaults to 1. */
const WITH_QUANTITY = new Set(['EventAddedToCart', 'EventRemovedFromCart', 'EventSale']);

export interface FieldError {
  field: string;
  /** `required`, `invalid_type` or `invalid_value`. */
  code: 'required' | 'invalid_type' | 'invalid_value';
  description: string;
}

export const FieldErrorSchema = Type.Object({
  field: Type.String({ description: 'The field, prefixed with [i] when the body is an array' }),
  code: Type.String({ description: 'required, invalid_type or invalid_value' }),
  description: Type.String(),
});

export const BiteralResult = Type.Object({
  ingested: Type.Integer({ description: 'Events stored now' }),
  duplicates: Type.Integer({ description: 'Events already stored (same messageId)' }),
  rejected: Type.Array(FieldErrorSchema, {
    description:
      'Events the pipeline refused after the field checks (e.g. over the size limit); kept at GET /rejected',
  }),
});

/** Checks one event; pushes its violations and returns the canonical track when there are none. */
function check(raw: unknown, at: string, errors: FieldError[]): JsonObject | null {
  const before = errors.length;
  const err = (field: string, code: FieldError['code'], description: string) =>
    errors.push({ field: `${at}${field}`, code, description });
  if (!isObject(raw)) {
    err('', 'invalid_type', 'an event must be a JSON object');
    return null;
  }
  const { type, customerCode, timestamp, ...rest } = raw;
  // Own keys only: `constructor` or `__proto__` would find Object.prototype's members (a 500 before).
  const required = typeof type === 'string' && Object.hasOwn(REQUIRED, type) ? REQUIRED[type] : undefined;
  if (type === undefined || type === null || type === '') err('type', 'required', 'type is required');
  else if (!required) {
    err(
      'type',
      'invalid_value',
      `unknown event type ${stringifyCapped(type, 64)}; one of ${Object.keys(REQUIRED).join(', ')}`,
    );
  }
  if (customerCode === undefined || customerCode === null || customerCode === '') {
    err('customerCode', 'required', 'customerCode is required');
  } else if (!nonEmptyString(customerCode))
    err('customerCode', 'invalid_type', 'customerCode must be a string');
  if (timestamp !== undefined && timestamp !== null) {
    if (typeof timestamp !== 'string' || !Number.isFinite(Date.parse(timestamp))) {
      err('timestamp', 'invalid_value', 'timestamp must be an ISO 8601 date, e.g. 2025-11-18T07:21:16.527Z');
    }
  }
  for (const f of required ?? []) {
    const v = rest[f];
    if (v === undefined || v === null || v === '') err(f, 'required', `${f} is required for ${type}`);
    else if (!nonEmptyString(v)) err(f, 'invalid_type', `${f} must be a string`);
  }
  if (typeof type === 'string' && WITH_QUANTITY.has(type)) {
    const q = rest.quantity;
    if (q === undefined || q === null) rest.quantity = 1;
    else if (typeof q !== 'number' || !Number.isInteger(q) || q < 1) {
      err('quantity', 'invalid_value', 'quantity must be a positive integer');
    }
  }
  if (type === 'EventOrderApplied' && rest.orderDirection !== undefined && rest.orderDirection !== null) {
    if (rest.orderDirection !== 'asc' && rest.orderDirection !== 'desc') {
      err('orderDirection', 'invalid_value', 'orderDirection must be asc or desc');
    }
  }
  if (type === 'EventReviewWritten' && rest.review !== undefined && rest.review !== null) {
    if (typeof rest.review !== 'string') err('review', 'invalid_type', 'review must be a string');
  }
  if (errors.length > before) return null;
  return {
    type: 'track',
    event: type,
    userId: customerCode,
    timestamp: timestamp ?? undefined,
    properties: rest,
  };
}

type BiteralCode =
  | 'INTAKE_ERR_MISSING_FIELD'
  | 'INTAKE_ERR_INVALID_EVENT'
  | 'INTAKE_ERR_INVALID_BODY'
  | 'INTAKE_ERR_TOO_MANY_EVENTS';

/** Intake's error shape plus Biteral's `fieldErrors`. */
function refuse(reply: FastifyReply, code: BiteralCode, message: string, fieldErrors: FieldError[]) {
  const status = ERRORS[code].status;
  return reply.code(status).send({
    statusCode: status,
    code,
    error: 'Bad Request',
    message,
    fieldErrors,
  });
}

/** Handles a Biteral body (an event object or an array of them) on the shared POST /events route. */
export async function handleBiteral(
  req: FastifyRequest,
  reply: FastifyReply,
  ctx: RouteContext,
  body: unknown,
) {
  const list = Array.isArray(body) ? body : [body];
  const prefix = (i: number) => (Array.isArray(body) ? `[${i}].` : '');
  if (list.length === 0 || list.length > MAX_EVENTS) {
    const code = list.length === 0 ? 'INTAKE_ERR_INVALID_BODY' : 'INTAKE_ERR_TOO_MANY_EVENTS';
    return refuse(reply, code, `send 1 to ${MAX_EVENTS} events per request, got ${list.length}`, [
      { field: '', code: 'invalid_value', description: `1 to ${MAX_EVENTS} events per request` },
    ]);
  }
  const errors: FieldError[] = [];
  const items = list.map((raw, i) => check(raw, prefix(i), errors));
  if (errors.length > 0) {
    const code = errors.every((e) => e.code === 'required')
      ? 'INTAKE_ERR_MISSING_FIELD'
      : 'INTAKE_ERR_INVALID_EVENT';
    return refuse(reply, code, `${errors.length} field error(s); nothing was stored`, errors);
  }
  const outcomes = await ingestMapped(
    ctx,
    requestContext(req, ctx, 'biteral'),
    items.map((item) => ({ item: item as JsonObject })),
  );
  let ingested = 0;
  let duplicates = 0;
  const rejected: FieldError[] = [];
  outcomes.forEach((o, i) => {
    if (o.status === 'accepted') ingested++;
    else if (o.status === 'duplicate') duplicates++;
    else if (o.status === 'rejected')
      rejected.push({ field: prefix(i).replace(/\.$/, ''), code: 'invalid_value', description: o.reason });
  });
  return reply.code(200).send({ ingested, duplicates, rejected });
}
