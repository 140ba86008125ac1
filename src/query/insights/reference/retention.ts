// Retention, the straightforward way: each person's cohort periods, then for each the later periods in which
// they did the return event.
import { addLocal, bucketsOf, type CalendarUnit, truncLocal } from '../../../core/buckets.ts';
import { isoRange, labels, retentionCohort } from '../../../core/insight-answers.ts';
import { INSIGHT_LIMITS, type RetentionQuery, type RetentionResult } from '../../../core/insights.ts';
import { fromLocal, toLocal } from '../../../core/time-zone.ts';
import { inRange, matches, personOf, type RefData } from './common.ts';

export function referenceRetention(data: RefData, q: RetentionQuery): RetentionResult {
  const unit: CalendarUnit = q.period;
  const tz = q.timezone;
  const buckets =
    bucketsOf(q.range.from.getTime(), q.range.to.getTime(), unit, tz, INSIGHT_LIMITS.maxBuckets) ?? [];
  const local = (t: Date) => truncLocal(toLocal(tz, t.getTime()), unit);
  // Cohorts: person → local starts of their cohort periods.
  const cohorts = new Map<string, Set<number>>();
  if (q.cohort === 'first') {
    const first = new Map<string, Date>();
    for (const e of data.events) {
      if (!matches(data, e, q.start)) continue;
      const p = personOf(data, e);
      const t = first.get(p);
      if (!t || e.timestamp < t) first.set(p, e.timestamp);
    }
    for (const [p, t] of first) {
      if (t >= q.range.from && t < q.range.to) cohorts.set(p, new Set([local(t)]));
    }
  } else {
    for (const e of data.events) {
      if (!inRange(e, q.range) || !matches(data, e, q.start)) continue;
      const p = personOf(data, e);
      const set = cohorts.get(p) ?? new Set<number>();
      set.add(local(e.timestamp));
      cohorts.set(p, set);
    }
  }
  const returns = new Map<string, Set<number>>();
  for (const e of data.events) {
    if (!matches(data, e, q.return)) continue;
    const p = personOf(data, e);
    const set = returns.get(p) ?? new Set<number>();
    set.add(local(e.timestamp));
    returns.set(p, set);
  }
  const starts = labels(buckets, tz);
  return {
    period: q.period,
    cohort: q.cohort,
    timezone: tz,
    range: isoRange(q.range),
    cohorts: buckets.map((b, i) => {
      const members = [...cohorts].filter(([, set]) => set.has(b.local)).map(([p]) => p);
      const counts: number[] = [];
      for (let k = 0; k < q.periods; k++) {
        const periodLocal = addLocal(b.local, unit, k);
        if (fromLocal(tz, periodLocal) > q.now.getTime()) break;
        counts.push(
          k === 0 ? members.length : members.filter((p) => returns.get(p)?.has(periodLocal) === true).length,
        );
      }
      return retentionCohort(starts[i] as string, members.length, counts);
    }),
  };
}
