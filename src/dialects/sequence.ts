// Sequence's POST /event/batch: {batch: [...]} of Segment track and identify calls (userId required), each
// answered with its own outcome. Errors keep Sequence's own shape, {success: false, error}.
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { KeyRing } from '../auth/keys.ts';
import { admitScope } from '../http/auth.ts';
import { BEARER_SECURITY } from '../http/schemas.ts';
import { stringifyCapped } from '../pipeline/json.ts';
import { isObject } from '../pipeline/validate.ts';
import { ingestMapped, type Mapped, nonEmptyString } from './shared.ts';
import { type Dialect, requestContext } from './types.ts';

const SequenceError = Type.Object(
  { success: Type.Literal(false), error: Type.String(), code: Type.String() },
  { description: "Sequence's error shape, plus Intake's error code" },
);

const ItemResult = Type.Object({
  messageId: Type.Union([Type.String(), Type.Null()]),
  success: Type.Boolean({ description: 'false when the item was refused' }),
  processed: Type.Boolean({ description: 'true when stored now; false for a duplicate or a refused item' }),
  error: Type.Optional(Type.String({ description: 'Why the item was refused' })),
});

const BatchResult = Type.Object({
  success: Type.Boolean({ description: 'true when no item was refused' }),
  total: Type.Integer({ description: 'Items in the request' }),
  errors: Type.Integer({ description: 'Items refused (kept at GET /rejected)' }),
  processed: Type.Integer({ description: 'Items stored now (duplicates are not counted)' }),
  batch: Type.Array(ItemResult, { description: 'One result per item, in request order' }),
});

/** The shared key check, answering in Sequence's error shape. */
function sequenceAuth(ring: KeyRing) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const err = admitScope(ring, 'ingest', req);
    if (err) return reply.code(err.statusCode).send({ success: false, error: err.message, code: err.code });
  };
}

/**
 * The shared error handler's answers (a body that is not JSON, over the limit, badly encoded) in Sequence's
 * shape, like this route's own: Intake's shape failed the route's response schema, a 500.
 */
function inSequenceShape(
  _req: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
  done: (err: null, payload: unknown) => void,
) {
  const p = payload as { code?: unknown; message?: unknown; success?: unknown } | null;
  if (reply.statusCode >= 400 && p !== null && p.success === undefined && typeof p.code === 'string') {
    return done(null, { success: false, error: String(p.message), code: p.code });
  }
  done(null, payload);
}

function mapItem(raw: unknown): Mapped {
  if (!isObject(raw)) {
    return { reject: { code: 'INTAKE_ERR_INVALID_EVENT', reason: 'event must be a JSON object' }, raw };
  }
  const messageId = typeof raw.messageId === 'string' ? raw.messageId : null;
  if (raw.type !== 'track' && raw.type !== 'identify') {
    const reason = `Sequence accepts only "track" and "identify" calls, got ${stringifyCapped(raw.type ?? null, 64)}`;
    return { reject: { code: 'INTAKE_ERR_UNSUPPORTED_EVENT_TYPE', reason }, raw, messageId };
  }
  if (!nonEmptyString(raw.userId)) {
    const reason = 'userId is required (Sequence does not accept anonymous users)';
    return { reject: { code: 'INTAKE_ERR_MISSING_ID', reason }, raw, messageId };
  }
  return { item: raw };
}

export const sequence: Dialect = {
  name: 'sequence',
  routes(app, ctx) {
    app.post(
      '/event/batch',
      {
        preValidation: sequenceAuth(ctx.keys),
        attachValidation: true,
        schema: {
          summary: 'Create events (Sequence)',
          description:
            'Track and identify calls in the Segment spec; `userId` is required. 200 with one result per item: a duplicate messageId is `success: true, processed: false`; a refused item is `success: false` with its `error` and is kept at GET /rejected.',
          tags: ['sequence'],
          security: [...BEARER_SECURITY, { basic: [] }],
          body: Type.Object(
            { batch: Type.Array(Type.Unknown(), { description: 'track or identify calls' }) },
            { additionalProperties: true },
          ),
          response: {
            200: BatchResult,
            400: SequenceError,
            401: SequenceError,
            403: SequenceError,
            413: SequenceError,
            415: SequenceError,
          },
        },
        preSerialization: inSequenceShape,
      },
      async (req, reply) => {
        const body = req.body as unknown;
        if (!isObject(body) || !Array.isArray(body.batch)) {
          return reply.code(400).send({
            success: false,
            error: '`batch` is required: an array of track or identify calls',
            code: 'INTAKE_ERR_INVALID_BODY',
          });
        }
        const rc = requestContext(req, ctx, 'sequence', body.sentAt);
        const outcomes = await ingestMapped(ctx, rc, body.batch.map(mapItem));
        let errors = 0;
        let processed = 0;
        const batch = outcomes.map((o) => {
          if (o.status === 'rejected') {
            errors++;
            return { messageId: o.messageId, success: false, processed: false, error: o.reason };
          }
          if (o.status === 'accepted') processed++;
          return { messageId: o.messageId, success: true, processed: o.status === 'accepted' };
        });
        return { success: errors === 0, total: batch.length, errors, processed, batch };
      },
    );
  },
};
