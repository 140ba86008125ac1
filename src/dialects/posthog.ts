// PostHog's capture API (posthog-node, posthog-js and the HTTP API): POST /batch/, /capture/, /e/, /i/v0/e/,
// the key in the body (`api_key`, or `token` as posthog-js sends it), answered {"status": 1}. Body decoding,
// keys and the error shape are in posthog-http.ts; remote config and flags in posthog-config.ts.
import { Type } from '@sinclair/typebox';
import { IntakeError } from '../core/errors.ts';
import type { JsonObject } from '../core/event.ts';
import { isObject } from '../pipeline/validate.ts';
import { posthogConfigRoutes } from './posthog-config.ts';
import { posthogAuth, posthogBody, posthogErrorShape, posthogErrors } from './posthog-http.ts';
import { ingestMapped, type Mapped, nonEmptyString } from './shared.ts';
import { type Dialect, requestContext } from './types.ts';

const PATHS = ['/batch/', '/capture/', '/e/', '/i/v0/e/'];

const str = (v: unknown): string | undefined =>
  typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;

/**
 * Whether the distinct_id is still the device's random id rather than a user id. posthog-js (and the mobile
 * SDKs) say so with `$is_identified: false`; releases before that property have `$device_id` equal to the
 * distinct_id until identify. posthog-node sends neither, so a server-side distinct_id stays a user id.
 */
function isAnonymous(distinctId: string | undefined, props: JsonObject): boolean {
  if (distinctId === undefined) return false;
  if (typeof props.$is_identified === 'boolean') return !props.$is_identified;
  return str(props.$device_id) === distinctId;
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
  // A backend's user's address (posthog-node has none of its own to send). Moved, not copied: IP
  // anonymization rewrites context.ip and would leave a copy here untouched.
  if (typeof props.$ip === 'string' && props.$ip !== '') {
    context.ip = props.$ip;
    delete props.$ip;
  }
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
  const distinctId = str(raw.distinct_id) ?? str(props.distinct_id) ?? str(raw.$distinct_id);
  const anonymous = isAnonymous(distinctId, props);
  const base: JsonObject = {
    messageId: messageId ?? undefined,
    userId: anonymous ? undefined : distinctId,
    anonymousId: anonymous ? distinctId : str(props.$anon_distinct_id),
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
      // posthog.alias(id) before identify names the random id's person: the new id is the user id.
      return anonymous
        ? { item: { ...base, type: 'alias', userId: str(props.alias), previousId: distinctId } }
        : { item: { ...base, type: 'alias', previousId: str(props.alias) } };
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
    posthogConfigRoutes(app, ctx);
    const auth = posthogAuth(ctx.keys);
    const preParsing = posthogBody(app.initialConfig.bodyLimit ?? 1_048_576);
    for (const path of PATHS.flatMap((p) => [p, p.slice(0, -1)])) {
      app.post(
        path,
        {
          preParsing,
          preValidation: auth,
          preSerialization: posthogErrorShape,
          schema: {
            summary: `PostHog capture (${path})`,
            description:
              'posthog-node posts {api_key, batch, sent_at} to /batch/; posthog-js posts arrays of events to /e/ (gzip with ?compression=gzip-js, or base64 form data). `$identify` → identify (traits from $set, $set_once where $set leaves a key unset), `$create_alias` → alias, `$groupidentify` → group, `$pageview` → page, `$screen` → screen, anything else → track. `uuid` is the messageId; `distinct_id` is the userId, or the anonymousId while posthog-js says the person is not identified (`$is_identified: false`); `properties.$anon_distinct_id` is the anonymousId of an `$identify`. Invalid events are kept at GET /rejected; the answer is still {"status": 1}.',
            tags: ['posthog'],
            hide: !path.endsWith('/'),
            body: Type.Unknown({ description: 'One event, an array of events, or {api_key, batch: [...]}' }),
            response: { 200: Type.Object({ status: Type.Literal(1) }), ...posthogErrors },
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
