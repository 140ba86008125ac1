// UserFlux's Integration API: POST /event/ingest (one event) and /event/ingest/batch ({events}, at most 50),
// each event {userId, anonymousId, name, timestamp (epoch ms), properties}; both answer 204 with no body.
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { IntakeError } from '../core/errors.ts';
import type { JsonObject, RequestContext } from '../core/event.ts';
import { requireScope } from '../http/auth.ts';
import type { RouteContext } from '../http/context.ts';
import { BEARER_SECURITY, errorResponses } from '../http/schemas.ts';
import { isObject } from '../pipeline/validate.ts';
import { ingestMapped, type Mapped } from './shared.ts';
import { type Dialect, requestContext } from './types.ts';

/** UserFlux's documented batch size. */
const MAX_EVENTS = 50;

const Query = Type.Object(
  {
    locationEnrichment: Type.Optional(
      Type.Boolean({
        description:
          'false: no context.location for this request (default true: located where the workspace allows)',
      }),
    ),
  },
  { additionalProperties: true },
);

/** A UserFlux event as a Segment track; its SDK's `deviceData` and `sessionId` go to the context. */
function toTrack(raw: unknown): Mapped {
  if (!isObject(raw)) {
    return { reject: { code: 'INTAKE_ERR_INVALID_EVENT', reason: 'event must be a JSON object' }, raw };
  }
  const context: JsonObject = {};
  if (isObject(raw.deviceData)) context.deviceData = raw.deviceData;
  if (typeof raw.sessionId === 'string') context.sessionId = raw.sessionId;
  return {
    item: {
      type: 'track',
      event: raw.name,
      userId: raw.userId,
      anonymousId: raw.anonymousId,
      timestamp: raw.timestamp,
      properties: raw.properties,
      context,
    },
  };
}

function context(req: FastifyRequest<{ Querystring: { locationEnrichment?: boolean } }>, ctx: RouteContext) {
  const rc: RequestContext = requestContext(req, ctx, 'userflux');
  // Passed on as asked: true also locates a client-set context.ip, false turns location off for the request.
  if (typeof req.query.locationEnrichment === 'boolean') rc.enrichGeo = req.query.locationEnrichment;
  return rc;
}

const Event = Type.Object(
  {
    userId: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    anonymousId: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    name: Type.Optional(Type.String()),
    timestamp: Type.Optional(Type.Number({ description: 'Epoch milliseconds' })),
    properties: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: true },
);

export const userflux: Dialect = {
  name: 'userflux',
  routes(app, ctx) {
    const write = requireScope(ctx.keys, 'ingest');
    const response = { 204: Type.Null({ description: 'Stored' }), ...errorResponses };

    app.post(
      '/event/ingest',
      {
        preValidation: write,
        schema: {
          summary: 'Ingest one event (UserFlux)',
          description: 'A track named `name`. 204 once stored; an invalid event is a 400 naming the field.',
          tags: ['userflux'],
          security: BEARER_SECURITY,
          querystring: Query,
          body: Event,
          response,
        },
      },
      async (req, reply) => {
        const [only] = await ingestMapped(ctx, context(req, ctx), [toTrack(req.body)]);
        if (only?.status === 'rejected') {
          throw new IntakeError(only.code, only.reason, { messageId: only.messageId });
        }
        return reply.code(204).send(null);
      },
    );

    app.post(
      '/event/ingest/batch',
      {
        preValidation: write,
        schema: {
          summary: 'Ingest a batch of events (UserFlux)',
          description: `At most ${MAX_EVENTS} events. 204 once stored; invalid events in a well-formed batch are kept at GET /rejected (as with Segment batches, so the SDK does not resend the valid ones).`,
          tags: ['userflux'],
          security: BEARER_SECURITY,
          querystring: Query,
          body: Type.Object({ events: Type.Array(Type.Unknown()) }, { additionalProperties: true }),
          response,
        },
      },
      async (req, reply) => {
        const { events } = req.body;
        if (events.length > MAX_EVENTS) {
          throw new IntakeError(
            'INTAKE_ERR_TOO_MANY_EVENTS',
            `a batch holds at most ${MAX_EVENTS} events, got ${events.length}`,
          );
        }
        await ingestMapped(ctx, context(req, ctx), events.map(toTrack));
        return reply.code(204).send(null);
      },
    );
  },
};
