// Micro-benchmark of a tracking plan's cost per event on the ingest path: the benchmark's events (bench/events.ts)
// through validate + normalize, without a plan and with the 50-event plan of bench/plan.ts (events that follow
// it, and events that break it: an unplanned property, a wrong type, each marked), interleaved rounds, CPU time.
// Run: npx tsx bench/plan-micro.ts
import type { RequestContext } from '../src/core/event.ts';
import { normalize } from '../src/pipeline/normalize.ts';
import { CompiledPlan } from '../src/pipeline/plan/check.ts';
import { validateItem } from '../src/pipeline/validate.ts';
import { bodyPool, fillBody } from './events.ts';
import { benchPlan } from './plan.ts';

const EVENTS = 100_000;
const ROUNDS = 15;

const ctx: RequestContext = { workspaceId: 'w', source: 'segment', ip: '127.0.0.1', receivedAt: new Date() };
const pool = bodyPool(50, 20, false);
const items: Array<Record<string, unknown>> = [];
for (let k = 0; items.length < EVENTS; k++) {
  const body = JSON.parse(fillBody(pool[k % pool.length] as (typeof pool)[number], 'run', k, 0)) as {
    batch: Array<Record<string, unknown>>;
  };
  items.push(...body.batch);
}
const broken = items.map((e, i) => ({
  ...e,
  properties: { ...(e.properties as object), ...(i % 2 === 0 ? { coupon: 'X' } : { price: 'free' }) },
}));

const plan = CompiledPlan.of(benchPlan(), 1);
const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

function run(events: Array<Record<string, unknown>>, p: CompiledPlan): number {
  const t0 = cpu();
  for (const item of events) {
    const v = validateItem(item);
    if (!v.ok) throw new Error(v.reason);
    const c = p.check(v.value);
    if (!c.ok) throw new Error(c.reason);
    const r = normalize(c.value, ctx, 32 * 1024);
    if (!r.ok) throw new Error(r.reason);
  }
  return (cpu() - t0) / events.length;
}

const cases: Array<[string, Array<Record<string, unknown>>, CompiledPlan]> = [
  ['no plan', items, CompiledPlan.NONE],
  ['50-event plan, events that follow it', items, plan],
  ['50-event plan, events that break it (marked)', broken, plan],
];
const best = cases.map(() => Number.POSITIVE_INFINITY);
for (let r = 0; r < ROUNDS; r++) {
  for (const [i, [, events, p]] of cases.entries()) best[i] = Math.min(best[i] as number, run(events, p));
}
const base = best[0] as number;
for (const [i, [label]] of cases.entries()) {
  const us = best[i] as number;
  process.stdout.write(
    `${label.padEnd(46)} ${us.toFixed(2)} µs/event${i > 0 ? `  (+${(us - base).toFixed(2)} µs)` : ''}\n`,
  );
}
process.stdout.write(
  `validate + normalize, CPU time, fastest of ${ROUNDS} interleaved rounds of ${EVENTS} events\n`,
);
