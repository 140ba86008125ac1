// Liveness and how many accepted events wait to be loaded; no key needed. GET / answers too: load balancers (and
// Trench's deployments) probe it.
import { Type } from '@sinclair/typebox';
import { VERSION } from '../../core/version.ts';
import type { RouteContext, TypedApp } from '../context.ts';

const started = Date.now();

export function healthRoutes(app: TypedApp, ctx: RouteContext): void {
  app.get(
    '/',
    {
      schema: {
        summary: "The server's name and version (a load balancer's probe)",
        tags: ['meta'],
        response: {
          200: Type.Object({
            name: Type.Literal('intake'),
            version: Type.String(),
            status: Type.Literal('ok'),
          }),
        },
      },
    },
    async () => ({ name: 'intake' as const, version: VERSION, status: 'ok' as const }),
  );

  app.get(
    '/health',
    {
      schema: {
        summary: 'Health check',
        tags: ['meta'],
        response: {
          200: Type.Object({
            status: Type.Literal('ok'),
            version: Type.String(),
            uptimeSeconds: Type.Number(),
            pendingEvents: Type.Integer(),
          }),
        },
      },
    },
    async () => ({
      status: 'ok' as const,
      version: VERSION,
      uptimeSeconds: Math.round((Date.now() - started) / 1000),
      pendingEvents: ctx.log.pending,
    }),
  );
}
