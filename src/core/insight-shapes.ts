// Shaping what an engine counted into an insight's answer: the rows every engine's compiled statements hand back
// (one row format per insight, documented at each type) become the answer, with empty buckets, breakdown entries
// and the calendar filled in here. Shared by every engine's store, so the engines differ only in how they count.
import { addLocal, type Bucket, bucketsOf } from './buckets.ts';
import {
  emptySeries,
  funnelSteps,
  isoRange,
  labels,
  retentionCohort,
  type StepCount,
} from './insight-answers.ts';
import {
  type FunnelQuery,
  type FunnelResult,
  INSIGHT_LIMITS,
  type RetentionQuery,
  type RetentionResult,
  type TimeRange,
  type TrendSeriesResult,
  type TrendsPeriod,
  type TrendsQuery,
  type TrendsResult,
} from './insights.ts';
import { fromLocal } from './time-zone.ts';

/** A row of a trends statement's answer: series, current period?, whole range?, bucket (local ms), rank (0: other), value text, value. */
export type TrendsRow = [number, boolean, boolean, number | null, number, string | null, number | null];

export function shapeTrends(q: TrendsQuery, rows: TrendsRow[]): TrendsResult {
  const bucketsFor = (r: TimeRange): Bucket[] =>
    bucketsOf(r.from.getTime(), r.to.getTime(), q.interval, q.timezone, INSIGHT_LIMITS.maxBuckets) ?? [];
  // Per series, the breakdown entries it lists (by rank; other last) with their values.
  const entries = q.series.map(() => new Map<number, string | null>());
  for (const [series, , , , rank, value] of rows)
    entries[series]?.set(rank === 0 ? Number.MAX_SAFE_INTEGER : rank, value);
  const period = (range: TimeRange, current: boolean): TrendsPeriod => {
    const buckets = bucketsFor(range);
    const index = new Map(buckets.map((b, i) => [b.local, i]));
    const out: TrendSeriesResult[] = [];
    q.series.forEach((s, i) => {
      const ranks = q.breakdown ? [...(entries[i]?.keys() ?? [])].sort((a, b) => a - b) : [0];
      const byRank = new Map<number, TrendSeriesResult>();
      for (const rank of ranks) {
        const other = rank === Number.MAX_SAFE_INTEGER;
        const breakdown = q.breakdown
          ? { value: other ? null : (entries[i]?.get(rank) ?? null), other }
          : null;
        const r = emptySeries(i, s.event, s.math.kind, breakdown, buckets.length);
        byRank.set(other ? 0 : rank, r);
        out.push(r);
      }
      for (const [series, cur, whole, b, rank, , v] of rows) {
        if (series !== i || cur !== current) continue;
        const r = byRank.get(rank);
        if (!r) continue;
        if (whole) r.total = v;
        else {
          const at = index.get(b as number);
          if (at !== undefined) r.data[at] = v;
        }
      }
    });
    return { range: isoRange(range), buckets: labels(buckets, q.timezone), series: out };
  };
  return {
    ...period(q.range, true),
    interval: q.interval,
    timezone: q.timezone,
    previous: q.previous ? period(q.previous, false) : null,
  };
}

/** A row of a funnels statement's answer: rank (0: other), value, then per step its count (and from step 2 median, mean). */
export type FunnelRow = Array<number | string | null>;

export function shapeFunnels(q: FunnelQuery, rows: FunnelRow[]): FunnelResult {
  const n = q.steps.length;
  const results = rows.map((row) => {
    const rank = Number(row[0]);
    const counts: StepCount[] = [];
    let at = 2;
    for (let k = 0; k < n; k++) {
      const count = Number(row[at++] ?? 0);
      if (k === 0) counts.push({ count, medianTimeMs: null, averageTimeMs: null });
      else {
        const median = row[at++] as number | null;
        const mean = row[at++] as number | null;
        counts.push({ count, medianTimeMs: median, averageTimeMs: mean });
      }
    }
    return {
      breakdown: q.breakdown
        ? { value: rank === 0 ? null : (row[1] as string | null), other: rank === 0 }
        : null,
      steps: funnelSteps(q.steps, counts),
    };
  });
  if (!q.breakdown && results.length === 0) {
    results.push({ breakdown: null, steps: funnelSteps(q.steps, []) });
  }
  return { order: q.order, windowMs: q.windowMs, range: isoRange(q.range), results };
}

/** Retention's cohorts: the periods of its range. */
const cohortBuckets = (q: RetentionQuery): Bucket[] =>
  bucketsOf(q.range.from.getTime(), q.range.to.getTime(), q.period, q.timezone, INSIGHT_LIMITS.maxBuckets) ??
  [];

/** The end of the return events that can count: the start of the period after the last cohort's last column. */
export function returnsEnd(q: RetentionQuery): number {
  const buckets = cohortBuckets(q);
  const last = buckets[buckets.length - 1];
  return last ? fromLocal(q.timezone, addLocal(last.local, q.period, q.periods)) : q.range.to.getTime();
}

/** A row of a retention statement's answer: cohort (local ms), period offset, persons. */
export type RetentionRow = [number, number, number];

export function shapeRetention(q: RetentionQuery, rows: RetentionRow[]): RetentionResult {
  const buckets = cohortBuckets(q);
  const counts = new Map<string, number>();
  for (const [c, k, n] of rows) counts.set(`${c}:${k}`, n);
  const starts = labels(buckets, q.timezone);
  return {
    period: q.period,
    cohort: q.cohort,
    timezone: q.timezone,
    range: isoRange(q.range),
    cohorts: buckets.map((b, i) => {
      const row: number[] = [];
      for (let k = 0; k < q.periods; k++) {
        if (fromLocal(q.timezone, addLocal(b.local, q.period, k)) > q.now.getTime()) break;
        row.push(counts.get(`${b.local}:${k}`) ?? 0);
      }
      return retentionCohort(starts[i] as string, counts.get(`${b.local}:0`) ?? 0, row);
    }),
  };
}
