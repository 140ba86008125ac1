// POST /events, shared by two dialects and told apart by the body's shape: Trench's {events: [...]} in the
// Segment spec (answered 201 with the stored events in Trench's shape), or Biteral's typed event object or array
// (biteral.ts). Trench stores events without user ids, and takes a client's `uuid` as its id: here, the messageId.
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { IntakeError } from '../core/errors.ts';
import type { CanonicalEvent } from '../core/event.ts';
import { requireScope } from '../http/auth.ts';
import type { RouteContext } from '../http/context.ts';
import { BEARER_SECURITY, ErrorSchema, ItemRejection } from '../http/schemas.ts';
import { isObject } from '../pipeline/validate.ts';
import { BiteralResult, FieldErrorSchema, handleBiteral } from './biteral.ts';
import { batchResponse } from './segment.ts';
import { trenchQueryRoutes } from './trench-queries.ts';
import { TrenchEventSchema, trenchEvent } from './trench-shape.ts';
import { trenchWorkspaceRoutes } from './trench-workspaces.ts';
import { type Dialect, requestContext } from './types.ts';

const TrenchResult = Type.Object({
  results: Type.Array(TrenchEventSchema),
  limit: Type.Integer(),
  offset: Type.Integer(),
  total: Type.Integer(),
  duplicates: Type.Integer(),
  rejected: Type.Array(ItemRejection),
});

/** Intake's error shape; Biteral's field violations add `fieldErrors`. */
const BadRequest = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String(),
  error: Type.String(),
  message: Type.String(),
  details: Type.Optional(Type.Unknown()),
  fieldErrors: Type.Optional(Type.Array(FieldErrorSchema)),
});

/** A Trench client's `uuid` is its event's id: the messageId, when it sent none (a resend is then a duplicate). */
function withUuid(item: unknown): unknown {
  if (!isObject(item) || (item.messageId !== undefined && item.messageId !== null)) return item;
  const uuid = item.uuid;
  return typeof uuid === 'string' || typeof uuid === 'number' ? { ...item, messageId: uuid } : item;
}

async function handleTrench(req: FastifyRequest, reply: FastifyReply, ctx: RouteContext, events: unknown[]) {
  const rc = requestContext(req, ctx, 'trench');
  rc.idsOptional = true;
  const s = await ctx.ingestor.ingest(rc, events.map(withUuid), [], { events: true });
  const results = s.items.flatMap((it) =>
    it.status === 'accepted' ? [trenchEvent(it.event as CanonicalEvent)] : [],
  );
  const { duplicates, rejected } = batchResponse(s);
  return reply.code(201).send({
    results,
    limit: results.length,
    offset: 0,
    total: results.length,
    duplicates,
    rejected,
  });
}

export const trench: Dialect = {
  name: 'trench',
  routes(app, ctx) {
    trenchQueryRoutes(app, ctx);
    trenchWorkspaceRoutes(app, ctx);
    app.post(
      '/events',
      {
        preValidation: requireScope(ctx.keys, 'ingest'),
        schema: {
          summary: 'Create events (Trench, or Biteral)',
          description: [
            'The body decides the dialect.',
            "**Trench** `{events: [...]}` (Bearer key): 201 with the newly stored events in `results`, in Trench's shape (`uuid`, `parsedAt`, ...) plus Intake's fields; only `type` is needed (no user id: the event joins no profile); a client's `uuid` is the messageId; duplicates (messageId already stored) are counted in `duplicates`; invalid items are listed in `rejected` and kept at GET /rejected.",
            '**Biteral** one event `{type, customerCode, timestamp?, ...}` or an array of 1 to 100 (key in X-API-Key): the type is the track event name, customerCode the userId, the other fields its properties. 200 `{ingested, duplicates, rejected}`; any missing or invalid field refuses the whole request with a 400 listing `fieldErrors`.',
          ].join('\n\n'),
          tags: ['trench', 'biteral'],
          security: BEARER_SECURITY,
          body: Type.Unknown({
            description: 'Trench: {events: [...]}. Biteral: one event object, or an array of 1 to 100.',
          }),
          response: {
            200: BiteralResult,
            201: TrenchResult,
            400: BadRequest,
            401: ErrorSchema,
            403: ErrorSchema,
            413: ErrorSchema,
            415: ErrorSchema,
          },
        },
      },
      async (req, reply) => {
        const body = req.body as unknown;
        if (isObject(body) && 'events' in body) {
          if (!Array.isArray(body.events))
            throw new IntakeError('INTAKE_ERR_INVALID_BODY', 'events must be an array');
          return handleTrench(req, reply, ctx, body.events);
        }
        if (isObject(body) || Array.isArray(body)) return handleBiteral(req, reply, ctx, body);
        throw new IntakeError(
          'INTAKE_ERR_INVALID_BODY',
          'the body must be {events: [...]} (Trench) or a Biteral event object or array of them',
        );
      },
    );
  },
};
