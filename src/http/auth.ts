// Finds the key wherever a dialect's SDKs send it and checks it has the scope the route needs; then its allow-lists and
// rate limits (keyGuards), before the body is read when the key is in a header.
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { AccessDenial } from '../auth/access.ts';
import type { KeyRing } from '../auth/keys.ts';
import type { Limiter, LimitName } from '../auth/limits.ts';
import { IntakeError } from '../core/errors.ts';
import type { ApiKey, Rate, Scope } from '../store/types.ts';
import type { TypedApp } from './context.ts';

declare module 'fastify' {
  interface FastifyRequest {
    auth: ApiKey;
    /** The key whose allow-lists and requests/s limit this request passed. */
    admitted: ApiKey | null;
    /** Charges the request's items to its key's events/s limit (RequestContext.chargeEvents); null: none. */
    chargeEvents: ((events: number) => void) | null;
  }
}

/** The last Basic credentials decoded: an SDK sends the same header on every request. */
let lastBasic = { header: '', user: '', pass: '' };

function basicOf(value: string): { user: string; pass: string } {
  if (value === lastBasic.header) return lastBasic;
  const decoded = Buffer.from(value.trim(), 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  const user = i < 0 ? decoded : decoded.slice(0, i);
  const pass = i < 0 ? '' : decoded.slice(i + 1);
  lastBasic = { header: value, user, pass };
  return lastBasic;
}

/** Candidate secrets, in order: Authorization (Bearer, or either half of Basic), X-Write-Key, X-API-Key, body writeKey/api_key. */
export function candidateKeys(req: FastifyRequest): string[] {
  const out: string[] = [];
  const h = req.headers.authorization;
  if (h) {
    const [scheme, value = ''] = h.split(' ', 2) as [string, string?];
    if (/^bearer$/i.test(scheme)) out.push(value.trim());
    else if (/^basic$/i.test(scheme)) {
      const { user, pass } = basicOf(value);
      if (user) out.push(user);
      if (pass) out.push(pass);
    }
  }
  const writeKey = req.headers['x-write-key'];
  if (typeof writeKey === 'string' && writeKey) out.push(writeKey);
  const apiKey = req.headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey) out.push(apiKey);
  const body = req.body as { writeKey?: unknown; api_key?: unknown } | undefined;
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    if (typeof body.writeKey === 'string' && body.writeKey) out.push(body.writeKey);
    if (typeof body.api_key === 'string' && body.api_key) out.push(body.api_key);
  }
  return out;
}

/**
 * A preValidation hook (the body is parsed, so body keys count) that admits a key holding `scope`. A valid key
 * without it is a 403 naming the scope missing; no valid key a 401. A callback hook, not an async one: no
 * promise and no microtask per request.
 */
export function requireScope(ring: KeyRing, scope: Scope) {
  const hook = (req: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void =>
    done(admitScope(ring, scope, req));
  // The scope rides on the hook: the app serves a route on the nodes whose roles need it (app.ts).
  return Object.assign(hook, { scope });
}

/** Sets `req.auth` to the request's key holding `scope`; else returns the refusal to answer (401 or 403). */
export function admitScope(ring: KeyRing, scope: Scope, req: FastifyRequest): IntakeError | undefined {
  // The key found in the headers before the body was read (keyGuards) is the one the loop below would pick.
  const early = req.admitted;
  if (early?.scopes.includes(scope)) {
    req.auth = early;
    return undefined;
  }
  const candidates = candidateKeys(req);
  if (candidates.length === 0) {
    return new IntakeError(
      'INTAKE_ERR_UNAUTHORIZED',
      'no API key: send it as Bearer token, Basic user name, X-Write-Key, X-API-Key, or writeKey in the body',
    );
  }
  let lacking: ApiKey | undefined;
  for (const c of candidates) {
    const key = ring.resolve(c);
    if (!key) continue;
    if (key.scopes.includes(scope)) {
      req.auth = key;
      return undefined;
    }
    lacking ??= key;
  }
  if (lacking) return missingScope(lacking, scope);
  return new IntakeError('INTAKE_ERR_UNAUTHORIZED', 'the API key is unknown or revoked');
}

/** The 403 of a valid key without the scope a route needs. */
export function missingScope(key: Pick<ApiKey, 'kind' | 'scopes'>, scope: Scope): IntakeError {
  return new IntakeError(
    'INTAKE_ERR_WRONG_KEY_KIND',
    `this route needs the ${scope} scope; this ${key.kind} key has ${key.scopes.join(', ')}`,
    { scope, keyScopes: key.scopes },
  );
}

/**
 * A key that may only ingest: the key a browser holds (Segment's write key, PostHog's project token, Trench's public
 * key). Routes that take a key in their URL answer only for these, so a key that can read never works in a URL.
 */
export const isPublicKey = (key: Pick<ApiKey, 'scopes'> | undefined): boolean =>
  key !== undefined && key.scopes.length === 1 && key.scopes[0] === 'ingest';

function denied(why: AccessDenial, req: FastifyRequest): IntakeError {
  if (why === 'INTAKE_ERR_IP_NOT_ALLOWED') {
    return new IntakeError(why, `this key is not accepted from IP ${req.ip}`, { ip: req.ip });
  }
  const origin = req.headers.origin;
  return origin === undefined
    ? new IntakeError(
        why,
        'this key is only accepted with an Origin header naming one of its allowed origins',
      )
    : new IntakeError(why, `this key is not accepted from origin ${origin}`, { origin });
}

function rateLimited(key: ApiKey, limit: LimitName, rate: Rate, waitSeconds: number, n: number): IntakeError {
  // Whole seconds, as Retry-After takes them; at least 1 so a client never retries in a tight loop.
  const retryAfter = Math.max(1, Math.ceil(waitSeconds));
  const what = limit === 'events' ? `the request's ${n} events were not stored` : 'the request was refused';
  return new IntakeError(
    'INTAKE_ERR_RATE_LIMITED',
    `key ${key.prefix}… is over its limit of ${rate.perSecond} ${limit}/s (burst ${rate.burst}): ${what}; retry after ${retryAfter} s`,
    { limit, perSecond: rate.perSecond, burst: rate.burst, retryAfter },
    { 'retry-after': String(retryAfter) },
  );
}

/**
 * Adds the allow-list and rate-limit preHandler hook to every route and returns the onRequest check, which the
 * app's own onRequest hook calls last (app.ts: one hook per request, not two; after CORS, so refusals carry
 * its headers).
 */
export function addKeyGuards(
  app: TypedApp,
  ring: KeyRing,
  limiter: Limiter,
): (req: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void {
  // Declared up front, so every request object has the same shape (fastify's advice for per-request fields).
  app.decorateRequest('admitted', null);
  app.decorateRequest('chargeEvents', null);
  const guards = keyGuards(ring, limiter);
  app.addHook('preHandler', guards.preHandler);
  return guards.onRequest;
}

/**
 * The allow-list and rate-limit hooks, for every route (addKeyGuards). onRequest checks a key sent in a
 * header before the body is read or parsed; preHandler checks the key auth settled on when it came in the body
 * (writeKey, api_key) or was another one. Events are charged by the ingest step once it knows how many there
 * are (RequestContext.chargeEvents). With no guard on any key both return after one boolean test.
 */
export function keyGuards(ring: KeyRing, limiter: Limiter) {
  const admit = (req: FastifyRequest, key: ApiKey): void => {
    const guard = ring.guardOf(key.id);
    req.chargeEvents = null;
    if (guard?.access) {
      const why = guard.access.denial(req.headers.origin, req.ip);
      if (why) throw denied(why, req);
    }
    const limit = guard?.rateLimit;
    if (limit?.requests) {
      const wait = limiter.take(key.id, 'requests', limit.requests, 1);
      if (wait > 0) throw rateLimited(key, 'requests', limit.requests, wait, 1);
    }
    const events = limit?.events;
    if (events) {
      req.chargeEvents = (n) => {
        const wait = limiter.take(key.id, 'events', events, n);
        if (wait > 0) throw rateLimited(key, 'events', events, wait, n);
      };
    }
    req.admitted = key;
  };
  return {
    onRequest(req: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
      // CORS preflights carry no key and are answered as before.
      if (!ring.guarded || req.method === 'OPTIONS') done();
      else {
        settle(done, () => {
          for (const c of candidateKeys(req)) {
            const key = ring.resolve(c);
            if (key) return admit(req, key);
          }
        });
      }
    },
    preHandler(req: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
      const key = req.auth as ApiKey | undefined;
      if (!ring.guarded || !key || req.admitted === key) done();
      else settle(done, () => admit(req, key));
    },
  };
}

/** Runs a synchronous check as a callback hook: no promise per request. */
function settle(done: HookHandlerDoneFunction, check: () => void): void {
  let error: Error | undefined;
  try {
    check();
  } catch (err) {
    error = err as Error;
  }
  done(error);
}
