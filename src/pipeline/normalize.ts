// Turns a validated item into the canonical event: server ids, clock-skew corrected time, request IP,
// and the JSON columns serialized once (their size is the per-event limit).

import {
  type EventRecord,
  type JsonObject,
  type RequestContext,
  reject,
  type StepResult,
} from '../core/event.ts';
import { uuidv4, uuidv7 } from '../core/ids.ts';
import { copyObject, time, type ValidItem } from './validate.ts';

const EMPTY: JsonObject = Object.freeze({}) as JsonObject;

/**
 * Event time: receivedAt - (sentAt - originalTimestamp) when the client sent both (its clock may be off,
 * but the difference between its two readings is not); else the client's timestamp; else now.
 */
export function correctedTimestamp(v: ValidItem, sentAt: Date | null, receivedAt: Date): Date {
  const original = v.originalTimestamp ?? v.timestamp;
  if (sentAt && original) return new Date(receivedAt.getTime() - (sentAt.getTime() - original.getTime()));
  return v.timestamp ?? original ?? receivedAt;
}

function byteLength(s: string): number {
  // Every UTF-16 unit is at most 3 UTF-8 bytes: only count exactly when it could matter.
  return s.length * 3 <= 1024 ? s.length : Buffer.byteLength(s);
}

/** JSON.stringify, without serializing the shared empty object every event without traits gets. */
const json = (o: JsonObject): string => (o === EMPTY ? '{}' : JSON.stringify(o));

// The batch-level sentAt is the same string for every event of a request: parsed once per request.
let lastBatchSentAt: string | undefined;
let lastBatchMs = 0;

function batchTime(raw: unknown): Date | null {
  if (typeof raw === 'string' && raw === lastBatchSentAt) return new Date(lastBatchMs);
  const t = time(raw, 'sentAt');
  if (typeof raw === 'string' && t) {
    lastBatchSentAt = raw;
    lastBatchMs = t.getTime();
  }
  return t;
}

export function normalize(v: ValidItem, ctx: RequestContext, eventLimit: number): StepResult<EventRecord> {
  let batchSentAt: Date | null = null;
  if (!v.sentAt && ctx.sentAt !== undefined) {
    try {
      batchSentAt = batchTime(ctx.sentAt);
    } catch (err) {
      return reject('INTAKE_ERR_INVALID_TIMESTAMP', (err as Error).message);
    }
  }
  const sentAt = v.sentAt ?? batchSentAt;
  let context = v.context ?? EMPTY;
  if (context.ip === undefined || context.ip === null || context.ip === '') {
    context = copyObject(context);
    context.ip = ctx.ip;
  }
  const properties = v.properties ?? EMPTY;
  const traits = v.traits ?? EMPTY;
  const integrations = v.integrations ?? EMPTY;
  const columns = {
    properties: json(properties),
    traits: json(traits),
    context: json(context),
    integrations: json(integrations),
  };
  const length =
    columns.properties.length + columns.traits.length + columns.context.length + columns.integrations.length;
  // byteLength is at most 3 per UTF-16 unit: only count when the limit could be reached.
  if (length * 3 > eventLimit) {
    const size =
      byteLength(columns.properties) +
      byteLength(columns.traits) +
      byteLength(columns.context) +
      byteLength(columns.integrations);
    if (size > eventLimit) {
      return reject(
        'INTAKE_ERR_EVENT_TOO_LARGE',
        `event is ${size} bytes, over the ${eventLimit}-byte limit per event`,
      );
    }
  }
  return {
    ok: true,
    value: {
      json: columns,
      event: {
        id: uuidv7(ctx.receivedAt.getTime()),
        workspaceId: ctx.workspaceId,
        messageId: v.messageId ?? uuidv4(),
        type: v.type,
        event: v.type === 'track' ? v.event : null,
        name: v.name,
        category: v.category,
        userId: v.userId,
        anonymousId: v.anonymousId,
        groupId: v.groupId,
        previousId: v.previousId,
        instanceId: v.instanceId,
        timestamp: correctedTimestamp(v, sentAt, ctx.receivedAt),
        originalTimestamp: v.originalTimestamp ?? v.timestamp,
        sentAt,
        receivedAt: ctx.receivedAt,
        properties,
        traits,
        context,
        integrations,
        source: ctx.source,
      },
    },
  };
}
