// Events and rejections as ClickHouse rows and back: times as epoch ms, JSON columns as text, and text made
// well-formed (a lone UTF-16 surrogate becomes U+FFFD, as the embedded engine stores it).

import type { ErrorCode } from '../../core/errors.ts';
import type { CanonicalEvent, Rejection } from '../../core/event.ts';
import type { ChRow } from './http.ts';

const text = (s: string | null): string | null => (s === null ? null : s.toWellFormed());

/** A JSON value with every string and key well-formed. */
function wellFormed(v: unknown): unknown {
  if (typeof v === 'string') return v.toWellFormed();
  if (Array.isArray(v)) return v.map(wellFormed);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k.toWellFormed()] = wellFormed(x);
    return out;
  }
  return v;
}
const json = (v: unknown) => JSON.stringify(wellFormed(v ?? {}));
const ms = (d: Date | null) => (d === null ? null : d.getTime());

export function eventRow(e: CanonicalEvent, seq: number): ChRow {
  return {
    id: e.id,
    workspace_id: e.workspaceId,
    message_id: text(e.messageId),
    type: e.type,
    event: text(e.event),
    name: text(e.name),
    category: text(e.category),
    user_id: text(e.userId),
    anonymous_id: text(e.anonymousId),
    group_id: text(e.groupId),
    previous_id: text(e.previousId),
    instance_id: text(e.instanceId),
    timestamp_ms: e.timestamp.getTime(),
    original_timestamp_ms: ms(e.originalTimestamp),
    sent_at_ms: ms(e.sentAt),
    received_at_ms: e.receivedAt.getTime(),
    properties: json(e.properties),
    traits: json(e.traits),
    context: json(e.context),
    integrations: json(e.integrations),
    source: e.source,
    seq,
  };
}

/** The stored columns of an event, in the order of a CanonicalEvent's keys. */
export const EVENT_SELECT =
  'id, workspace_id, message_id, type, event, name, category, user_id, anonymous_id, group_id, previous_id, ' +
  'instance_id, timestamp_ms, original_timestamp_ms, sent_at_ms, received_at_ms, properties, traits, context, ' +
  'integrations, source';

const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const date = (v: unknown): Date | null => (v === null || v === undefined ? null : new Date(Number(v)));

export function rowEvent(r: ChRow): CanonicalEvent {
  return {
    id: String(r.id),
    workspaceId: String(r.workspace_id),
    messageId: String(r.message_id),
    type: String(r.type) as CanonicalEvent['type'],
    event: str(r.event),
    name: str(r.name),
    category: str(r.category),
    userId: str(r.user_id),
    anonymousId: str(r.anonymous_id),
    groupId: str(r.group_id),
    previousId: str(r.previous_id),
    instanceId: str(r.instance_id),
    timestamp: date(r.timestamp_ms) as Date,
    originalTimestamp: date(r.original_timestamp_ms),
    sentAt: date(r.sent_at_ms),
    receivedAt: date(r.received_at_ms) as Date,
    properties: JSON.parse(String(r.properties)),
    traits: JSON.parse(String(r.traits)),
    context: JSON.parse(String(r.context)),
    integrations: JSON.parse(String(r.integrations)),
    source: String(r.source) as CanonicalEvent['source'],
  };
}

const REQUIRED = ['id', 'workspaceId', 'source', 'code', 'reason', 'payload'] as const;

/** A rejection's row; throws on a rejection without a required field (the engine would store '' instead). */
export function rejectionRow(r: Rejection, seq: number): ChRow {
  for (const k of REQUIRED) {
    if (typeof r[k] !== 'string') throw new Error(`rejection ${r.id}: ${k} must be text, not ${r[k]}`);
  }
  return {
    id: r.id,
    workspace_id: r.workspaceId,
    received_at_ms: r.receivedAt.getTime(),
    source: r.source,
    message_id: text(r.messageId),
    code: r.code,
    reason: r.reason.toWellFormed(),
    payload: r.payload.toWellFormed(),
    violations: r.violations ? json(r.violations) : null,
    seq,
  };
}

export function rowRejection(r: ChRow): Rejection {
  return {
    id: String(r.id),
    workspaceId: String(r.workspace_id),
    receivedAt: new Date(Number(r.received_at_ms)),
    source: String(r.source) as Rejection['source'],
    messageId: str(r.message_id),
    code: String(r.code) as ErrorCode,
    reason: String(r.reason),
    payload: String(r.payload),
    ...(r.violations === null || r.violations === undefined
      ? {}
      : { violations: JSON.parse(String(r.violations)) as Rejection['violations'] }),
  };
}
