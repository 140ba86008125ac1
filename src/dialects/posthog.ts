// PostHog's capture API (posthog-node, posthog-js and the HTTP API): POST /batch/, /capture/, /e/, /i/v0/e/,
// the key in the body (`api_key`, or `token` as posthog-js sends it), answered {"status": 1}.
import { pipeline, Transform } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest, RequestPayload } from 'fastify';
import type { KeyRing } from '../auth/keys.ts';
import { candidateKeys } from '../http/auth.ts';
import { IntakeError } from '../http/errors.ts';
import { errorResponses } from '../http/schemas.ts';
import type { JsonObject } from '../pipeline/types.ts';
import { isObject } from '../pipeline/validate.ts';
import { ingestMapped, type Mapped, nonEmptyString } from './shared.ts';
import { type Dialect, requestContext } from './types.ts';

const PATHS = ['/batch/', '/capture/', '/e/', '/i/v0/e/'];

const str = (v: unknown): string | undefined =>
  typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;

/**
 * posthog-js sends `?compression=gzip-js` with a gzip body as text/plain and no Content-Encoding, or
 * `?compression=base64` as a form `data=<base64 JSON>`. The shared body parser decodes Content-Encoding and
 * parses JSON, so this hook only sets the missing header when the body starts with the gzip magic bytes,
 * and turns a form body into its JSON. (`lz64`, removed from posthog-js in 2021, is not supported.)
 */
function captureBody(limit: number) {
  return async (req: FastifyRequest, _reply: FastifyReply, payload: RequestPayload) => {
    if (req.headers['content-encoding']) return payload;
    const form = /^application\/x-www-form-urlencoded/i.test(String(req.headers['content-type'] ?? ''));
    let seen = 0;
    let head: Buffer | null = Buffer.alloc(0);
    const held: Buffer[] = [];
    let over = false;
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
        if (head[0] === 0x1f && head[1] === 0x8b) req.raw.headers['content-encoding'] = 'gzip';
        const first = head;
        head = null;
        done(null, first);
      },
      flush(done) {
        if (head !== null && head.length > 0) this.push(head);
        if (!form || over) return done();
        const params = new URLSearchParams(Buffer.concat(held).toString('utf8'));
        const data = params.get('data');
        if (data === null) return done(null, Buffer.concat(held));
        const compression = params.get('compression') ?? (req.query as { compression?: unknown }).compression;
        if (compression === 'lz64') {
          return done(
            new IntakeError(
              'INTAKE_ERR_UNSUPPORTED_ENCODING',
              'lz64 compression is not supported; use gzip-js',
            ),
          );
        }
        const t = data.trimStart();
        const json = t.startsWith('{') || t.startsWith('[') ? t : Buffer.from(t, 'base64').toString('utf8');
        done(null, Buffer.from(json, 'utf8'));
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

function posthogAuth(ring: KeyRing) {
  return async (req: FastifyRequest) => {
    let wrong: string | undefined;
    for (const c of posthogKeys(req)) {
      const key = ring.resolve(c);
      if (key?.kind === 'write') {
        req.auth = key;
        return;
      }
      if (key) wrong ??= key.kind;
    }
    if (wrong) {
      throw new IntakeError(
        'INTAKE_ERR_WRONG_KEY_KIND',
        `a ${wrong} key cannot be used here; send a write key`,
      );
    }
    throw new IntakeError(
      'INTAKE_ERR_UNAUTHORIZED',
      'no known write key in api_key, token or properties.token',
    );
  };
}

/** One PostHog event as a Segment event. */
function toSegment(raw: unknown, sentAt: unknown, receivedAt: Date): Mapped {
  if (!isObject(raw)) {
    return { reject: { code: 'INTAKE_ERR_INVALID_EVENT', reason: 'event must be a JSON object' }, raw };
  }
  const messageId = str(raw.uuid) ?? null;
  const name = raw.event;
  if (!nonEmptyString(name)) {
    return {
      reject: { code: 'INTAKE_ERR_MISSING_EVENT_NAME', reason: '`event` is required' },
      raw,
      messageId,
    };
  }
  const { token: _t, api_key: _k, ...props } = isObject(raw.properties) ? raw.properties : {};
  // posthog-js sends person updates beside `properties`, posthog-node inside; both end up in properties.
  for (const k of ['$set', '$set_once'] as const) {
    if (isObject(raw[k])) props[k] = { ...(isObject(props[k]) ? props[k] : {}), ...raw[k] };
  }
  const context: JsonObject = {};
  if (typeof props.$lib === 'string') context.library = { name: props.$lib, version: props.$lib_version };
  if (typeof props.$raw_user_agent === 'string') context.userAgent = props.$raw_user_agent;
  // `offset` (ms before sending) is posthog-js's alternative to a timestamp; it is relative to arrival, so
  // no further skew correction applies. Otherwise the batch's sent_at corrects the client clock, unless
  // the event opts out as PostHog allows.
  let timestamp: unknown = raw.timestamp;
  let eventSentAt: unknown = props.$ignore_sent_at === true ? undefined : sentAt;
  if ((timestamp === undefined || timestamp === null) && typeof raw.offset === 'number') {
    const at = new Date(receivedAt.getTime() - raw.offset);
    // toISOString throws past ±8.64e15 ms (a 500 before): such an offset names no time, the event is refused.
    if (Number.isNaN(at.getTime())) {
      const reason = `offset ${raw.offset} ms before arrival is not a date`;
      return { reject: { code: 'INTAKE_ERR_INVALID_TIMESTAMP', reason }, raw, messageId };
    }
    timestamp = at.toISOString();
    eventSentAt = undefined;
  }
  const base: JsonObject = {
    messageId: messageId ?? undefined,
    userId: str(raw.distinct_id) ?? str(props.distinct_id) ?? str(raw.$distinct_id),
    anonymousId: str(props.$anon_distinct_id),
    timestamp,
    sentAt: eventSentAt,
    properties: props,
    context,
  };
  switch (name) {
    case '$identify': {
      // Without a profile store (another issue), $set_once can only fill the traits $set leaves unset
      // in this same event; the profile builder will apply it against earlier values.
      const set = isObject(props.$set) ? props.$set : {};
      const once = isObject(props.$set_once) ? props.$set_once : {};
      return { item: { ...base, type: 'identify', traits: { ...once, ...set } } };
    }
    case '$create_alias':
      return { item: { ...base, type: 'alias', previousId: str(props.alias) } };
    case '$groupidentify':
      return {
        item: {
          ...base,
          type: 'group',
          groupId: str(props.$group_key),
          traits: isObject(props.$group_set) ? props.$group_set : {},
        },
      };
    case '$pageview':
      return { item: { ...base, type: 'page', name: str(props.title) } };
    case '$screen':
      return { item: { ...base, type: 'screen', name: str(props.$screen_name) } };
    default:
      return { item: { ...base, type: 'track', event: name } };
  }
}

export const posthog: Dialect = {
  name: 'posthog',
  routes(app, ctx) {
    const auth = posthogAuth(ctx.keys);
    const preParsing = captureBody(app.initialConfig.bodyLimit ?? 1_048_576);
    for (const path of PATHS.flatMap((p) => [p, p.slice(0, -1)])) {
      app.post(
        path,
        {
          preParsing,
          preValidation: auth,
          schema: {
            summary: `PostHog capture (${path})`,
            description:
              'posthog-node posts {api_key, batch, sent_at} to /batch/; posthog-js posts arrays of events to /e/ (gzip with ?compression=gzip-js, or base64 form data). `$identify` → identify (traits from $set, $set_once where $set leaves a key unset), `$create_alias` → alias, `$groupidentify` → group, `$pageview` → page, `$screen` → screen, anything else → track. `uuid` is the messageId, `distinct_id` the userId, `properties.$anon_distinct_id` the anonymousId. Invalid events are kept at GET /rejected; the answer is still {"status": 1}.',
            tags: ['posthog'],
            hide: !path.endsWith('/'),
            body: Type.Unknown({ description: 'One event, an array of events, or {api_key, batch: [...]}' }),
            response: { 200: Type.Object({ status: Type.Literal(1) }), ...errorResponses },
          },
        },
        async (req) => {
          const body = req.body as unknown;
          const q = req.query as Record<string, unknown>;
          let events: unknown[];
          let sentAt: unknown;
          if (Array.isArray(body)) events = body;
          else if (isObject(body) && Array.isArray(body.batch)) {
            events = body.batch;
            sentAt = body.sent_at;
          } else if (isObject(body) && 'event' in body) {
            events = [body];
            sentAt = body.sent_at;
          } else {
            throw new IntakeError(
              'INTAKE_ERR_INVALID_BODY',
              'the body must be an event, an array of events, or {api_key, batch: [...]}',
            );
          }
          // posthog-js puts its send time in the `_` cache-buster (epoch ms) instead of sent_at.
          const cacheBuster = typeof q._ === 'string' ? Number(q._) : Number.NaN;
          sentAt ??= Number.isFinite(cacheBuster) ? cacheBuster : undefined;
          const rc = requestContext(req, ctx, 'posthog');
          await ingestMapped(
            ctx,
            rc,
            events.map((e) => toSegment(e, sentAt, rc.receivedAt)),
          );
          return { status: 1 as const };
        },
      );
    }
  },
};
