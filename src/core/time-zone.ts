// Time-zone arithmetic on IANA names with the runtime's own ICU data (Intl), for insights: a workspace's local
// calendar (buckets, relative date ranges) and the UTC offsets an engine needs to compute local time cheaply.
// A "local" time here is a wall-clock reading encoded as milliseconds since 1970 as if it were UTC.

const formats = new Map<string, Intl.DateTimeFormat>();

function format(tz: string): Intl.DateTimeFormat {
  let f = formats.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formats.set(tz, f);
  }
  return f;
}

/** Whether `tz` is an IANA time-zone name this runtime knows (case as written: "Europe/Paris", "UTC"). */
export function isTimeZone(tz: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/.test(tz)) return false;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone !== undefined;
  } catch {
    return false;
  }
}

const isUtc = (tz: string) => tz === 'UTC' || tz === 'Etc/UTC';

/** The zone's offset from UTC (local - UTC) at instant `t`, in ms. */
export function offsetAt(tz: string, t: number): number {
  if (isUtc(tz)) return 0;
  const whole = Math.floor(t / 1000) * 1000;
  const p: Record<string, number> = {};
  for (const part of format(tz).formatToParts(whole)) {
    if (part.type !== 'literal') p[part.type] = Number(part.value);
  }
  const local = Date.UTC(
    p.year ?? 1970,
    (p.month ?? 1) - 1,
    p.day ?? 1,
    p.hour ?? 0,
    p.minute ?? 0,
    p.second ?? 0,
  );
  return local - whole;
}

/** The local wall-clock time of instant `t`. */
export const toLocal = (tz: string, t: number): number => t + offsetAt(tz, t);

/**
 * The instant a local wall-clock time names. A time skipped by a forward jump (02:30 on a spring-forward night)
 * is moved forward by the jump; a time that occurs twice (autumn) names its first occurrence.
 */
export function fromLocal(tz: string, local: number): number {
  if (isUtc(tz)) return local;
  const before = offsetAt(tz, local - 86_400_000);
  const after = offsetAt(tz, local + 86_400_000);
  const valid = [local - before, local - after].filter((t) => toLocal(tz, t) === local);
  if (valid.length > 0) return Math.min(...valid);
  return local - before;
}

/** A stretch of time with one offset: from `from` (UTC ms) until the next span's `from`. */
export interface OffsetSpan {
  from: number;
  offsetMs: number;
}

/**
 * The zone's offsets over [from, to): the first span starts at `from`, each later one where the offset changes.
 * Found by sampling every 6 hours and bisecting to the second (no zone changes its offset twice in 6 hours).
 */
export function offsetSpans(tz: string, from: number, to: number): OffsetSpan[] {
  const spans: OffsetSpan[] = [{ from, offsetMs: offsetAt(tz, from) }];
  if (isUtc(tz)) return spans;
  const step = 6 * 3_600_000;
  let prev = from;
  let prevOffset = spans[0]?.offsetMs ?? 0;
  while (prev < to) {
    const next = Math.min(prev + step, to);
    const o = offsetAt(tz, next);
    if (o !== prevOffset) {
      // The change is in (prev, next]: bisect on whole seconds.
      let lo = Math.floor(prev / 1000);
      let hi = Math.floor(next / 1000);
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        if (offsetAt(tz, mid * 1000) === prevOffset) lo = mid;
        else hi = mid;
      }
      spans.push({ from: hi * 1000, offsetMs: o });
      prevOffset = o;
    }
    prev = next;
  }
  return spans;
}

const pad = (n: number, w = 2) => String(Math.abs(n)).padStart(w, '0');

/** A local time as ISO-8601 without offset: 2026-03-08T00:00:00. */
export function localIso(local: number): string {
  const d = new Date(local);
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/** Instant `t` as ISO-8601 in the zone, with its offset: 2026-03-08T00:00:00-05:00. */
export function zonedIso(tz: string, t: number): string {
  const o = offsetAt(tz, t);
  const minutes = Math.round(Math.abs(o) / 60_000);
  return `${localIso(t + o)}${o < 0 ? '-' : '+'}${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}`;
}
