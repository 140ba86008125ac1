// The reference implementation's ground: events in memory, their persons, and properties read the way the
// description defines them. Written for obviousness, not speed: tests compare every engine's answers to it.
import type { EventMatcher, PropertyFilter, PropertyRef, TimeRange } from '../../../core/insights.ts';

export interface RefEvent {
  id: string;
  type: string;
  event: string | null;
  userId: string | null;
  anonymousId: string | null;
  timestamp: Date;
  properties: Record<string, unknown>;
  context: Record<string, unknown>;
}

export interface RefData {
  events: RefEvent[];
  /** Every known id (userId or anonymousId) → its person (the identities table). */
  persons: Map<string, string>;
  /** Person → traits (persons without traits are absent). */
  traits: Map<string, Record<string, unknown>>;
}

/** The event's person: the person of its userId, else of its anonymousId; an unknown id is its own person. */
export function personOf(data: RefData, e: RefEvent): string {
  const id = e.userId ?? e.anonymousId ?? '';
  return data.persons.get(id) ?? id;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function propertyValue(data: RefData, e: RefEvent, ref: PropertyRef): unknown {
  let v: unknown =
    ref.source === 'properties'
      ? e.properties
      : ref.source === 'context'
        ? e.context
        : (data.traits.get(personOf(data, e)) ?? {});
  for (const key of ref.path) {
    if (!isObject(v) || !Object.hasOwn(v, key)) return undefined;
    v = v[key];
  }
  return v;
}

/** A value's text: the string itself, JSON text for anything else, null when missing or JSON null. */
export function textOf(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

export const numberOf = (v: unknown): number | null => (typeof v === 'number' ? v : null);

export function passes(data: RefData, e: RefEvent, f: PropertyFilter): boolean {
  const v = propertyValue(data, e, f.property);
  const text = textOf(v);
  switch (f.op) {
    case 'eq':
      return text !== null && f.values.includes(text);
    case 'neq':
      return text === null || !f.values.includes(text);
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const n = numberOf(v);
      if (n === null) return false;
      return f.op === 'gt'
        ? n > f.value
        : f.op === 'gte'
          ? n >= f.value
          : f.op === 'lt'
            ? n < f.value
            : n <= f.value;
    }
    case 'contains':
      return text?.toLowerCase().includes(f.value.toLowerCase()) === true;
    case 'not_contains':
      return text === null || !text.toLowerCase().includes(f.value.toLowerCase());
    case 'is_set':
      return text !== null;
    case 'is_not_set':
      return text === null;
  }
}

export function matches(data: RefData, e: RefEvent, m: EventMatcher): boolean {
  return e.type === 'track' && e.event === m.event && m.filters.every((f) => passes(data, e, f));
}

export const inRange = (e: RefEvent, r: TimeRange) =>
  e.timestamp.getTime() >= r.from.getTime() && e.timestamp.getTime() < r.to.getTime();

/** Events in time order; the same instant is ordered by event id. */
export function byTime(a: RefEvent, b: RefEvent): number {
  return a.timestamp.getTime() - b.timestamp.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Groups items by a key, keeping their order. */
export function groupBy<T, K>(xs: T[], key: (x: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>();
  for (const x of xs) {
    const k = key(x);
    const list = out.get(k);
    if (list) list.push(x);
    else out.set(k, [x]);
  }
  return out;
}

export function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = (s.length - 1) / 2;
  return ((s[Math.floor(mid)] as number) + (s[Math.ceil(mid)] as number)) / 2;
}

export const mean = (xs: number[]): number | null =>
  xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length;
