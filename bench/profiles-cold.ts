// The profile step on a batch of new identities (a fresh database: every id new), timed phase by phase on the
// main thread, with the longest event-loop block: npx tsx bench/profiles-cold.ts [--batch 10000] [--profile F]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import type { CanonicalEvent } from '../src/core/event.ts';
import { applyProfiles } from '../src/profiles/apply.ts';
import { ProfileCaches } from '../src/profiles/cache.ts';
import { Db } from '../src/store/duckdb/db.ts';
import { DuckDBProfilePort } from '../src/store/duckdb/profile-port.ts';
import { MIGRATIONS } from '../src/store/duckdb/schema.ts';
import { rng } from './events.ts';

const { values: args } = parseArgs({
  options: {
    batch: { type: 'string', default: '10000' },
    batches: { type: 'string', default: '4' },
    profile: { type: 'string' },
  },
});
const BATCH = Number(args.batch);
/**
 * The main thread's time on a CPU so far, ns (/proc/.../schedstat): on a machine shared with other work a block's
 * wall time includes the time the scheduler gave others; this is the part the code itself holds the loop.
 */
export function threadNs(): number {
  return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]);
}
const flat = (s: string): string => JSON.parse(JSON.stringify(s)) as string;
let seq = 0;
function batch(r: () => number, t: number): CanonicalEvent[] {
  return Array.from({ length: BATCH }, () => {
    const user = Math.floor(r() * 1e9);
    const id = `m-${seq++}`;
    return {
      id,
      workspaceId: 'w',
      messageId: id,
      type: 'track',
      event: 'Product Viewed',
      name: null,
      category: null,
      userId: flat(`user-${user}`),
      anonymousId: r() < 0.5 ? flat(`anon-${(user * 2654435761) >>> 0}`) : null,
      groupId: null,
      previousId: null,
      instanceId: null,
      timestamp: new Date(t),
      originalTimestamp: null,
      sentAt: null,
      receivedAt: new Date(t),
      properties: {},
      traits: {},
      context: {},
      integrations: {},
      source: 'segment',
    } as CanonicalEvent;
  });
}

const dir = mkdtempSync(join(tmpdir(), 'intake-profiles-cold-'));
const instance = await DuckDBInstance.create(join(dir, 'intake.duckdb'), { threads: '2' });
const conn = await instance.connect();
const db = new Db(conn);
for (const sql of MIGRATIONS) await db.run(sql);
const caches = new ProfileCaches();
const port = new DuckDBProfilePort(db);
await caches.load(port);
const r = rng(7);
const session = args.profile ? new Session() : null;
if (session) {
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
}
for (let b = 0; b < Number(args.batches); b++) {
  const events = batch(r, Date.UTC(2026, 0, 1) + b * 60_000);
  let block = 0;
  let cpuBlock = 0;
  let last = performance.now();
  let lastCpu = threadNs();
  const ticker = setInterval(() => {
    const now = performance.now();
    const cpu = threadNs();
    block = Math.max(block, now - last);
    cpuBlock = Math.max(cpuBlock, (cpu - lastCpu) / 1e6);
    last = now;
    lastCpu = cpu;
  }, 1);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await db.run('BEGIN TRANSACTION');
  const changes = await applyProfiles(port, events, 100, caches);
  await db.run('COMMIT');
  caches.apply(changes);
  const c = process.cpuUsage(c0);
  clearInterval(ticker);
  block = Math.max(block, performance.now() - last);
  console.log(
    `batch ${b + 1}: ${(((performance.now() - t0) * 1000) / BATCH).toFixed(1)} µs/event wall, ${((c.user + c.system) / BATCH).toFixed(1)} CPU, longest block ${block.toFixed(1)} ms (${cpuBlock.toFixed(1)} ms of it on the CPU)`,
  );
}
if (session && args.profile) {
  const { profile } = await session.post('Profiler.stop');
  writeFileSync(args.profile, JSON.stringify(profile));
}
conn.closeSync();
instance.closeSync();
rmSync(dir, { recursive: true, force: true });
