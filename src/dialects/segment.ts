// Segment's HTTP Tracking API (also spoken by RudderStack, Jitsu and analytics.js): single calls, batch, import.
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { IntakeError } from '../core/errors.ts';
import { EVENT_TYPES, type JsonObject } from '../core/event.ts';
import { requireScope } from '../http/auth.ts';
import { takeBody } from '../http/body.ts';
import type { RouteContext } from '../http/context.ts';
import { errorResponses, ItemRejection, WRITE_SECURITY } from '../http/schemas.ts';
import type { IngestSummary } from '../ingest/ingest.ts';
import { isObject } from '../pipeline/validate.ts';
import { type Dialect, requestContext } from './types.ts';

const SHORT: Record<(typeof EVENT_TYPES)[number], string> = {
  track: 't',
  identify: 'i',
  page: 'p',
  screen: 's',
  group: 'g',
  alias: 'a',
};
const security = WRITE_SECURITY;

const BatchResponse = Type.Object({
  success: Type.Boolean(),
  accepted: Type.Integer({ description: 'New events stored' }),
  duplicates: Type.Integer({
    description: 'Events whose messageId was already stored (acknowledged, not stored again)',
  }),
  rejected: Type.Array(ItemRejection, {
    description: 'Items refused, each with its reason; also readable at GET /rejected',
  }),
});

const BatchBody = Type.Object(
  {
    batch: Type.Array(Type.Unknown(), { description: 'Segment events, each with its `type`' }),
    context: Type.Optional(Type.Unknown()),
    integrations: Type.Optional(Type.Unknown()),
    sentAt: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: true },
);

/** Batch-level context and integrations are defaults for each item; the item's own keys win. */
function withBatchDefaults(item: unknown, context: unknown, integrations: unknown): unknown {
  if (!isObject(item)) return item;
  const out: JsonObject = { ...item };
  if (isObject(context))
    out.context = isObject(item.context) ? { ...context, ...item.context } : (item.context ?? context);
  if (isObject(integrations)) {
    out.integrations = isObject(item.integrations)
      ? { ...integrations, ...item.integrations }
      : (item.integrations ?? integrations);
  }
  return out;
}

/** Not in the async handler: nothing of the body is then left in its frame while the log writes. */
function ingestBatch(req: FastifyRequest & { body: Static<typeof BatchBody> }, ctx: RouteContext) {
  const { batch, context, integrations, sentAt } = takeBody(req);
  // Most batches carry no batch-level defaults: their items go on as parsed, not copied one by one.
  const items =
    isObject(context) || isObject(integrations)
      ? batch.map((item) => withBatchDefaults(item, context, integrations))
      : batch;
  return ctx.ingestor.ingest(requestContext(req, ctx, 'segment', sentAt), items);
}

const JSON_TYPE = 'application/json; charset=utf-8';
/** The schema's `{ success: true }`, already serialized: fastify sends a string with a JSON type as it is. */
const SUCCESS = JSON.stringify({ success: true }) as unknown as { success: true };

/** A single call's answer: `{"success":true}`, or its one item's refusal as the request's coded error. */
function singleAnswer(s: IngestSummary): { success: true } {
  const only = s.items[0];
  if (only?.status === 'rejected')
    throw new IntakeError(only.code, only.reason, { messageId: only.messageId });
  return SUCCESS;
}

export function batchResponse(s: IngestSummary) {
  const rejected = [];
  for (let i = 0; i < s.items.length; i++) {
    const it = s.items[i];
    if (it?.status === 'rejected')
      rejected.push({ index: i, messageId: it.messageId, code: it.code, message: it.reason });
  }
  return { success: true, accepted: s.accepted, duplicates: s.duplicates, rejected };
}

export const segment: Dialect = {
  name: 'segment',
  routes(app, ctx) {
    const write = requireScope(ctx.keys, 'ingest');

    for (const type of EVENT_TYPES) {
      for (const path of [`/v1/${type}`, `/v1/${SHORT[type]}`]) {
        app.post(
          path,
          {
            preValidation: write,
            schema: {
              summary: `Segment ${type} call`,
              tags: ['segment'],
              security,
              hide: path.length <= 5,
              body: Type.Object({}, { additionalProperties: true, description: `A Segment ${type} event` }),
              response: { 200: Type.Object({ success: Type.Boolean() }), ...errorResponses },
            },
          },
          (req, reply) => {
            // The body is the event: the route's type is set on it (over any `type` it has), not on a copy.
            const event = takeBody(req) as JsonObject;
            event.type = type;
            // The answer is a constant, sent as it is: no serializer runs (the error handler sets its own type).
            reply.type(JSON_TYPE);
            return ctx.ingestor.ingest(requestContext(req, ctx, 'segment'), [event]).then(singleAnswer);
          },
        );
      }
    }

    for (const path of ['/v1/batch', '/v1/import', '/v1/b']) {
      app.post(
        path,
        {
          preValidation: write,
          schema: {
            summary: path === '/v1/import' ? 'Segment import (historical batch)' : 'Segment batch',
            description:
              'Answers 200 when the body is well formed, even if some items are invalid: those are listed in `rejected` and kept at GET /rejected, so SDKs do not retry them forever.',
            tags: ['segment'],
            security,
            hide: path === '/v1/b',
            body: BatchBody,
            response: { 200: BatchResponse, ...errorResponses },
          },
        },
        async (req) => batchResponse(await ingestBatch(req, ctx)),
      );
    }
  },
};
