// The arithmetic every engine and the reference share once they have counted: conversion rates, percentages,
// the order of breakdown values, bucket labels. Counting itself is theirs; this only shapes what they counted.
import { type Bucket, bucketLabel } from './buckets.ts';
import type {
  BreakdownValue,
  EventMatcher,
  FunnelStepResult,
  RetentionCohort,
  TimeRange,
  TrendMath,
  TrendSeriesResult,
} from './insights.ts';

export const isoRange = (r: TimeRange) => ({ from: r.from.toISOString(), to: r.to.toISOString() });

export const labels = (buckets: Bucket[], tz: string): string[] => buckets.map((b) => bucketLabel(b, tz));

/** The top `limit` values by count (ties by value, null last), in that order. */
export function topValues(counts: Map<string | null, number>, limit: number): Array<string | null> {
  return [...counts.entries()]
    .sort(([va, na], [vb, nb]) => nb - na || compareText(va, vb))
    .slice(0, limit)
    .map(([v]) => v);
}

/** Text order as the engines sort VARCHAR (code units), null last. */
export function compareText(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return a < b ? -1 : 1;
}

/** A value for an empty bucket: zero for counts and sums, null for the aggregates that need a value. */
export const emptyValue = (math: TrendMath['kind']): number | null =>
  math === 'total' || math === 'unique_persons' || math === 'sum' ? 0 : null;

export function emptySeries(
  index: number,
  event: string,
  math: TrendMath['kind'],
  breakdown: BreakdownValue | null,
  buckets: number,
): TrendSeriesResult {
  return {
    index,
    event,
    math,
    breakdown,
    data: new Array(buckets).fill(emptyValue(math)),
    total: emptyValue(math),
  };
}

/** Per step: persons reaching it and, from the second step on, the times from the previous step (ms). */
export interface StepCount {
  count: number;
  medianTimeMs: number | null;
  averageTimeMs: number | null;
}

export function funnelSteps(steps: EventMatcher[], counts: StepCount[]): FunnelStepResult[] {
  const first = counts[0]?.count ?? 0;
  return steps.map((s, i) => {
    const c = counts[i] ?? { count: 0, medianTimeMs: null, averageTimeMs: null };
    const prev = i === 0 ? null : (counts[i - 1]?.count ?? 0);
    return {
      index: i,
      event: s.event,
      count: c.count,
      conversionFromFirst: first === 0 ? null : c.count / first,
      conversionFromPrevious: prev === null || prev === 0 ? null : c.count / prev,
      dropOff: prev === null ? 0 : prev - c.count,
      medianTimeMs: i === 0 ? null : c.medianTimeMs,
      averageTimeMs: i === 0 ? null : c.averageTimeMs,
    };
  });
}

export function retentionCohort(start: string, size: number, counts: number[]): RetentionCohort {
  return {
    start,
    size,
    counts,
    percentages: counts.map((n) => (size === 0 ? 0 : Math.round((10_000 * n) / size) / 100)),
  };
}

/** Linear interpolation between the two nearest ranks (DuckDB quantile_cont, ClickHouse quantileExactInclusive). */
export function quantile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const pos = p * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return lo === hi ? a : a + (pos - lo) * (b - a);
}
