// Bento's POST /v1/batch/events: {events: [{type, email, fields?, details?, date?}]}, answered with the
// count recorded and the count failed. Each Bento event becomes a track, an identify, or both.
import { Type } from '@sinclair/typebox';
import { IntakeError } from '../core/errors.ts';
import type { JsonObject } from '../core/event.ts';
import { requireScope } from '../http/auth.ts';
import { errorResponses } from '../http/schemas.ts';
import { isObject } from '../pipeline/validate.ts';
import { ingestMapped, type Mapped, nameUuid, nonEmptyString } from './shared.ts';
import { type Dialect, requestContext } from './types.ts';

/** Bento's documented batch size. */
const MAX_EVENTS = 1000;

type Refusal = { code: 'INTAKE_ERR_MISSING_FIELD' | 'INTAKE_ERR_INVALID_EVENT'; reason: string };

/** A Bento event as its canonical items, or the reason it is refused. */
function expand(raw: unknown): JsonObject[] | Refusal {
  if (!isObject(raw)) return { code: 'INTAKE_ERR_INVALID_EVENT', reason: 'event must be a JSON object' };
  const { type, email, fields, details, date } = raw;
  if (!nonEmptyString(type)) return { code: 'INTAKE_ERR_MISSING_FIELD', reason: '`type` is required' };
  if (!nonEmptyString(email) || !email.includes('@')) {
    return { code: 'INTAKE_ERR_MISSING_FIELD', reason: '`email` is required and must be an email address' };
  }
  if (fields !== undefined && fields !== null) {
    if (!isObject(fields)) return { code: 'INTAKE_ERR_INVALID_EVENT', reason: '`fields` must be an object' };
    for (const [k, v] of Object.entries(fields)) {
      if (typeof v === 'object' && v !== null) {
        return { code: 'INTAKE_ERR_INVALID_EVENT', reason: `fields.${k} must not be nested` };
      }
    }
  }
  if (details !== undefined && details !== null && !isObject(details)) {
    return { code: 'INTAKE_ERR_INVALID_EVENT', reason: '`details` must be an object' };
  }
  // Emails are matched case-insensitively, so one person is one userId whatever case a client sends.
  const user = email.trim().toLowerCase();
  const props: JsonObject = isObject(details) ? details : {};
  const traits: JsonObject = { ...(isObject(fields) ? fields : {}), email: user };
  const base = { userId: user, timestamp: date ?? undefined };
  const track = (extra: JsonObject = {}): JsonObject => ({
    ...base,
    ...extra,
    type: 'track',
    event: type,
    properties: props,
  });
  const identify = (change: JsonObject = {}, extra: JsonObject = {}): JsonObject => ({
    ...base,
    ...extra,
    type: 'identify',
    traits: { ...traits, ...change },
  });
  const hasFields = Object.keys(traits).length > 1;

  switch (type) {
    case '$update_fields':
      return [identify()];
    case '$purchase': {
      const unique = isObject(props.unique) ? props.unique.key : undefined;
      const value = isObject(props.value) ? props.value : undefined;
      if (!nonEmptyString(unique) && typeof unique !== 'number') {
        return { code: 'INTAKE_ERR_MISSING_FIELD', reason: '$purchase needs details.unique.key' };
      }
      if (typeof value?.amount !== 'number' || !nonEmptyString(value.currency)) {
        return {
          code: 'INTAKE_ERR_MISSING_FIELD',
          reason: '$purchase needs details.value.amount (a number) and details.value.currency',
        };
      }
      // The unique key makes a purchase idempotent: the same email and key always give the same messageIds,
      // whatever workspace or retry they arrive in, so a resent purchase is a duplicate, not a second sale.
      const id = nameUuid(`bento:$purchase\u0000${user}\u0000${String(unique)}`);
      const items = [track({ messageId: id })];
      if (hasFields) items.push(identify({}, { messageId: nameUuid(`${id}:identify`) }));
      return items;
    }
    case '$subscribe':
    case '$unsubscribe':
      return [identify({ subscribed: type === '$subscribe' }), track()];
    case '$tag':
    case '$remove_tag': {
      // Without a profile store (another issue) a tag change is carried as traits on an identify:
      // `tags_added: [tag]` or `tags_removed: [tag]`; the profile builder applies them in order. The track
      // is kept too so the tag change shows in the event stream like any other Bento event.
      const tag = props.tag;
      if (!nonEmptyString(tag))
        return { code: 'INTAKE_ERR_MISSING_FIELD', reason: `${type} needs details.tag` };
      return [identify({ [type === '$tag' ? 'tags_added' : 'tags_removed']: [tag] }), track()];
    }
    default:
      return hasFields ? [identify(), track()] : [track()];
  }
}

export const bento: Dialect = {
  name: 'bento',
  routes(app, ctx) {
    app.post(
      '/v1/batch/events',
      {
        preValidation: requireScope(ctx.keys, 'ingest'),
        schema: {
          summary: 'Create events (Bento)',
          description:
            'Each event is a track named `type` for the user `email` (userId, lower-cased; also traits.email); `fields` update traits through an identify, `details` are the properties, `date` the time. `$update_fields` is an identify only; `$subscribe`/`$unsubscribe` set traits.subscribed; `$tag`/`$remove_tag` carry traits.tags_added/tags_removed from details.tag; `$purchase` needs details.unique.key and details.value.amount/currency and is idempotent by email + unique key. `results` counts the events recorded (a duplicate counts as recorded), `failed` those refused (kept at GET /rejected).',
          tags: ['bento'],
          security: [{ basic: [] }, { bearer: [] }],
          body: Type.Object(
            { events: Type.Array(Type.Unknown(), { minItems: 1, description: `1 to ${MAX_EVENTS} events` }) },
            { additionalProperties: true },
          ),
          response: {
            200: Type.Object({
              results: Type.Integer({ description: 'Events recorded' }),
              failed: Type.Integer({ description: 'Events refused' }),
            }),
            ...errorResponses,
          },
        },
      },
      async (req) => {
        if (req.body.events.length > MAX_EVENTS) {
          throw new IntakeError(
            'INTAKE_ERR_TOO_MANY_EVENTS',
            `a batch holds at most ${MAX_EVENTS} events, got ${req.body.events.length}`,
          );
        }
        const mapped: Mapped[] = [];
        const owner: number[] = [];
        req.body.events.forEach((raw, i) => {
          const out = expand(raw);
          if (Array.isArray(out)) {
            for (const item of out) {
              mapped.push({ item });
              owner.push(i);
            }
          } else {
            mapped.push({ reject: out, raw });
            owner.push(i);
          }
        });
        const outcomes = await ingestMapped(ctx, requestContext(req, ctx, 'bento'), mapped);
        // A Bento event is recorded only when all of its items are (stored now or already stored).
        const failed = new Set<number>();
        outcomes.forEach((o, k) => {
          if (o.status === 'rejected') failed.add(owner[k] as number);
        });
        return { results: req.body.events.length - failed.size, failed: failed.size };
      },
    );
  },
};
