// A dialect is one wire format: its routes, where its key lives, and the mapping to and from canonical events.
import type { FastifyRequest } from 'fastify';
import type { RequestContext } from '../core/event.ts';
import type { RouteContext, TypedApp } from '../http/context.ts';

export interface Dialect {
  name: string;
  routes(app: TypedApp, ctx: RouteContext): void;
}

/** The request facts shared by every event of a request. */
export function requestContext(
  req: FastifyRequest,
  ctx: RouteContext,
  source: string,
  sentAt?: unknown,
): RequestContext {
  return {
    workspaceId: req.auth.workspaceId,
    source,
    ip: req.ip,
    receivedAt: ctx.now(),
    sentAt,
    chargeEvents: req.chargeEvents ?? undefined,
  };
}
