// The cost table: CPU µs per event by stage, next to the floor. Two measurements:
// - the real server under scenario 1 (100-event batches) with --cpu-prof: its threads' CPU from
//   /proc/<pid>/task/*/stat splits the main thread (JavaScript: HTTP, pipeline, log, the JS side of loads) from
//   every other thread (DuckDB's work, which the driver runs on libuv's pool and DuckDB's own threads, the log's
//   fdatasync, V8's GC helpers); the profile's self time in the measured window, attributed by source path,
//   splits the main thread's stages;
// - the ingest log and the store's loads in this process, nothing else running (bench/capacity.ts): the load
//   (events, dictionary, profiles, commit) and the store's checkpoints, each timed with process.cpuUsage;
//   then the floor: JSON.parse alone of the same bodies, and DuckDB alone on the same segment files (read_json +
//   INSERT + COMMIT, CHECKPOINT once per row group) on a bare instance opened as the store opens its own.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { loadConfig } from '../src/core/config.ts';
import { Db } from '../src/store/duckdb/db.ts';
import { DEFAULT_CHECKPOINT_ROWS } from '../src/store/duckdb/index.ts';
import { loadFileSql } from '../src/store/duckdb/load.ts';
import { MIGRATIONS } from '../src/store/duckdb/schema.ts';
import { type CapacityRow, storeCapacity } from './capacity.ts';
import { bodyPool, fillBody } from './events.ts';
import { job, round, SCENARIOS } from './ingest.ts';
import { intakeEnv, type LoadGenerator, startIntake } from './procs.ts';

/** Main-thread stages, by where the sampled function lives. */
export const STAGES = [
  'HTTP + parse',
  'validate + normalize + enrich',
  'log write',
  'load (JS side)',
  'profiles (JS side)',
  'GC (main thread)',
  'other main thread',
] as const;
type Stage = (typeof STAGES)[number];

const HTTP_PACKAGES =
  /node_modules\/(fastify|@fastify|avvio|find-my-way|light-my-request|pino|fast-json-stringify|secure-json-parse|fast-querystring|content-type|process-warning|abstract-logging|toad-cache|rfdc|fast-decode-uri-component)\//;

/** The stage a sampled function's self time belongs to. */
export function stageOf(url: string, fn: string): Stage | null {
  if (fn === '(idle)') return null;
  if (fn === '(garbage collector)') return 'GC (main thread)';
  if (url.includes('/src/http/') || url.includes('/src/dialects/') || HTTP_PACKAGES.test(url))
    return 'HTTP + parse';
  if (/^node:(_http|http|net|stream|internal\/(streams|http|net|stream_base))/.test(url))
    return 'HTTP + parse';
  if (url === '' && (fn === 'parse' || fn === 'JSONParse')) return 'HTTP + parse';
  if (url.includes('/src/pipeline/') || /node_modules\/(ajv|ua-parser-js|mmdb-lib|@ip-location-db)/.test(url))
    return 'validate + normalize + enrich';
  if (url.includes('/src/ingest/') || url.startsWith('node:fs') || url.startsWith('node:internal/fs'))
    return 'log write';
  if (url.includes('/src/store/') || url.includes('node_modules/@duckdb/')) return 'load (JS side)';
  if (url.includes('/src/profiles/')) return 'profiles (JS side)';
  return 'other main thread';
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Self time per stage (ms) of the samples taken between `from` and `to` (µs, CLOCK_MONOTONIC, as V8's). */
export function stagesOf(file: string, from: number, to: number): Map<Stage, number> {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const out = new Map<Stage, number>();
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    const dt = (p.timeDeltas[i + 1] ?? 0) / 1000;
    if (t < from || t > to) continue;
    const n = byId.get(p.samples[i] as number);
    if (!n) continue;
    const s = stageOf(n.callFrame.url, n.callFrame.functionName);
    if (s) out.set(s, (out.get(s) ?? 0) + dt);
  }
  return out;
}

/** CPU µs of a process's threads: the main thread (tid = pid) and all the others. */
export function threadCpu(pid: number): { main: number; others: number } {
  let main = 0;
  let others = 0;
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return { main, others };
  }
  for (const tid of tasks) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const us = ((Number(f[11]) + Number(f[12])) * 1e6) / 100;
      if (Number(tid) === pid) main += us;
      else others += us;
    } catch {
      // the thread ended meanwhile
    }
  }
  return { main, others };
}

export interface CostResult {
  /** Scenario 1 on the real server, µs per acknowledged event. */
  server: {
    eventsPerSec: number;
    events: number;
    mainUs: number;
    othersUs: number;
    /** Main-thread CPU split by stage in proportion to the profile's self time in the same window. */
    stages: Array<{ stage: string; us: number }>;
  };
  /** The log and the store alone in this process. */
  alone: CapacityRow;
  floor: {
    jsonParseUs: number;
    /** DuckDB alone on the same segments: read_json + INSERT + COMMIT, and CHECKPOINT per row group. */
    duckdbLoadUs: number;
    duckdbCheckpointUs: number;
    /** The same without DuckDB's WAL (ATTACH ... RECOVERY_MODE no_wal_writes): read + INSERT + COMMIT. */
    noWalLoadUs: number;
    events: number;
  };
}

const cpuNow = () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};

/** JSON.parse alone of scenario 1's bodies, µs per event. */
function jsonParseFloor(): number {
  const pool = bodyPool(32, 100, false);
  const bodies = Array.from({ length: 2000 }, (_, k) =>
    fillBody(pool[k % pool.length] as never, 'floor', k, 0),
  );
  for (const b of bodies.slice(0, 200)) JSON.parse(b); // warm-up
  const c0 = cpuNow();
  let n = 0;
  for (let r = 0; r < 3; r++)
    for (const b of bodies) n += (JSON.parse(b) as { batch: unknown[] }).batch.length;
  return (cpuNow() - c0) / n;
}

/** DuckDB alone on segment files: the events table of the store, nothing else; µs per event. */
export async function duckdbFloor(
  files: string[],
  dir: string,
  walWrites: boolean,
  threads = 1,
): Promise<Omit<CostResult['floor'], 'jsonParseUs' | 'noWalLoadUs'>> {
  const name = walWrites ? `floor-${threads}` : 'floor-no-wal';
  const instance = await DuckDBInstance.create(walWrites ? join(dir, `${name}.duckdb`) : ':memory:', {
    memory_limit: '256MB',
    threads: String(threads),
    checkpoint_threshold: '1GB',
    // As the store sets it (src/store/duckdb/index.ts): no row-group merge at a checkpoint.
    max_vacuum_tasks: '0',
  });
  // With more than one thread, statements are watched as the store's loads are (db.ts).
  const db = new Db(await instance.connect(), { background: threads >= 2 });
  if (!walWrites) {
    // The design the issue asks about: DuckDB writes no WAL, the ingest log would be the WAL.
    await db.run(`ATTACH '${join(dir, `${name}.duckdb`)}' AS f (RECOVERY_MODE no_wal_writes)`);
    await db.run('USE f');
  }
  for (const sql of MIGRATIONS) await db.run(sql);
  let load = 0;
  let ck = 0;
  let events = 0;
  let since = 0;
  for (const f of files) {
    const c0 = cpuNow();
    await db.run('BEGIN TRANSACTION');
    const n = await db.run(loadFileSql(f));
    await db.run('COMMIT');
    load += cpuNow() - c0;
    events += n;
    since += n;
    if (since >= DEFAULT_CHECKPOINT_ROWS) {
      const c1 = cpuNow();
      await db.run('CHECKPOINT');
      ck += cpuNow() - c1;
      since = 0;
    }
  }
  db.conn.closeSync();
  instance.closeSync();
  return { duckdbLoadUs: load / events, duckdbCheckpointUs: ck / events, events };
}

export async function measureCost(
  load: LoadGenerator,
  opts: { seconds: number; log(line: string): void },
): Promise<CostResult> {
  const s = SCENARIOS[0] as (typeof SCENARIOS)[number];
  const dir = mkdtempSync(join(tmpdir(), 'intake-bench-cost-'));
  try {
    opts.log(`cost: ${s.title} for ${opts.seconds} s on a server under --cpu-prof`);
    const profDir = join(dir, 'prof');
    mkdirSync(profDir);
    const server = await startIntake(join(dir, 'data'), { cpuProfDir: profDir });
    await load.run(job(s, server.url, 3000, 'warm'));
    const t0 = threadCpu(server.proc.pid as number);
    const from = Number(process.hrtime.bigint() / 1000n);
    const r = await load.run(job(s, server.url, opts.seconds * 1000, 'cost'));
    const to = Number(process.hrtime.bigint() / 1000n);
    const t1 = threadCpu(server.proc.pid as number);
    await server.stop();
    const events = r.ok * s.events;
    // One profile per thread that runs JavaScript (the main one, and tsx's loader worker): the largest is the main.
    const profiles = readdirSync(profDir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => join(profDir, f));
    const byStage = profiles.map((f) => stagesOf(f, from, to)).sort((a, b) => sum(b) - sum(a))[0] as Map<
      Stage,
      number
    >;
    const mainUs = (t1.main - t0.main) / events;
    const sampled = sum(byStage);
    const server_ = {
      eventsPerSec: Math.round(events / (r.elapsedMs / 1000)),
      events,
      mainUs: round(mainUs, 1),
      othersUs: round((t1.others - t0.others) / events, 1),
      stages: STAGES.map((stage) => ({
        stage,
        us: round((mainUs * (byStage.get(stage) ?? 0)) / sampled, 1),
      })),
    };

    opts.log('cost: the log and the store alone, in this process');
    const kept = join(dir, 'segments');
    mkdirSync(kept);
    // The store as the server opens it, --intake-env included.
    const c = loadConfig([], intakeEnv);
    const [alone] = await storeCapacity(
      [10_000],
      Math.max(20, opts.seconds),
      {
        memoryLimit: c.duckdbMemoryLimit,
        checkpointThreshold: c.duckdbCheckpointThreshold,
        checkpointRows: c.duckdbCheckpointRows,
        threads: c.duckdbThreads,
      },
      { keepSegments: kept },
    );
    opts.log('cost: the floor (JSON.parse alone; DuckDB alone on the same segments)');
    const files = readdirSync(kept)
      .sort()
      .map((f) => join(kept, f));
    const wal = await duckdbFloor(files, dir, true);
    const noWal = await duckdbFloor(files, dir, false);
    const floor = {
      jsonParseUs: round(jsonParseFloor(), 2),
      duckdbLoadUs: round(wal.duckdbLoadUs, 1),
      duckdbCheckpointUs: round(wal.duckdbCheckpointUs, 1),
      noWalLoadUs: round(noWal.duckdbLoadUs, 1),
      events: wal.events,
    };
    return { server: server_, alone: alone as CapacityRow, floor };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const sum = (m: Map<unknown, number>) => [...m.values()].reduce((a, b) => a + b, 0);
