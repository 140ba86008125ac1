// Trends, the straightforward way: filter the events of each series, put each in its local bucket, compute the
// math per bucket and per breakdown value.
import { bucketsOf, truncLocal } from '../../../core/buckets.ts';
import { emptyValue, isoRange, labels, quantile, topValues } from '../../../core/insight-answers.ts';
import {
  type BreakdownValue,
  INSIGHT_LIMITS,
  type TimeRange,
  type TrendMath,
  type TrendSeriesResult,
  type TrendsPeriod,
  type TrendsQuery,
  type TrendsResult,
} from '../../../core/insights.ts';
import { toLocal } from '../../../core/time-zone.ts';
import {
  inRange,
  matches,
  numberOf,
  personOf,
  propertyValue,
  type RefData,
  type RefEvent,
  textOf,
} from './common.ts';

function compute(data: RefData, events: RefEvent[], math: TrendMath): number | null {
  if (math.kind === 'total') return events.length;
  if (math.kind === 'unique_persons') return new Set(events.map((e) => personOf(data, e))).size;
  const xs = events
    .map((e) => numberOf(propertyValue(data, e, math.property)))
    .filter((x): x is number => x !== null)
    .sort((a, b) => a - b);
  if (xs.length === 0) return emptyValue(math.kind);
  switch (math.kind) {
    case 'sum':
      return xs.reduce((a, b) => a + b, 0);
    case 'avg':
      return xs.reduce((a, b) => a + b, 0) / xs.length;
    case 'min':
      return xs[0] as number;
    case 'max':
      return xs[xs.length - 1] as number;
    default:
      return quantile(xs, Number(math.kind.slice(1)) / 100);
  }
}

function period(
  data: RefData,
  q: TrendsQuery,
  range: TimeRange,
  tops: Array<Array<string | null> | null>,
  withOther: boolean[],
): TrendsPeriod {
  const buckets =
    bucketsOf(range.from.getTime(), range.to.getTime(), q.interval, q.timezone, INSIGHT_LIMITS.maxBuckets) ??
    [];
  const index = new Map(buckets.map((b, i) => [b.local, i]));
  const series: TrendSeriesResult[] = [];
  q.series.forEach((s, i) => {
    const events = data.events.filter((e) => inRange(e, range) && matches(data, e, s));
    const groups: Array<{ breakdown: BreakdownValue | null; events: RefEvent[] }> = [];
    const top = tops[i];
    if (!q.breakdown || !top) groups.push({ breakdown: null, events });
    else {
      const bd = q.breakdown;
      const valueOfEvent = (e: RefEvent) => textOf(propertyValue(data, e, bd.property));
      for (const v of top)
        groups.push({
          breakdown: { value: v, other: false },
          events: events.filter((e) => valueOfEvent(e) === v),
        });
      const rest = events.filter((e) => !top.includes(valueOfEvent(e)));
      if (withOther[i]) groups.push({ breakdown: { value: null, other: true }, events: rest });
    }
    for (const g of groups) {
      const perBucket: RefEvent[][] = buckets.map(() => []);
      for (const e of g.events) {
        const k = truncLocal(toLocal(q.timezone, e.timestamp.getTime()), q.interval);
        perBucket[index.get(k) as number]?.push(e);
      }
      series.push({
        index: i,
        event: s.event,
        math: s.math.kind,
        breakdown: g.breakdown,
        data: perBucket.map((es) => compute(data, es, s.math)),
        total: compute(data, g.events, s.math),
      });
    }
  });
  return { range: isoRange(range), buckets: labels(buckets, q.timezone), series };
}

export function referenceTrends(data: RefData, q: TrendsQuery): TrendsResult {
  // Top breakdown values per series, by events in the current range; the previous period uses the same ones,
  // and "other" is listed in both when either has an event outside them.
  const ranges = q.previous ? [q.range, q.previous] : [q.range];
  const tops: Array<Array<string | null> | null> = [];
  const withOther: boolean[] = [];
  for (const s of q.series) {
    const bd = q.breakdown;
    if (!bd) {
      tops.push(null);
      withOther.push(false);
      continue;
    }
    const counts = new Map<string | null, number>();
    const seen = new Set<string | null>();
    for (const e of data.events) {
      if (!matches(data, e, s)) continue;
      const v = textOf(propertyValue(data, e, bd.property));
      if (inRange(e, q.range)) counts.set(v, (counts.get(v) ?? 0) + 1);
      if (ranges.some((r) => inRange(e, r))) seen.add(v);
    }
    const top = topValues(counts, bd.limit);
    tops.push(top);
    withOther.push([...seen].some((v) => !top.includes(v)));
  }
  const current = period(data, q, q.range, tops, withOther);
  return {
    ...current,
    interval: q.interval,
    timezone: q.timezone,
    previous: q.previous ? period(data, q, q.previous, tops, withOther) : null,
  };
}
