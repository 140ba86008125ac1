// Handmade events, rejections and log batches for the contract suites: every field given, nothing drawn at
// random, so each expected value in a test is written out by hand.
import assert from 'node:assert/strict';
import type { CanonicalEvent, EventRecord, Rejection, RequestContext } from '../src/core/event.ts';
import { normalize } from '../src/pipeline/normalize.ts';
import { validateItem } from '../src/pipeline/validate.ts';
import type { LogBatch } from '../src/store/types.ts';

export const T0 = Date.UTC(2026, 0, 1);
/** 2026-01-01 plus `s` seconds. */
export const at = (s: number): Date => new Date(T0 + s * 1000);

let made = 0;

/**
 * A canonical event of `workspaceId` with every field set: a track event named E by default, at(0), no ids.
 * Its id is a UUIDv7-shaped string that grows with each call, so ties in an ordering break in creation order.
 */
export function event(
  workspaceId: string,
  messageId: string,
  fields: Partial<Omit<CanonicalEvent, 'workspaceId' | 'messageId'>> = {},
): CanonicalEvent {
  made++;
  const timestamp = fields.timestamp ?? at(0);
  return {
    id: `01900000-0000-7000-8000-${made.toString(16).padStart(12, '0')}`,
    workspaceId,
    messageId,
    type: 'track',
    event: fields.type === undefined || fields.type === 'track' ? 'E' : null,
    name: null,
    category: null,
    userId: null,
    anonymousId: null,
    groupId: null,
    previousId: null,
    instanceId: null,
    timestamp,
    originalTimestamp: null,
    sentAt: null,
    receivedAt: timestamp,
    properties: {},
    traits: {},
    context: {},
    integrations: {},
    source: 'test',
    ...fields,
  };
}

export function rejection(workspaceId: string, id: string, fields: Partial<Rejection> = {}): Rejection {
  return {
    id,
    workspaceId,
    receivedAt: at(0),
    source: 'test',
    messageId: null,
    code: 'INTAKE_ERR_MISSING_ID',
    reason: 'track needs a userId or an anonymousId',
    payload: '{"type":"track"}',
    ...fields,
  };
}

/** An event as the log receives it: with its JSON columns serialized, as normalize does. */
export function toRecord(e: CanonicalEvent): EventRecord {
  return {
    event: e,
    json: {
      properties: JSON.stringify(e.properties),
      traits: JSON.stringify(e.traits),
      context: JSON.stringify(e.context),
      integrations: JSON.stringify(e.integrations),
    },
  };
}

/**
 * A log batch held in memory: the portable form every engine loads through entries(), with no file hint.
 * entries() hands out copies, so a store that kept or changed them could not change the test's data.
 */
export function logBatch(seq: number, events: CanonicalEvent[], rejected: Rejection[] = []): LogBatch {
  return {
    seq,
    events,
    rejected: rejected.length,
    entries: async () => ({ events: structuredClone(events), rejected: structuredClone(rejected) }),
  };
}

/** An event as the server makes it from a Segment item: validated and normalized, received at `receivedAt`. */
export function record(workspaceId: string, item: Record<string, unknown>, receivedAt?: Date): EventRecord {
  const ctx: RequestContext = {
    workspaceId,
    source: 'test',
    ip: '127.0.0.1',
    receivedAt: receivedAt ?? new Date('2026-03-01T00:00:00Z'),
  };
  const v = validateItem(item);
  assert.ok(v.ok);
  const n = normalize(v.value, ctx, 32 * 1024);
  assert.ok(n.ok);
  return n.value;
}
