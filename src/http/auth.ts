// Finds the key wherever a dialect's SDKs send it and checks its kind for the route.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { KeyRing } from '../auth/keys.ts';
import { IntakeError } from '../core/errors.ts';
import type { ApiKey, KeyKind } from '../store/types.ts';

declare module 'fastify' {
  interface FastifyRequest {
    auth: ApiKey;
  }
}

/** Candidate secrets, in order: Authorization (Bearer, or either half of Basic), X-Write-Key, X-API-Key, body writeKey/api_key. */
export function candidateKeys(req: FastifyRequest): string[] {
  const out: string[] = [];
  const h = req.headers.authorization;
  if (h) {
    const [scheme, value = ''] = h.split(' ', 2) as [string, string?];
    if (/^bearer$/i.test(scheme)) out.push(value.trim());
    else if (/^basic$/i.test(scheme)) {
      const decoded = Buffer.from(value.trim(), 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      const user = i < 0 ? decoded : decoded.slice(0, i);
      const pass = i < 0 ? '' : decoded.slice(i + 1);
      if (user) out.push(user);
      if (pass) out.push(pass);
    }
  }
  for (const name of ['x-write-key', 'x-api-key'] as const) {
    const v = req.headers[name];
    if (typeof v === 'string' && v) out.push(v);
  }
  const body = req.body as { writeKey?: unknown; api_key?: unknown } | undefined;
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    if (typeof body.writeKey === 'string' && body.writeKey) out.push(body.writeKey);
    if (typeof body.api_key === 'string' && body.api_key) out.push(body.api_key);
  }
  return out;
}

/** A preValidation hook (the body is parsed, so body keys count) that admits keys of the given kinds. */
export function requireKey(ring: KeyRing, kinds: KeyKind[]) {
  return async (req: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const candidates = candidateKeys(req);
    if (candidates.length === 0) {
      throw new IntakeError(
        'INTAKE_ERR_UNAUTHORIZED',
        'no API key: send it as Bearer token, Basic user name, X-Write-Key, X-API-Key, or writeKey in the body',
      );
    }
    let wrongKind: ApiKey | undefined;
    for (const c of candidates) {
      const key = ring.resolve(c);
      if (!key) continue;
      if (kinds.includes(key.kind)) {
        req.auth = key;
        return;
      }
      wrongKind ??= key;
    }
    if (wrongKind) {
      throw new IntakeError(
        'INTAKE_ERR_WRONG_KEY_KIND',
        `a ${wrongKind.kind} key cannot be used here; this route needs a ${kinds.join(' or ')} key`,
      );
    }
    throw new IntakeError('INTAKE_ERR_UNAUTHORIZED', 'the API key is unknown or revoked');
  };
}
