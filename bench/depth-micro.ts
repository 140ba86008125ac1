// Micro-benchmark of the nesting check (pipeline/json.ts depthExceeds) on the events `npm run bench` sends,
// against validate + normalize of the same events, which run it.
// Run: npx tsx bench/depth-micro.ts   (CPU time per event, median of 15 passes: steadier than wall time on a
// machine shared with other work)

import type { RequestContext } from '../src/core/event.ts';
import { depthExceeds, MAX_DEPTH } from '../src/pipeline/json.ts';
import { normalize } from '../src/pipeline/normalize.ts';
import { validateItem } from '../src/pipeline/validate.ts';
import { bodyPool, fillBody } from './events.ts';

const pool = bodyPool(64, 20, false);
const items: Record<string, unknown>[] = [];
for (let k = 0; k < 5000; k++) {
  const body = fillBody(pool[k % pool.length] as (typeof pool)[number], 'run', k, 0);
  items.push(...(JSON.parse(body) as { batch: Record<string, unknown>[] }).batch);
}
const ctx: RequestContext = { workspaceId: 'w', source: 'segment', ip: '127.0.0.1', receivedAt: new Date() };
const FIELDS = ['properties', 'traits', 'context', 'integrations'];

function cpu(pass: () => number): number {
  const t0 = process.cpuUsage();
  if (pass() < 0) throw new Error('unreachable');
  const u = process.cpuUsage(t0);
  return (u.user + u.system) / items.length;
}
const check = () => {
  let n = 0;
  for (const it of items) for (const f of FIELDS) if (it[f] && depthExceeds(it[f], MAX_DEPTH)) n++;
  return n;
};
const pipeline = () => {
  let n = 0;
  for (const it of items) {
    const v = validateItem(it);
    if (!v.ok) throw new Error(v.reason);
    const r = normalize(v.value, ctx, 32 * 1024);
    if (r.ok) n += r.value.json.context.length;
  }
  return n;
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;
const a: number[] = [];
const b: number[] = [];
for (let i = 0; i < 15; i++) {
  a.push(cpu(check));
  b.push(cpu(pipeline));
}
console.log(`${items.length} events (bench/events.ts), CPU time, median of 15 passes:`);
console.log(`  depthExceeds on the four JSON fields: ${median(a).toFixed(3)} µs/event`);
console.log(`  validate + normalize (which run it):  ${median(b).toFixed(3)} µs/event`);
