// Date ranges of insight requests, resolved to instants in the workspace's time zone: relative (-7d: back to the
// start of the day seven days ago), local dates and date-times, and instants with an offset.
import { addLocal, type CalendarUnit, truncLocal } from '../../core/buckets.ts';
import { IntakeError } from '../../core/errors.ts';
import type { TimeRange } from '../../core/insights.ts';
import { fromLocal, toLocal } from '../../core/time-zone.ts';

const RELATIVE = /^-(\d{1,4})([hdwmy])$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const LOCAL = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/;
const UNITS: Record<string, CalendarUnit> = { h: 'hour', d: 'day', w: 'week', m: 'month', y: 'month' };

const bad = (field: string, why: string) =>
  new IntakeError('INTAKE_ERR_INSIGHT_RANGE', `${field} ${why}`, { field });

/** Local wall-clock ms of y-m-d h:m:s.ms, or null when the fields are not a real date and time. */
function localOf(y: number, mo: number, d: number, h = 0, mi = 0, s = 0, ms = 0): number | null {
  const t = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  const v = new Date(t);
  const real =
    v.getUTCFullYear() === y &&
    v.getUTCMonth() === mo - 1 &&
    v.getUTCDate() === d &&
    v.getUTCHours() === h &&
    v.getUTCMinutes() === mi &&
    v.getUTCSeconds() === s;
  return real ? t : null;
}

/**
 * One end of a range as an instant. `end`: a date alone means the end of that day (the next local midnight);
 * a relative value counts back from `now` to the start of its unit.
 */
export function resolveTime(raw: string, tz: string, now: Date, field: string, end: boolean): number {
  const text = raw.trim();
  const rel = RELATIVE.exec(text);
  if (rel) {
    const n = Number(rel[1]);
    const unit = UNITS[rel[2] as string] as CalendarUnit;
    const back = addLocal(toLocal(tz, now.getTime()), unit, rel[2] === 'y' ? -12 * n : -n);
    return fromLocal(tz, truncLocal(back, unit));
  }
  const date = DATE.exec(text);
  if (date) {
    const local = localOf(Number(date[1]), Number(date[2]), Number(date[3]));
    if (local === null) throw bad(field, `is not a real date: "${text}"`);
    return fromLocal(tz, end ? addLocal(local, 'day', 1) : local);
  }
  const lt = LOCAL.exec(text);
  if (lt) {
    const f = lt.slice(1).map((x) => Number(x ?? 0));
    const local = localOf(
      f[0] ?? 0,
      f[1] ?? 0,
      f[2] ?? 0,
      f[3] ?? 0,
      f[4] ?? 0,
      f[5] ?? 0,
      Number((lt[7] ?? '0').padEnd(3, '0')),
    );
    if (local === null) throw bad(field, `is not a real date and time: "${text}"`);
    return fromLocal(tz, local);
  }
  if (/^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:\d{2})$/i.test(text)) {
    const t = Date.parse(text);
    if (Number.isFinite(t)) return t;
  }
  throw bad(
    field,
    `must be relative (-24h, -7d, -2w, -3m, -1y), a date (2026-01-31), a local date-time (2026-01-31T09:00) or an instant with an offset (2026-01-31T09:00:00Z), got "${text.slice(0, 64)}"`,
  );
}

/** A request's date range, or `fallback` (a relative `from`) when it gives none. Throws when it is empty. */
export function resolveRange(
  body: { from: string; to?: string } | undefined,
  fallback: string,
  tz: string,
  now: Date,
): TimeRange {
  const from = resolveTime(body?.from ?? fallback, tz, now, 'dateRange.from', false);
  const to = body?.to === undefined ? now.getTime() : resolveTime(body.to, tz, now, 'dateRange.to', true);
  if (!(from < to)) {
    throw bad(
      'dateRange',
      `is empty: from ${new Date(from).toISOString()} is not before to ${new Date(to).toISOString()}`,
    );
  }
  return { from: new Date(from), to: new Date(to) };
}
