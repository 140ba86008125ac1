// UserFlux's profile pair: POST /profile (what its SDKs' identify() sends) stored as an identify event whose
// traits are the properties, and GET /profile/:userId, the merged profile in a documented shape.
import { Type } from '@sinclair/typebox';
import { IntakeError } from '../../core/errors.ts';
import { requestContext } from '../../dialects/types.ts';
import { requireScope } from '../auth.ts';
import type { RouteContext, TypedApp } from '../context.ts';
import { BEARER_SECURITY, ErrorSchema, errorResponses } from '../schemas.ts';
import { UserFluxProfileSchema } from './user-schemas.ts';

const Body = Type.Object(
  {
    userId: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    anonymousId: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    properties: Type.Optional(Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()])),
  },
  { additionalProperties: true, description: 'UserFlux profile update; `properties` merge into the traits' },
);

export function profileRoutes(app: TypedApp, ctx: RouteContext): void {
  app.post(
    '/profile',
    {
      preValidation: requireScope(ctx.keys, 'ingest'),
      schema: {
        summary: 'Update a user profile (UserFlux)',
        description:
          'Stored as an identify event (userId, anonymousId, traits = properties) in the same commit as other events: 204 once durable. A userId with an anonymousId links them.',
        tags: ['userflux'],
        security: BEARER_SECURITY,
        body: Body,
        response: { 204: Type.Null({ description: 'Stored' }), ...errorResponses },
      },
    },
    async (req, reply) => {
      const { userId, anonymousId, properties } = req.body;
      const item = { type: 'identify', userId, anonymousId, traits: properties ?? {} };
      const s = await ctx.ingestor.ingest(requestContext(req, ctx, 'userflux'), [item]);
      const only = s.items[0];
      if (only?.status === 'rejected')
        throw new IntakeError(only.code, only.reason, { messageId: only.messageId });
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/profile/:userId',
    {
      preValidation: requireScope(ctx.keys, 'read'),
      schema: {
        summary: 'Read a user profile (UserFlux-style)',
        description:
          '`userId` may be any linked id. `properties` are the merged traits; `userId` is the canonical person id.',
        tags: ['userflux'],
        security: BEARER_SECURITY,
        params: Type.Object({ userId: Type.String({ minLength: 1, maxLength: 512 }) }),
        response: { 200: UserFluxProfileSchema, ...errorResponses, 404: ErrorSchema },
      },
    },
    async (req) => {
      const u = await ctx.store.profiles.getUser(req.auth.workspaceId, req.params.userId);
      if (!u) throw new IntakeError('INTAKE_ERR_NOT_FOUND', `no user ${req.params.userId} in this workspace`);
      return {
        userId: u.id,
        userIds: u.userIds,
        anonymousIds: u.anonymousIds,
        properties: u.traits,
        groups: u.groups,
        firstSeen: u.firstSeen,
        lastSeen: u.lastSeen,
        eventCount: u.eventCount,
      } as never;
    },
  );
}
