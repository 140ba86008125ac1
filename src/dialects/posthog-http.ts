// What every PostHog route shares (capture, remote config, flags, decide): the body encodings posthog clients
// send, where their key is, and PostHog's error shape.
import { pipeline, Transform } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest, RequestPayload } from 'fastify';
import type { KeyRing } from '../auth/keys.ts';
import { ERRORS, IntakeError } from '../core/errors.ts';
import { candidateKeys, missingScope } from '../http/auth.ts';
import { decompress } from '../http/body.ts';
import { isObject } from '../pipeline/validate.ts';
import type { ApiKey } from '../store/types.ts';

const isGzip = (b: Buffer) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
const ungzip = (b: Buffer, limit: number, what: string) => decompress('gzip', b, limit, what);

/**
 * The JSON inside a form body's `data=`: urlencoded JSON as it is, else base64 (standard or URL-safe) of JSON
 * or of gzipped JSON. A form decoder turns an unescaped `+` into a space, so spaces are read back as `+`
 * (PostHog's own capture does the same for clients that do not escape their base64).
 */
async function formData(data: string, limit: number): Promise<Buffer> {
  const t = data.trim();
  if (t.startsWith('{') || t.startsWith('[')) return Buffer.from(t, 'utf8');
  const bytes = Buffer.from(t.replaceAll(' ', '+'), 'base64');
  return isGzip(bytes) ? ungzip(bytes, limit, 'data= field') : bytes;
}

/**
 * A preParsing hook for every PostHog route. posthog-js sends gzip (`?compression=gzip-js`, or nothing in
 * current releases) as text/plain with no Content-Encoding, or `?compression=base64` as a form `data=<base64
 * JSON>`. The shared body parser decodes Content-Encoding and parses JSON, so this hook only sets the missing
 * header when the body starts with the gzip magic bytes, and turns a form body into its JSON. A form without
 * `data=` is passed on as it is (mislabelled JSON still parses). `lz64`, removed from posthog-js in 2021, is
 * refused.
 */
export function posthogBody(limit: number) {
  return async (req: FastifyRequest, _reply: FastifyReply, payload: RequestPayload) => {
    if (req.headers['content-encoding']) return payload;
    const form = /^application\/x-www-form-urlencoded/i.test(String(req.headers['content-type'] ?? ''));
    let seen = 0;
    let head: Buffer | null = Buffer.alloc(0);
    const held: Buffer[] = [];
    let over = false;
    const fromForm = async (): Promise<Buffer> => {
      let raw: Buffer = Buffer.concat(held);
      if (isGzip(raw)) raw = await ungzip(raw, limit, 'body');
      const params = new URLSearchParams(raw.toString('utf8'));
      const data = params.get('data');
      if (data === null) return raw;
      const compression = params.get('compression') ?? (req.query as { compression?: unknown }).compression;
      if (compression === 'lz64') {
        throw new IntakeError(
          'INTAKE_ERR_UNSUPPORTED_ENCODING',
          'lz64 compression is not supported; use gzip-js',
        );
      }
      return formData(data, limit);
    };
    const out = new Transform({
      transform(chunk: Buffer, _enc, done) {
        seen += chunk.length;
        (out as unknown as { receivedEncodedLength: number }).receivedEncodedLength = seen;
        if (form) {
          if (over) return done();
          if (seen > limit) {
            // Passed on for the body parser to see `receivedEncodedLength` over the limit and answer 413 as for
            // any body. Failing this stream instead would make pipeline() destroy the request, and with it
            // the connection, before the client could read the answer.
            over = true;
            held.length = 0;
            return done(null, chunk);
          }
          held.push(chunk);
          return done();
        }
        if (head === null) return done(null, chunk);
        head = Buffer.concat([head, chunk]);
        if (head.length < 2) return done();
        if (isGzip(head)) req.raw.headers['content-encoding'] = 'gzip';
        const first = head;
        head = null;
        done(null, first);
      },
      flush(done) {
        if (head !== null && head.length > 0) this.push(head);
        if (!form || over) return done();
        fromForm().then(
          (json) => done(null, json),
          (err: unknown) => done(err as Error),
        );
      },
    });
    // pipeline() passes a failing upload on to `out`, whose error the body parser then reports.
    return pipeline(payload, out, () => {});
  };
}

/** Keys posthog clients send: body `api_key`/`token`, an event's `properties.token`, `?token=`; then the usual places. */
function posthogKeys(req: FastifyRequest): string[] {
  const out: string[] = [];
  const add = (v: unknown) => {
    if (typeof v === 'string' && v) out.push(v);
  };
  const fromEvent = (e: unknown) => {
    if (!isObject(e)) return;
    add(e.api_key);
    add(e.token);
    if (isObject(e.properties)) add(e.properties.token);
  };
  const body = req.body as unknown;
  if (Array.isArray(body)) fromEvent(body[0]);
  else if (isObject(body)) {
    fromEvent(body);
    if (Array.isArray(body.batch)) fromEvent(body.batch[0]);
  }
  const q = req.query as Record<string, unknown>;
  add(q.token);
  add(q.api_key);
  return [...out, ...candidateKeys(req)];
}

/** A preValidation hook: the request's key must have the ingest scope (a write key: the project token, in PostHog's terms). */
export function posthogAuth(ring: KeyRing) {
  return async (req: FastifyRequest) => {
    let lacking: ApiKey | undefined;
    for (const c of posthogKeys(req)) {
      const key = ring.resolve(c);
      if (key?.scopes.includes('ingest')) {
        req.auth = key;
        return;
      }
      if (key) lacking ??= key;
    }
    if (lacking) throw missingScope(lacking, 'ingest');
    throw new IntakeError(
      'INTAKE_ERR_UNAUTHORIZED',
      'Project API key invalid: send a write key as token, api_key or properties.token',
    );
  };
}

/** PostHog's (Django REST framework's) error `type` for a status. */
function errorType(status: number): string {
  if (status === 400) return 'validation_error';
  if (status === 401 || status === 403) return 'authentication_error';
  if (status === 429) return 'throttled_error';
  return status >= 500 ? 'server_error' : 'invalid_request';
}

/**
 * A preSerialization hook: an error answer on a PostHog route carries PostHog's fields (`type`, `detail`,
 * `attr`) beside Intake's, so a client that reads either shape finds what it expects. `code` stays Intake's
 * registry code (PostHog's own codes, like `invalid_api_key`, are not reproduced).
 */
export async function posthogErrorShape(_req: FastifyRequest, reply: FastifyReply, payload: unknown) {
  if (reply.statusCode < 400 || !isObject(payload) || typeof payload.code !== 'string') return payload;
  if (!(payload.code in ERRORS)) return payload;
  return { type: errorType(reply.statusCode), detail: payload.message, attr: null, ...payload };
}

const PostHogError = Type.Object(
  {
    type: Type.String({
      description:
        "PostHog's error type: validation_error, authentication_error, invalid_request, server_error",
    }),
    code: Type.Union(Object.keys(ERRORS).map((c) => Type.Literal(c))),
    detail: Type.String({ description: 'The message, where PostHog clients look for it' }),
    attr: Type.Null(),
    statusCode: Type.Integer(),
    error: Type.String(),
    message: Type.String(),
    details: Type.Optional(Type.Unknown()),
  },
  {
    description:
      "PostHog's error shape {type, code, detail, attr} over Intake's {statusCode, code, error, message}",
  },
);

export const posthogErrors = {
  400: PostHogError,
  401: PostHogError,
  403: PostHogError,
  404: PostHogError,
  413: PostHogError,
  415: PostHogError,
} as const;
