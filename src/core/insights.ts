// The engine-neutral description of an insight (trends, funnels, retention) and of its answer. The HTTP body is
// parsed into one of these (query/insights/parse.ts), every engine compiles it to its own SQL
// (store/duckdb/insights/), and a plain TypeScript reference (query/insights/reference/) computes the same answer
// from an array of events, which is how the compilers are tested. It lives on the ground floor because the store
// (layer 2) compiles it and the query layer (3) builds it. Times are resolved instants: no "now", no relative
// ranges, no defaults left for an engine to decide.
import type { CalendarUnit } from './buckets.ts';

export const INSIGHT_LIMITS = {
  minSteps: 2,
  maxSteps: 20,
  maxSeries: 10,
  /** Most buckets a range may span (trends), or cohorts (retention): a year of days, six weeks of hours. */
  maxBuckets: 1000,
  maxFilters: 20,
  maxBreakdownLimit: 100,
  maxRetentionPeriods: 100,
  /** Most levels of a property path: properties.a.b.c is 3. */
  maxPathDepth: 8,
} as const;

/**
 * Where a property is read: the event's `properties` or `context`, or the traits of the event's person (after
 * identity resolution, as they are now).
 */
export type PropertySource = 'properties' | 'context' | 'person';

export interface PropertyRef {
  source: PropertySource;
  /** Keys from the top of the object; each matches /^[A-Za-z0-9_$][A-Za-z0-9_$ -]{0,99}$/. */
  path: string[];
}

/**
 * A condition on a property. A value's text is the string itself, or the JSON text of anything else (12, 1.5,
 * true, {"a":1}); a missing value and JSON null are "not set". Numbers compare only JSON numbers.
 */
export type PropertyFilter =
  /** eq: the text is one of `values`; neq: it is none of them, or the property is not set. */
  | { property: PropertyRef; op: 'eq' | 'neq'; values: string[] }
  /** A JSON number compared with `value`; anything else does not match. */
  | { property: PropertyRef; op: 'gt' | 'gte' | 'lt' | 'lte'; value: number }
  /** Case-insensitive substring of the text; not_contains also matches a property that is not set. */
  | { property: PropertyRef; op: 'contains' | 'not_contains'; value: string }
  | { property: PropertyRef; op: 'is_set' | 'is_not_set' };

/** Track events of one name that pass every filter. */
export interface EventMatcher {
  event: string;
  filters: PropertyFilter[];
}

/** [from, to): instants, from inclusive, to exclusive. */
export interface TimeRange {
  from: Date;
  to: Date;
}

export type Interval = CalendarUnit;

export type AggregateMath = 'sum' | 'avg' | 'min' | 'max' | 'p50' | 'p90' | 'p95' | 'p99';
export const AGGREGATE_MATHS: readonly AggregateMath[] = [
  'sum',
  'avg',
  'min',
  'max',
  'p50',
  'p90',
  'p95',
  'p99',
];

/**
 * What a series counts per bucket: events, distinct persons, or an aggregate of a numeric property over the
 * events where it is a JSON number (percentiles interpolate linearly between the two nearest values).
 */
export type TrendMath =
  | { kind: 'total' }
  | { kind: 'unique_persons' }
  | { kind: AggregateMath; property: PropertyRef };

export interface TrendSeries extends EventMatcher {
  math: TrendMath;
}

/**
 * Split by a property's text (null when not set). The `limit` values with the most matching events in the
 * range, ties by value, are kept; the rest are counted together as "other".
 */
export interface Breakdown {
  property: PropertyRef;
  limit: number;
}

export interface TrendsQuery {
  series: TrendSeries[];
  interval: Interval;
  /** IANA name: buckets are its local calendar units. */
  timezone: string;
  /** `from` is the start of a bucket. */
  range: TimeRange;
  /** The period compared with: the same number of buckets just before `range`, or null. */
  previous: TimeRange | null;
  breakdown: Breakdown | null;
}

export type FunnelOrder = 'ordered' | 'strict' | 'unordered';

export interface FunnelQuery {
  /** 2 to 20 steps. */
  steps: EventMatcher[];
  order: FunnelOrder;
  /** Most time from the first step's event to the last counted step's, in ms (inclusive). */
  windowMs: number;
  /** The first step's event happens in it; later steps may follow up to windowMs after its end. */
  range: TimeRange;
  /** By the value on the event of the person's first step (or their trait); top values by persons entering. */
  breakdown: Breakdown | null;
}

export type RetentionPeriod = 'day' | 'week' | 'month';

export interface RetentionQuery {
  start: EventMatcher;
  return: EventMatcher;
  /** first: a person's cohort is the period of their first start event ever; any: every period they did it in. */
  cohort: 'first' | 'any';
  period: RetentionPeriod;
  /** Columns: period 0 (the cohort itself) to periods - 1. */
  periods: number;
  timezone: string;
  /** Cohorts are the periods of this range; `from` is the start of a period. */
  range: TimeRange;
  /** Periods that start after it are not reported (the triangle's empty corner). */
  now: Date;
}

// ---- Answers ----

export interface BreakdownValue {
  /** The property's text; null when not set (and for "other"). */
  value: string | null;
  /** The values past the limit, together. */
  other: boolean;
}

export interface TrendSeriesResult {
  /** Position of the series in the query. */
  index: number;
  event: string;
  math: TrendMath['kind'];
  breakdown: BreakdownValue | null;
  /** One value per bucket; empty buckets are 0 for counts and sums, null for other aggregates. */
  data: Array<number | null>;
  /** The same math over the whole range (distinct persons are counted once, not summed). */
  total: number | null;
}

export interface TrendsPeriod {
  range: { from: string; to: string };
  /** Bucket starts, in the zone with their offset. */
  buckets: string[];
  series: TrendSeriesResult[];
}

export interface TrendsResult extends TrendsPeriod {
  interval: Interval;
  timezone: string;
  previous: TrendsPeriod | null;
}

export interface FunnelStepResult {
  index: number;
  event: string;
  /** Persons who reached this step. */
  count: number;
  /** count / first step's count (null when that is 0). */
  conversionFromFirst: number | null;
  /** count / previous step's count (null for the first step, or when that is 0). */
  conversionFromPrevious: number | null;
  /** Persons who reached the previous step but not this one (0 for the first). */
  dropOff: number;
  /** From the previous step's event to this one's, over the persons who reached it; null for the first step. */
  medianTimeMs: number | null;
  averageTimeMs: number | null;
}

export interface FunnelResult {
  order: FunnelOrder;
  windowMs: number;
  range: { from: string; to: string };
  /** One entry without a breakdown (breakdown null); else one per value, in order of persons entering. */
  results: Array<{ breakdown: BreakdownValue | null; steps: FunnelStepResult[] }>;
}

export interface RetentionCohort {
  /** Start of the cohort's period, in the zone with its offset. */
  start: string;
  /** Persons in the cohort. */
  size: number;
  /** Persons of the cohort who did the return event in period 0 (= size), 1, 2, ... up to the present. */
  counts: number[];
  /** counts as percentages of size, rounded to 0.01. */
  percentages: number[];
}

export interface RetentionResult {
  period: RetentionPeriod;
  cohort: 'first' | 'any';
  timezone: string;
  range: { from: string; to: string };
  cohorts: RetentionCohort[];
}

/** A statement an engine ran for an insight, with its bound parameters (shown by ?explain=true). */
export interface CompiledSql {
  sql: string;
  params: Array<string | number | boolean | null>;
}

export interface InsightAnswer<R> {
  result: R;
  sql: CompiledSql[];
}
