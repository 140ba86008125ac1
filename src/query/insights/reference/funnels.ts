// Funnels, the straightforward way: for every person, try every start and follow it step by step (ordered,
// strict), or every window (unordered); keep the attempt that got furthest, the latest of those on a tie.
import { funnelSteps, isoRange, type StepCount, topValues } from '../../../core/insight-answers.ts';
import type { BreakdownValue, FunnelQuery, FunnelResult } from '../../../core/insights.ts';
import {
  byTime,
  groupBy,
  inRange,
  matches,
  mean,
  median,
  personOf,
  propertyValue,
  type RefData,
  type RefEvent,
  textOf,
} from './common.ts';

/** A person's best attempt: how many steps it reached, when each was reached, and the event it started from. */
interface Attempt {
  depth: number;
  times: number[];
  first: RefEvent;
}

const better = (a: Attempt, b: Attempt | null) => b === null || a.depth >= b.depth;

/** Ordered: each step is the first event after the previous step's that matches it, within the window. */
function ordered(data: RefData, q: FunnelQuery, events: RefEvent[]): Attempt | null {
  let best: Attempt | null = null;
  events.forEach((start, i) => {
    if (!inRange(start, q.range) || !matches(data, start, q.steps[0] as never)) return;
    const t0 = start.timestamp.getTime();
    const times = [t0];
    let at = i;
    for (let k = 1; k < q.steps.length; k++) {
      const next = events.findIndex((e, j) => j > at && matches(data, e, q.steps[k] as never));
      if (next < 0) break;
      const t = (events[next] as RefEvent).timestamp.getTime();
      if (t - t0 > q.windowMs) break;
      times.push(t);
      at = next;
    }
    const a = { depth: times.length, times, first: start };
    // Starts come in time order: a later one that gets as far wins.
    if (better(a, best)) best = a;
  });
  return best;
}

/** Strict: the steps are consecutive events of the person (of any name), within the window. */
function strict(data: RefData, q: FunnelQuery, events: RefEvent[]): Attempt | null {
  let best: Attempt | null = null;
  events.forEach((start, i) => {
    if (!inRange(start, q.range) || !matches(data, start, q.steps[0] as never)) return;
    const t0 = start.timestamp.getTime();
    const times = [t0];
    for (let k = 1; k < q.steps.length; k++) {
      const e = events[i + k];
      if (!e || !matches(data, e, q.steps[k] as never) || e.timestamp.getTime() - t0 > q.windowMs) break;
      times.push(e.timestamp.getTime());
    }
    const a = { depth: times.length, times, first: start };
    if (better(a, best)) best = a;
  });
  return best;
}

/**
 * Unordered: a window starts at any event matching a step, in the range, and spans windowMs after it; step k is
 * reached when the window holds a distinct event for each of steps 1..k (steps of one event are identical, so
 * that means enough events of each). Step k's time is when the window first held steps 1..k.
 */
function unordered(data: RefData, q: FunnelQuery, events: RefEvent[]): Attempt | null {
  const stepOf = (e: RefEvent) => q.steps.findIndex((s) => matches(data, e, s));
  // Steps with the same event name share one group (they are identical: parse.ts refuses anything else).
  const groupOf = q.steps.map((s) => q.steps.findIndex((x) => x.event === s.event));
  let best: Attempt | null = null;
  for (const anchor of events) {
    if (!inRange(anchor, q.range) || stepOf(anchor) < 0) continue;
    const t0 = anchor.timestamp.getTime();
    const inWindow = events.filter((e) => {
      const t = e.timestamp.getTime();
      return t >= t0 && t - t0 <= q.windowMs && stepOf(e) >= 0;
    });
    const needed = new Map<number, number>();
    const times: number[] = [];
    for (let k = 0; k < q.steps.length; k++) {
      const g = groupOf[k] as number;
      needed.set(g, (needed.get(g) ?? 0) + 1);
      const ofGroup = inWindow.filter((e) => groupOf[stepOf(e)] === g);
      const nth = ofGroup[(needed.get(g) as number) - 1];
      if (!nth) break;
      times.push(Math.max(nth.timestamp.getTime(), times[k - 1] ?? 0));
    }
    if (times.length === 0) continue;
    // The step-1 event the breakdown reads: the window's first; at one instant, the smallest value.
    const firsts = inWindow.filter((e) => groupOf[stepOf(e)] === 0);
    const t1 = (firsts[0] as RefEvent).timestamp.getTime();
    const value = (e: RefEvent) =>
      q.breakdown ? textOf(propertyValue(data, e, q.breakdown.property)) : null;
    const first = firsts
      .filter((e) => e.timestamp.getTime() === t1)
      .sort((a, b) => compareNullLast(value(a), value(b)))[0] as RefEvent;
    const a = { depth: times.length, times, first };
    if (better(a, best)) best = a;
  }
  return best;
}

function compareNullLast(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return a < b ? -1 : 1;
}

export function referenceFunnels(data: RefData, q: FunnelQuery): FunnelResult {
  const end = q.range.to.getTime() + q.windowMs;
  const relevant = (e: RefEvent) =>
    e.timestamp.getTime() >= q.range.from.getTime() &&
    e.timestamp.getTime() <= end &&
    e.type === 'track' &&
    e.event !== null &&
    (q.order === 'strict' || q.steps.some((s) => matches(data, e, s)));
  const perPerson = groupBy(data.events.filter(relevant).sort(byTime), (e) => personOf(data, e));
  const attempts: Attempt[] = [];
  for (const events of perPerson.values()) {
    const a =
      q.order === 'ordered'
        ? ordered(data, q, events)
        : q.order === 'strict'
          ? strict(data, q, events)
          : unordered(data, q, events);
    if (a) attempts.push(a);
  }
  const valueOfAttempt = (a: Attempt): string | null => {
    const bd = q.breakdown;
    return bd ? textOf(propertyValue(data, a.first, bd.property)) : null;
  };
  const groups: Array<{ breakdown: BreakdownValue | null; attempts: Attempt[] }> = [];
  if (!q.breakdown) groups.push({ breakdown: null, attempts });
  else {
    const counts = new Map<string | null, number>();
    for (const a of attempts) counts.set(valueOfAttempt(a), (counts.get(valueOfAttempt(a)) ?? 0) + 1);
    const top = topValues(counts, q.breakdown.limit);
    for (const v of top)
      groups.push({
        breakdown: { value: v, other: false },
        attempts: attempts.filter((a) => valueOfAttempt(a) === v),
      });
    const rest = attempts.filter((a) => !top.includes(valueOfAttempt(a)));
    if (rest.length > 0) groups.push({ breakdown: { value: null, other: true }, attempts: rest });
  }
  return {
    order: q.order,
    windowMs: q.windowMs,
    range: isoRange(q.range),
    results: groups.map((g) => {
      const counts: StepCount[] = q.steps.map((_, k) => {
        const reached = g.attempts.filter((a) => a.depth > k);
        const gaps = k === 0 ? [] : reached.map((a) => (a.times[k] as number) - (a.times[k - 1] as number));
        return { count: reached.length, medianTimeMs: median(gaps), averageTimeMs: mean(gaps) };
      });
      return { breakdown: g.breakdown, steps: funnelSteps(q.steps, counts) };
    }),
  };
}
