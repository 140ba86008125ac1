// Turns the body of an insight request into its engine-neutral description (core/insights.ts): the parts in
// matchers.ts, the date range resolved in the time zone (ranges.ts) and bounded. Every refusal is a coded 400
// whose `details.field` names the field.
import { addLocal, bucketStart, bucketsOf, type CalendarUnit, truncLocal } from '../../core/buckets.ts';
import {
  AGGREGATE_MATHS,
  type AggregateMath,
  type FunnelOrder,
  type FunnelQuery,
  INSIGHT_LIMITS,
  type RetentionQuery,
  type TimeRange,
  type TrendMath,
  type TrendsQuery,
} from '../../core/insights.ts';
import { fromLocal, toLocal } from '../../core/time-zone.ts';
import { fail, parseBreakdown, parseMatcher, parseProperty, timeZoneOf } from './matchers.ts';
import { resolveRange } from './ranges.ts';
import type { FunnelsBody, RetentionBody, TrendsBody } from './schemas.ts';

function unitOf(
  raw: string | undefined,
  fallback: CalendarUnit,
  allowed: CalendarUnit[],
  field: string,
): CalendarUnit {
  const v = raw ?? fallback;
  if (!(allowed as string[]).includes(v)) {
    throw fail('INTAKE_ERR_INSIGHT_INTERVAL', field, `is "${v.slice(0, 40)}": use ${allowed.join(', ')}`);
  }
  return v as CalendarUnit;
}

/** [from, to) with `from` moved back to the start of its bucket; refused past the bucket limit. */
function alignedRange(
  range: TimeRange,
  unit: CalendarUnit,
  tz: string,
  what: string,
): { range: TimeRange; buckets: number } {
  const from = bucketStart(range.from.getTime(), unit, tz);
  const buckets = bucketsOf(from, range.to.getTime(), unit, tz, INSIGHT_LIMITS.maxBuckets);
  if (buckets === null) {
    throw fail(
      'INTAKE_ERR_INSIGHT_RANGE',
      'dateRange',
      `spans more than ${INSIGHT_LIMITS.maxBuckets} ${what}s of a ${unit}; narrow it or use a longer ${what === 'bucket' ? 'interval' : 'period'}`,
    );
  }
  return { range: { from: new Date(from), to: range.to }, buckets: buckets.length };
}

function parseMath(raw: { math?: string; property?: string }, field: string): TrendMath {
  const math = raw.math ?? 'total';
  if (math === 'total' || math === 'unique_persons') {
    if (raw.property !== undefined) {
      throw fail(
        'INTAKE_ERR_INSIGHT_INVALID',
        `${field}.property`,
        `is only taken by ${AGGREGATE_MATHS.join(', ')}`,
      );
    }
    return { kind: math };
  }
  if (!(AGGREGATE_MATHS as string[]).includes(math)) {
    throw fail(
      'INTAKE_ERR_INSIGHT_INVALID',
      `${field}.math`,
      `is "${math.slice(0, 40)}": use total, unique_persons, ${AGGREGATE_MATHS.join(', ')}`,
    );
  }
  if (raw.property === undefined) {
    throw fail(
      'INTAKE_ERR_INSIGHT_INVALID',
      `${field}.property`,
      `is needed by math ${math}: the numeric property to aggregate`,
    );
  }
  return { kind: math as AggregateMath, property: parseProperty(raw.property, `${field}.property`) };
}

export function parseTrends(body: TrendsBody, workspaceZone: string, now: Date): TrendsQuery {
  const timezone = timeZoneOf(body.timezone, workspaceZone);
  if (body.series.length > INSIGHT_LIMITS.maxSeries) {
    throw fail(
      'INTAKE_ERR_INSIGHT_STEPS',
      'series',
      `has ${body.series.length} series; at most ${INSIGHT_LIMITS.maxSeries}`,
    );
  }
  const series = body.series.map((s, i) => ({
    ...parseMatcher(s, `series[${i}]`),
    math: parseMath(s, `series[${i}]`),
  }));
  const interval = unitOf(body.interval, 'day', ['hour', 'day', 'week', 'month'], 'interval');
  const { range, buckets } = alignedRange(
    resolveRange(body.dateRange, '-7d', timezone, now),
    interval,
    timezone,
    'bucket',
  );
  let previous: TimeRange | null = null;
  if (body.compare) {
    // The same number of buckets just before: `to` moves back as far, in the local calendar.
    const back = (t: Date) =>
      new Date(fromLocal(timezone, addLocal(toLocal(timezone, t.getTime()), interval, -buckets)));
    // (Realigned: a bucket whose local start a clock change skipped starts later than its label.)
    const from = new Date(bucketStart(back(range.from).getTime(), interval, timezone));
    const to = back(range.to);
    previous = { from, to: new Date(Math.min(to.getTime(), range.from.getTime())) };
  }
  return { series, interval, timezone, range, previous, breakdown: parseBreakdown(body.breakdown) };
}

const WINDOW_UNITS: Record<string, number> = {
  second: 1000,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
  week: 7 * 86_400_000,
  month: 30 * 86_400_000,
};
const MAX_WINDOW_MS = 366 * 86_400_000;

export function parseFunnels(body: FunnelsBody, workspaceZone: string, now: Date): FunnelQuery {
  const timezone = timeZoneOf(body.timezone, workspaceZone);
  const n = body.steps.length;
  if (n < INSIGHT_LIMITS.minSteps || n > INSIGHT_LIMITS.maxSteps) {
    throw fail(
      'INTAKE_ERR_INSIGHT_STEPS',
      'steps',
      `has ${n} step${n === 1 ? '' : 's'}; a funnel has ${INSIGHT_LIMITS.minSteps} to ${INSIGHT_LIMITS.maxSteps}`,
    );
  }
  const steps = body.steps.map((s, i) => parseMatcher(s, `steps[${i}]`));
  const order = (body.order ?? 'ordered') as FunnelOrder;
  if (!['ordered', 'strict', 'unordered'].includes(order)) {
    throw fail(
      'INTAKE_ERR_INSIGHT_INVALID',
      'order',
      `is "${String(order).slice(0, 40)}": use ordered, strict or unordered`,
    );
  }
  if (order === 'unordered') {
    // In any order, "the same occurrence cannot count twice" needs to know which steps an event can fill: steps
    // of one event name must then be identical (A, A, B asks for two A's), never overlapping subsets of it.
    steps.forEach((s, i) => {
      const j = steps.findIndex((x) => x.event === s.event);
      if (JSON.stringify(steps[j]?.filters) !== JSON.stringify(s.filters)) {
        throw fail(
          'INTAKE_ERR_INSIGHT_INVALID',
          `steps[${i}]`,
          `uses event "${s.event}" like steps[${j}] with other filters: in an unordered funnel, steps of one event must be identical`,
        );
      }
    });
  }
  const w = body.window ?? { value: 14, unit: 'day' };
  const unitMs = WINDOW_UNITS[w.unit];
  if (unitMs === undefined) {
    throw fail(
      'INTAKE_ERR_INSIGHT_INTERVAL',
      'window.unit',
      `is "${w.unit.slice(0, 40)}": use ${Object.keys(WINDOW_UNITS).join(', ')}`,
    );
  }
  const windowMs = w.value * unitMs;
  if (windowMs > MAX_WINDOW_MS) throw fail('INTAKE_ERR_INSIGHT_INVALID', 'window', 'is longer than 366 days');
  const range = resolveRange(body.dateRange, '-30d', timezone, now);
  const days = (range.to.getTime() - range.from.getTime()) / 86_400_000;
  if (days > INSIGHT_LIMITS.maxBuckets) {
    throw fail(
      'INTAKE_ERR_INSIGHT_RANGE',
      'dateRange',
      `spans ${Math.ceil(days)} days; at most ${INSIGHT_LIMITS.maxBuckets}`,
    );
  }
  return { steps, order, windowMs, range, breakdown: parseBreakdown(body.breakdown) };
}

export function parseRetention(body: RetentionBody, workspaceZone: string, now: Date): RetentionQuery {
  const timezone = timeZoneOf(body.timezone, workspaceZone);
  const period = unitOf(body.period, 'week', ['day', 'week', 'month'], 'period') as RetentionQuery['period'];
  const periods = body.periods ?? 8;
  if (periods > INSIGHT_LIMITS.maxRetentionPeriods) {
    throw fail(
      'INTAKE_ERR_INSIGHT_INVALID',
      'periods',
      `is ${periods}; at most ${INSIGHT_LIMITS.maxRetentionPeriods}`,
    );
  }
  const cohort = body.cohort ?? 'first';
  if (cohort !== 'first' && cohort !== 'any') {
    throw fail('INTAKE_ERR_INSIGHT_INVALID', 'cohort', `is "${cohort.slice(0, 40)}": use first or any`);
  }
  // Default: the last `periods` periods, the current one included.
  let range: TimeRange;
  if (body.dateRange) range = resolveRange(body.dateRange, '', timezone, now);
  else {
    const current = truncLocal(toLocal(timezone, now.getTime()), period);
    range = { from: new Date(fromLocal(timezone, addLocal(current, period, -(periods - 1)))), to: now };
  }
  return {
    start: parseMatcher(body.startEvent, 'startEvent'),
    return: parseMatcher(body.returnEvent, 'returnEvent'),
    cohort,
    period,
    periods,
    timezone,
    range: alignedRange(range, period, timezone, 'cohort').range,
    now,
  };
}
