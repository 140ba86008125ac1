// Trench's POST /events: {events: [...]} in the Segment spec, answered 201 with the stored events.
import { Type } from '@sinclair/typebox';
import { requireKey } from '../http/auth.ts';
import { BEARER_SECURITY, EventSchema, errorResponses, ItemRejection } from '../http/schemas.ts';
import { batchResponse } from './segment.ts';
import { type Dialect, requestContext } from './types.ts';

export const trench: Dialect = {
  name: 'trench',
  routes(app, ctx) {
    app.post(
      '/events',
      {
        preValidation: requireKey(ctx.keys, ['write']),
        schema: {
          summary: 'Create events (Trench)',
          description:
            '201 with the newly stored events in `results`. Duplicates (messageId already stored) are counted in `duplicates`; invalid items are listed in `rejected` and kept at GET /rejected.',
          tags: ['trench'],
          security: BEARER_SECURITY,
          body: Type.Object({ events: Type.Array(Type.Unknown()) }, { additionalProperties: true }),
          response: {
            201: Type.Object({
              results: Type.Array(EventSchema),
              limit: Type.Integer(),
              offset: Type.Integer(),
              total: Type.Integer(),
              duplicates: Type.Integer(),
              rejected: Type.Array(ItemRejection),
            }),
            ...errorResponses,
          },
        },
      },
      async (req, reply) => {
        const s = await ctx.ingestor.ingest(requestContext(req, ctx, 'trench'), req.body.events);
        const results = s.items.flatMap((it) => (it.status === 'accepted' ? [it.event] : []));
        const { duplicates, rejected } = batchResponse(s);
        return reply.code(201).send({
          results: results as never,
          limit: results.length,
          offset: 0,
          total: results.length,
          duplicates,
          rejected,
        });
      },
    );
  },
};
