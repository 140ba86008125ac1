// CORS, as @fastify/cors answered it with the app's options (origin reflected, the methods below, Retry-After
// exposed, preflights cached a day), done by the app's one onRequest hook (app.ts) instead of a plugin hook
// of its own: the plugin spread its options into a new object and made two closures per request (~5 µs of a
// single event's main-thread CPU), for headers that are the same on every answer.
import type { FastifyReply, FastifyRequest } from 'fastify';

const METHODS = 'GET, POST, PUT, DELETE, OPTIONS';
/** Browser SDKs (analytics.js) wait as long as a 429's Retry-After says, if they may read it. */
const EXPOSED = 'Retry-After';
const MAX_AGE = String(86_400);

/** The headers of every answer: the origin reflected (when the request names one), and Retry-After readable. */
export function addCorsHeaders(req: FastifyRequest, reply: FastifyReply): void {
  // The answer depends on the request's Origin, so caches must key on it.
  reply.header('vary', 'Origin');
  const origin = req.headers.origin;
  if (origin) reply.header('access-control-allow-origin', origin);
  reply.header('access-control-expose-headers', EXPOSED);
}

/**
 * Answers a browser's preflight (an OPTIONS request, on any path): 204 with the methods, the headers it asked
 * for and how long to cache the answer; 400 when it lacks Origin or Access-Control-Request-Method.
 */
export function answerPreflight(req: FastifyRequest, reply: FastifyReply): void {
  if (!req.headers.origin || !req.headers['access-control-request-method']) {
    reply.status(400).type('text/plain').send('Invalid Preflight Request');
    return;
  }
  reply.header('access-control-allow-methods', METHODS);
  reply.header('vary', 'Origin, Access-Control-Request-Headers');
  const asked = req.headers['access-control-request-headers'];
  if (asked !== undefined) reply.header('access-control-allow-headers', asked);
  reply.header('access-control-max-age', MAX_AGE);
  // Safari waits for a body unless a 204 says it has none.
  reply.code(204).header('content-length', '0').send();
}
