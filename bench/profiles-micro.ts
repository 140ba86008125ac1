// Micro-benchmark of the profile step's cost per event (identity graph + trait merge, profiles/apply.ts over
// store/duckdb/profile-port.ts): BEGIN; applyProfiles(batch); COMMIT; caches.apply(changes) on a real DuckDB file, with bench/events.ts-shaped
// events (100k users, half with an anonymousId), cold (first batch, users new) and warm (every user known).
// Run: npx tsx bench/profiles-micro.ts [--reps 5] [--batch 20000] [--warm 3] [--only track|10%] [--against src ...]
// --profile FILE writes a CPU profile (.cpuprofile) of the warm batches only, of the last pass run.
// Each --against names another checkout's src/ (node_modules must resolve from there); implementations run
// alternately in the same process, so the machine's noise hits them alike, and ratios to the first are printed.
// A checkout from before the port (store/duckdb/profiles.ts applied over the Db itself) is run as it was.
// Beside wall time it prints the process's CPU time per event (JS and DuckDB's threads): on a machine shared with
// other work the wall time of the same code moved 2× between passes, its CPU time much less. Naming this
// checkout's src again with --against runs it twice: the spread between the two is the noise.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import type { CanonicalEvent, JsonObject } from '../src/core/event.ts';
import type { Db as DbClass } from '../src/store/duckdb/db.ts';
import { rng } from './events.ts';

const { values: args } = parseArgs({
  options: {
    reps: { type: 'string', default: '5' },
    batch: { type: 'string', default: '20000' },
    warm: { type: 'string', default: '3' },
    against: { type: 'string', multiple: true, default: [] },
    only: { type: 'string' },
    profile: { type: 'string' },
  },
});
const REPS = Number(args.reps);
const BATCH = Number(args.batch);
const WARM = Number(args.warm);
const USERS = 100_000;
const CAP = 100;

type Caches = InstanceType<typeof import('../src/profiles/cache.ts').ProfileCaches>;
type Changes = Parameters<Caches['apply']>[0];

interface Impl {
  name: string;
  Db: typeof DbClass;
  MIGRATIONS: string[];
  /** What applyProfiles and the caches' load take: the port over `db`, or `db` itself before the port. */
  tables: (db: DbClass) => unknown;
  applyProfiles: (tables: unknown, events: CanonicalEvent[], cap: number, caches: Caches) => Promise<Changes>;
  ProfileCaches: new () => Caches;
}

async function loadImpl(src: string): Promise<Impl> {
  const root = resolve(src);
  const ported = existsSync(join(root, 'profiles/apply.ts'));
  const Port = ported ? (await import(join(root, 'store/duckdb/profile-port.ts'))).DuckDBProfilePort : null;
  return {
    name: src,
    Db: (await import(join(root, 'store/duckdb/db.ts'))).Db,
    MIGRATIONS: (await import(join(root, 'store/duckdb/schema.ts'))).MIGRATIONS,
    tables: Port ? (db) => new Port(db) : (db) => db,
    applyProfiles: (await import(join(root, ported ? 'profiles/apply.ts' : 'store/duckdb/profiles.ts')))
      .applyProfiles,
    ProfileCaches: (await import(join(root, ported ? 'profiles/cache.ts' : 'store/duckdb/profile-cache.ts')))
      .ProfileCaches,
  };
}

// Ids as the server gets them from JSON.parse: flat strings (a template literal of more than 12 characters is a
// rope that every map lookup would first flatten).
const flat = (s: string): string => JSON.parse(JSON.stringify(s)) as string;
const anonOf = (user: number) => flat(`anon-${(user * 2654435761) >>> 0}`);
const PLANS = ['free', 'pro', 'enterprise'];

let seq = 0;
function event(user: number, withAnon: boolean, t: number, traits: JsonObject | null): CanonicalEvent {
  const id = `m-${seq++}`;
  return {
    id,
    workspaceId: 'w',
    messageId: id,
    type: traits ? 'identify' : 'track',
    event: traits ? null : 'Product Viewed',
    name: null,
    category: null,
    userId: flat(`user-${user}`),
    anonymousId: withAnon ? anonOf(user) : null,
    groupId: null,
    previousId: null,
    instanceId: null,
    timestamp: new Date(t),
    originalTimestamp: null,
    sentAt: null,
    receivedAt: new Date(t),
    properties: { path: '/', price: 1 },
    traits: traits ?? {},
    context: {},
    integrations: {},
    source: 'segment',
  };
}

/** `identifyShare` of the events are identify calls with a few traits, the rest track calls without. */
function randomBatch(r: () => number, n: number, start: number, identifyShare: number): CanonicalEvent[] {
  const out: CanonicalEvent[] = [];
  for (let i = 0; i < n; i++) {
    const user = Math.floor(r() * USERS);
    const t = start + Math.floor(r() * 60_000);
    const traits =
      r() < identifyShare
        ? {
            email: `user-${user}@example.com`,
            plan: PLANS[Math.floor(r() * PLANS.length)],
            logins: Math.floor(r() * 100),
          }
        : null;
    out.push(event(user, r() < 0.5, t, traits));
  }
  return out;
}

/** Every user once with and once without its anonymousId: afterwards every id and link is known. */
function fillBatches(start: number): CanonicalEvent[][] {
  const all: CanonicalEvent[] = [];
  for (let u = 0; u < USERS; u++) all.push(event(u, true, start, null), event(u, false, start, null));
  const out: CanonicalEvent[][] = [];
  for (let i = 0; i < all.length; i += BATCH) out.push(all.slice(i, i + BATCH));
  return out;
}

/** Wall and CPU time of one batch, µs per event. */
async function timed(impl: Impl, db: DbClass, caches: Caches, batch: CanonicalEvent[]) {
  // The longest stretch the event loop was held (a 1 ms timer's largest gap): the stall a server would see.
  let block = 0;
  let last = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    block = Math.max(block, now - last);
    last = now;
  }, 1);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await db.run('BEGIN TRANSACTION');
  const changes = await impl.applyProfiles(impl.tables(db), batch, CAP, caches);
  await db.run('COMMIT');
  caches.apply(changes);
  const c = process.cpuUsage(c0);
  clearInterval(ticker);
  block = Math.max(block, performance.now() - last);
  return {
    wall: ((performance.now() - t0) * 1000) / batch.length,
    cpu: (c.user + c.system) / batch.length,
    block,
  };
}

/** One pass on a fresh database: the cold first batch, then (after a fill) `WARM` warm batches. */
async function pass(impl: Impl, identifyShare: number, seed: number) {
  const dir = mkdtempSync(join(tmpdir(), 'intake-profiles-micro-'));
  const instance = await DuckDBInstance.create(join(dir, 'intake.duckdb'), { threads: '2' });
  const conn = await instance.connect();
  try {
    const db = new impl.Db(conn);
    for (const sql of impl.MIGRATIONS) await db.run(sql);
    const caches = new impl.ProfileCaches();
    await caches.load(impl.tables(db) as Parameters<Caches['load']>[0]);
    const r = rng(seed);
    const day = Date.UTC(2026, 0, 1);
    const cold = await timed(impl, db, caches, randomBatch(r, BATCH, day, identifyShare));
    for (const b of fillBatches(day + 60_000)) await timed(impl, db, caches, b);
    const warm: Array<{ wall: number; cpu: number; block: number }> = [];
    const session = args.profile === undefined ? null : new Session();
    if (session) {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    }
    for (let i = 0; i < WARM; i++)
      warm.push(await timed(impl, db, caches, randomBatch(r, BATCH, day + (2 + i) * 60_000, identifyShare)));
    if (session && args.profile !== undefined) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(args.profile, JSON.stringify(profile));
      session.disconnect();
    }
    return {
      cold,
      warm: {
        wall: median(warm.map((w) => w.wall)),
        cpu: median(warm.map((w) => w.cpu)),
        block: Math.max(...warm.map((w) => w.block)),
      },
    };
  } finally {
    conn.closeSync();
    instance.closeSync();
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const fmt = (us: number) => `${us.toFixed(2).padStart(6)} µs/event`;

const impls = [
  await loadImpl(join(import.meta.dirname, '../src')),
  ...(await Promise.all(args.against.map(loadImpl))),
];
for (const [label, share] of [
  ['track only', 0],
  ['10% identify with traits', 0.1],
] as const) {
  if (args.only !== undefined && !label.startsWith(args.only)) continue;
  type Series = Record<'cold' | 'warm' | 'coldCpu' | 'warmCpu' | 'coldBlock' | 'warmBlock', number[]>;
  const res: Series[] = impls.map(() => ({
    cold: [],
    warm: [],
    coldCpu: [],
    warmCpu: [],
    coldBlock: [],
    warmBlock: [],
  }));
  for (let rep = 0; rep < REPS; rep++) {
    for (const [i, impl] of impls.entries()) {
      const p = await pass(impl, share, 1000 + rep);
      const x = res[i] as Series;
      x.cold.push(p.cold.wall);
      x.warm.push(p.warm.wall);
      x.coldCpu.push(p.cold.cpu);
      x.warmCpu.push(p.warm.cpu);
      x.coldBlock.push(p.cold.block);
      x.warmBlock.push(p.warm.block);
    }
  }
  console.log(`${label}; batches of ${BATCH}, median of ${REPS} passes (wall, then process CPU):`);
  const base = res[0] as Series;
  for (const [i, impl] of impls.entries()) {
    const x = res[i] as Series;
    const col = (k: keyof Series) =>
      `${fmt(median(x[k]))}${i === 0 ? '' : ` (${(median(x[k]) / median(base[k])).toFixed(2)}×)`}`;
    console.log(`  ${impl.name.padEnd(28)} cold ${col('cold')}   warm ${col('warm')}`);
    console.log(`  ${'  cpu'.padEnd(28)} cold ${col('coldCpu')}   warm ${col('warmCpu')}`);
    const ms = (k: keyof Series) =>
      `${Math.max(...x[k])
        .toFixed(1)
        .padStart(6)} ms`;
    console.log(
      `  ${'  longest event-loop block'.padEnd(28)} cold ${ms('coldBlock')}   warm ${ms('warmBlock')}`,
    );
  }
}
