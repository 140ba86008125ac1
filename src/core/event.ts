// The canonical event (the Segment spec) and the small result type every ingest step returns.
import type { ErrorCode } from './errors.ts';
import type { Violation } from './violations.ts';

export const EVENT_TYPES = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export type JsonObject = Record<string, unknown>;

/**
 * Whether `v` is an object with an own key; without Object.keys' array, as it runs for every event.
 * The profile step applies exactly the traits this accepts, and the profile views keep exactly those.
 */
export function nonEmptyObject(v: unknown): v is JsonObject {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  for (const k in v) if (Object.hasOwn(v, k)) return true;
  return false;
}

export interface CanonicalEvent {
  id: string;
  workspaceId: string;
  messageId: string;
  type: EventType;
  /** Track event name. */
  event: string | null;
  /** Page or screen name. */
  name: string | null;
  category: string | null;
  userId: string | null;
  anonymousId: string | null;
  groupId: string | null;
  previousId: string | null;
  instanceId: string | null;
  /** Event time after clock-skew correction. */
  timestamp: Date;
  originalTimestamp: Date | null;
  sentAt: Date | null;
  receivedAt: Date;
  properties: JsonObject;
  traits: JsonObject;
  context: JsonObject;
  integrations: JsonObject;
  /** The dialect it arrived in (segment, trench, ...). */
  source: string;
}

/**
 * A batch's events as LogBatch.events gives them: a plain array, or a log's compact copy (ingest/file/views.ts)
 * whose objects are made as they are read, so a reader should take them a slice at a time and not keep them.
 */
export interface EventViews extends Iterable<CanonicalEvent> {
  readonly length: number;
  /** Events [from, to) in log order. */
  slice(from?: number, to?: number): readonly CanonicalEvent[];
}

/** An event ready to write: the event and its JSON columns, serialized once on the ingest path. */
export interface EventRecord {
  event: CanonicalEvent;
  json: { properties: string; traits: string; context: string; integrations: string };
}

/** A rejected item, kept with its reason so nothing is silently dropped. */
export interface Rejection {
  id: string;
  workspaceId: string;
  receivedAt: Date;
  source: string;
  messageId: string | null;
  code: ErrorCode;
  reason: string;
  /** The item as the client sent it, serialized. */
  payload: string;
  /** The tracking plan's violations, when the plan refused it (code INTAKE_ERR_PLAN_VIOLATION). */
  violations?: Violation[];
}

export type StepResult<T> = { ok: true; value: T } | { ok: false; code: ErrorCode; reason: string };

export const ok = <T>(value: T): StepResult<T> => ({ ok: true, value });
export const reject = <T>(code: ErrorCode, reason: string): StepResult<T> => ({ ok: false, code, reason });

/** Facts about the request that every event of it shares. */
export interface RequestContext {
  workspaceId: string;
  source: string;
  /** The client's address (X-Forwarded-For only behind a trusted proxy). */
  ip: string;
  receivedAt: Date;
  /** Batch-level sentAt, when the wire format has one. */
  sentAt?: unknown;
  /** False: the client asked for no geolocation of this request's events (UserFlux `?locationEnrichment=false`). */
  enrichGeo?: boolean;
  /**
   * The dialect stores events with neither userId nor anonymousId (Trench: only `events` is required); they join no
   * profile. Default false: one of them is required (the Segment spec).
   */
  idsOptional?: boolean;
  /** Charges the request's item count to its key's events/s limit; throws (429) to refuse the whole request. */
  chargeEvents?: ((events: number) => void) | undefined;
}
