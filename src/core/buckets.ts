// Calendar buckets in a time zone: hours, days, weeks (Monday first, as ISO 8601 and DuckDB's date_trunc) and
// months of local wall-clock time. Insights use them for trends' buckets and retention's periods; an engine
// groups events by the local start of their bucket and the answer lists every bucket, empty ones included.
import { fromLocal, toLocal, zonedIso } from './time-zone.ts';

export type CalendarUnit = 'hour' | 'day' | 'week' | 'month';

const HOUR = 3_600_000;
const DAY = 86_400_000;

/** The local start of the unit holding local time `local`. */
export function truncLocal(local: number, unit: CalendarUnit): number {
  switch (unit) {
    case 'hour':
      return Math.floor(local / HOUR) * HOUR;
    case 'day':
      return Math.floor(local / DAY) * DAY;
    case 'week': {
      const day = Math.floor(local / DAY) * DAY;
      const weekday = (new Date(day).getUTCDay() + 6) % 7; // Monday 0 ... Sunday 6
      return day - weekday * DAY;
    }
    case 'month': {
      const d = new Date(local);
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    }
  }
}

/** Local time `local` plus `n` units of the calendar (months keep the day, clamped to the month's last). */
export function addLocal(local: number, unit: CalendarUnit, n: number): number {
  switch (unit) {
    case 'hour':
      return local + n * HOUR;
    case 'day':
      return local + n * DAY;
    case 'week':
      return local + 7 * n * DAY;
    case 'month': {
      const d = new Date(local);
      const first = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + n, 1);
      const f = new Date(first);
      const last = new Date(Date.UTC(f.getUTCFullYear(), f.getUTCMonth() + 1, 0)).getUTCDate();
      return first + (Math.min(d.getUTCDate(), last) - 1) * DAY + (local - Math.floor(local / DAY) * DAY);
    }
  }
}

/** The instant at which the bucket holding instant `t` starts. */
export function bucketStart(t: number, unit: CalendarUnit, tz: string): number {
  return fromLocal(tz, truncLocal(toLocal(tz, t), unit));
}

export interface Bucket {
  /** Its local start: the key engines group by. */
  local: number;
  /** The instant it starts (a local start that a clock change skipped moves forward). */
  start: number;
}

/**
 * Every bucket of [from, to) in order, or null when there are more than `max`. A bucket no instant falls in (an
 * hour skipped by a clock change) is left out.
 */
export function bucketsOf(
  from: number,
  to: number,
  unit: CalendarUnit,
  tz: string,
  max: number,
): Bucket[] | null {
  const out: Bucket[] = [];
  for (let local = truncLocal(toLocal(tz, from), unit); ; ) {
    const start = fromLocal(tz, local);
    if (start >= to) return out;
    const next = addLocal(local, unit, 1);
    if (toLocal(tz, start) < next) {
      if (out.length === max) return null;
      out.push({ local, start });
    }
    local = next;
  }
}

/** A bucket's label: its start in the zone with the offset then in force (2026-03-09T00:00:00-04:00). */
export const bucketLabel = (b: Bucket, tz: string): string => zonedIso(tz, b.start);
