// Checks one wire item against the Segment spec before it is normalized. Hand-written and allocation-free
// on the happy path: this runs once per event on the hot path, and each failure names its field.
import { EVENT_TYPES, type EventType, type JsonObject, reject, type StepResult } from './types.ts';

/** A wire item that passed validation: ids are strings, objects are objects, times are parsed. */
export interface ValidItem {
  type: EventType;
  messageId: string | null;
  event: string | null;
  name: string | null;
  category: string | null;
  userId: string | null;
  anonymousId: string | null;
  groupId: string | null;
  previousId: string | null;
  instanceId: string | null;
  timestamp: Date | null;
  originalTimestamp: Date | null;
  sentAt: Date | null;
  properties: JsonObject | null;
  traits: JsonObject | null;
  context: JsonObject | null;
  integrations: JsonObject | null;
}

const MAX_ID = 512;
const TYPES: ReadonlySet<string> = new Set(EVENT_TYPES);

export const isObject = (v: unknown): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

class Invalid extends Error {
  constructor(
    readonly code: 'INTAKE_ERR_INVALID_EVENT' | 'INTAKE_ERR_INVALID_TIMESTAMP',
    message: string,
  ) {
    super(message);
  }
}

function id(item: JsonObject, field: string): string | null {
  const v = item[field];
  if (v === undefined || v === null || v === '') return null;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string') throw new Invalid('INTAKE_ERR_INVALID_EVENT', `${field} must be a string`);
  if (v.length > MAX_ID)
    throw new Invalid('INTAKE_ERR_INVALID_EVENT', `${field} is longer than ${MAX_ID} characters`);
  return v;
}

function str(item: JsonObject, field: string): string | null {
  const v = item[field];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw new Invalid('INTAKE_ERR_INVALID_EVENT', `${field} must be a string`);
  if (v.length > MAX_ID)
    throw new Invalid('INTAKE_ERR_INVALID_EVENT', `${field} is longer than ${MAX_ID} characters`);
  return v;
}

function obj(item: JsonObject, field: string): JsonObject | null {
  const v = item[field];
  if (v === undefined || v === null) return null;
  if (!isObject(v)) throw new Invalid('INTAKE_ERR_INVALID_EVENT', `${field} must be a JSON object`);
  return v;
}

// Dates between 1970 and 9999; anything else is a client bug worth naming.
const MAX_TIME = Date.UTC(9999, 11, 31);

/** Parses an ISO-8601 string or epoch milliseconds; `field` names it in the error. */
export function time(v: unknown, field: string): Date | null {
  if (v === undefined || v === null || v === '') return null;
  let ms: number;
  if (typeof v === 'string') ms = Date.parse(v);
  else if (typeof v === 'number') ms = v;
  else throw new Invalid('INTAKE_ERR_INVALID_TIMESTAMP', `${field} must be an ISO-8601 date string`);
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_TIME) {
    throw new Invalid(
      'INTAKE_ERR_INVALID_TIMESTAMP',
      `${field} is not a valid ISO-8601 date: ${JSON.stringify(v).slice(0, 64)}`,
    );
  }
  return new Date(ms);
}

export function validateItem(raw: unknown): StepResult<ValidItem> {
  if (!isObject(raw)) return reject('INTAKE_ERR_INVALID_EVENT', 'event must be a JSON object');
  const type = raw.type;
  if (typeof type !== 'string' || !TYPES.has(type)) {
    return reject('INTAKE_ERR_INVALID_EVENT', `type must be one of ${EVENT_TYPES.join(', ')}`);
  }
  try {
    const v: ValidItem = {
      type: type as EventType,
      messageId: id(raw, 'messageId'),
      event: str(raw, 'event'),
      name: str(raw, 'name'),
      category: str(raw, 'category'),
      userId: id(raw, 'userId'),
      anonymousId: id(raw, 'anonymousId'),
      groupId: id(raw, 'groupId'),
      previousId: id(raw, 'previousId'),
      instanceId: id(raw, 'instanceId'),
      timestamp: time(raw.timestamp, 'timestamp'),
      originalTimestamp: time(raw.originalTimestamp, 'originalTimestamp'),
      sentAt: time(raw.sentAt, 'sentAt'),
      properties: obj(raw, 'properties'),
      traits: obj(raw, 'traits'),
      context: obj(raw, 'context'),
      integrations: obj(raw, 'integrations'),
    };
    if (v.type === 'alias') {
      if (!v.previousId || !v.userId)
        return reject('INTAKE_ERR_MISSING_ID', 'alias needs both previousId and userId');
    } else if (!v.userId && !v.anonymousId) {
      return reject('INTAKE_ERR_MISSING_ID', `${v.type} needs a userId or an anonymousId`);
    }
    if (v.type === 'track' && !v.event)
      return reject('INTAKE_ERR_MISSING_EVENT_NAME', 'track needs an event name in `event`');
    if (v.type === 'group' && !v.groupId) return reject('INTAKE_ERR_INVALID_EVENT', 'group needs a groupId');
    return { ok: true, value: v };
  } catch (err) {
    if (err instanceof Invalid) return reject(err.code, err.message);
    throw err;
  }
}
