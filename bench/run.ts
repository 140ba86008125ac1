// npm run bench [-- --quick | --soak [--minutes N] | --profile [--scenario s1] [--seconds N]] [--rate-limit] [--plan]
//   [--cluster [--seconds N] [--ingest-nodes 1,2,3] [--loaders 1,2] [--drain] [--skip-insights] (bench/cluster.ts:
//   a local NATS + ClickHouse cluster)]
//   [--only ingest|queries|cost] [--query-events N] [--query-data DIR (keep the query data set there, reused)]
//   [--query-cycles N (direct and API runs alternate N times; default 2)] [--query-skip 7c,7d (cases left out)]
//   [--compare K=V,... (a second Intake per scenario started with this environment, alternating)]
//   [--stall-prof DIR (a CPU profile of each Intake's measured rounds there; bench/stalls.ts lists its long tasks)]
//   [--intake-env K=V,... (the environment of every Intake the run starts, e.g. INTAKE_DUCKDB_THREADS=1)]
// Starts the real `intake start` and a bare node:http reference server, drives both from a separate load
// generator process, alternately, and prints Intake's figures next to the reference's; then loads a query data
// set through the bulk path and times GET /events and a per-day count. Results go to bench/results/.
// --rate-limit adds, per scenario, an Intake whose key has limits that never trip (GENEROUS_LIMIT), in the same
// alternating rounds, and prints rate limiting on vs off. --plan does the same with a 50-event tracking plan
// (bench/plan.ts) against none.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, freemem, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { storeCapacity } from './capacity.ts';
import { clusterInsightTable, clusterTable, drainTable, runCluster } from './cluster.ts';
import { type CostResult, measureCost } from './cost.ts';
import { type IngestResult, job, round, runIngest, SCENARIOS, storedTotal } from './ingest.ts';
import { dirSize, intakeEnv, LoadGenerator, parseEnv, ROOT, startIntake } from './procs.ts';
import { formatSummary, type ProfileSummary, summarize } from './profile.ts';
import { type QueryResults, runQueries } from './queries.ts';
import {
  compareTable,
  costTable,
  exportTable,
  ingestTable,
  insightTable,
  memoryTable,
  planTable,
  queryTable,
  rateLimitTable,
  targets,
  targetTable,
} from './report.ts';

const { values: args } = parseArgs({
  args: process.argv.slice(2),
  options: {
    quick: { type: 'boolean', default: false },
    soak: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    minutes: { type: 'string' },
    seconds: { type: 'string' },
    rounds: { type: 'string' },
    scenario: { type: 'string' },
    only: { type: 'string' },
    'rate-limit': { type: 'boolean', default: false },
    plan: { type: 'boolean', default: false },
    'query-events': { type: 'string' },
    'query-data': { type: 'string' },
    'query-cycles': { type: 'string' },
    'query-skip': { type: 'string' },
    compare: { type: 'string' },
    'stall-prof': { type: 'string' },
    'intake-env': { type: 'string' },
    cluster: { type: 'boolean', default: false },
    'ingest-nodes': { type: 'string' },
    loaders: { type: 'string' },
    'skip-insights': { type: 'boolean', default: false },
    drain: { type: 'boolean', default: false },
  },
});

const log = (line: string) => process.stdout.write(`${line}\n`);
Object.assign(intakeEnv, parseEnv(args['intake-env']));
const started = new Date();
const mode = args.cluster
  ? 'cluster'
  : args.soak
    ? 'soak'
    : args.profile
      ? 'profile'
      : args.quick
        ? 'quick'
        : 'full';

function git(...a: string[]): string {
  try {
    return execFileSync('git', a, {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return '';
  }
}

const machine = {
  nproc: availableParallelism(),
  cpu: cpus()[0]?.model ?? 'unknown',
  memoryGB: round(totalmem() / 2 ** 30, 1),
  freeMemoryGB: round(freemem() / 2 ** 30, 1),
  node: process.version,
  loadavgAtStart: loadavg().map((x) => round(x, 2)),
  // INTAKE_BENCH_COMMIT names the commit when the bench runs on an exported copy of the tree.
  commit: git('rev-parse', '--short', 'HEAD') || process.env.INTAKE_BENCH_COMMIT || 'unknown',
  dirtyFiles: git('status', '--porcelain', '--', 'src').split('\n').filter(Boolean).length,
};

function save(report: Record<string, unknown>): string {
  const dir = join(ROOT, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const body = `${JSON.stringify({ ...report, machine: { ...machine, loadavgAtEnd: loadavg().map((x) => round(x, 2)) } }, null, 2)}\n`;
  const file = join(dir, `${started.toISOString().replace(/[:.]/g, '-')}-${mode}.json`);
  writeFileSync(file, body);
  writeFileSync(join(dir, 'latest.json'), body);
  return file;
}

const pickScenarios = () =>
  args.scenario ? SCENARIOS.filter((s) => args.scenario?.split(',').includes(s.id)) : SCENARIOS;

/** What the dedupe memory documents (README, src/ingest/file/dedupe.ts): bytes a sealed key at most. */
const DEDUPE_BYTES_PER_KEY = 2.1;
/** Its exact table, which fills and empties at each seal: 1M keys at 18 B, plus the seal's arrays (~24 MB). */
const DEDUPE_EXACT_MB = 45;

/**
 * RSS growth after warm-up, as floors and as ceilings: the lowest (and highest) sample of the minute after the
 * warm-up against those of the run's last full minute. Within a minute RSS swings ~200 MB with the loads in
 * flight (segments waiting, DuckDB's buffers), so a minute's lowest is compared with another minute's lowest,
 * never with its highest. Held against keys added x bytes a sealed key + the exact table.
 */
function dedupeGrowth(rss: Array<{ s: number; mb: number }>, fromS: number, keys: number) {
  const end = Math.floor((rss.at(-1)?.s ?? 0) / 60) * 60; // the last full minute ends here
  const minute = (a: number) => rss.filter((x) => x.s >= a && x.s < a + 60).map((x) => x.mb);
  const first = minute(fromS);
  const last = minute(end - 60);
  const lo = (xs: number[]) => (xs.length > 0 ? Math.min(...xs) : 0);
  const hi = (xs: number[]) => (xs.length > 0 ? Math.max(...xs) : 0);
  const allowedMB = Math.round((keys * DEDUPE_BYTES_PER_KEY) / 2 ** 20 + DEDUPE_EXACT_MB);
  const floorMB = lo(last) - lo(first);
  const ceilingMB = hi(last) - hi(first);
  return {
    fromS,
    floor: { fromMB: lo(first), toMB: lo(last), grewMB: floorMB },
    ceiling: { fromMB: hi(first), toMB: hi(last), grewMB: ceilingMB },
    keys,
    allowedMB,
    ok: floorMB <= allowedMB && ceilingMB <= allowedMB,
  };
}

async function soak(): Promise<void> {
  const minutes = Number(args.minutes ?? 10);
  const s = SCENARIOS[0] as (typeof SCENARIOS)[number];
  const dir = mkdtempSync(join(tmpdir(), 'intake-bench-soak-'));
  const load = await LoadGenerator.start();
  const server = await startIntake(dir, { keepRss: true });
  log(`soak: ${s.title} for ${minutes} min, RSS sampled every 5 s`);
  const t0 = Date.now();
  let ok = 0;
  let storedMin = 0;
  let storedMax = 0;
  let ms = 0;
  // Events acknowledged once warmed up (the first fifth, at least a minute): what the dedupe memory's growth is
  // held against.
  const warmMs = Math.max(60_000, (minutes * 60_000) / 5);
  let warmOk = 0;
  try {
    while (Date.now() - t0 < minutes * 60_000) {
      const warm = Date.now() - t0 >= warmMs;
      const r = await load.run(
        job(s, server.url, Math.min(30_000, minutes * 60_000 - (Date.now() - t0) + 1), 'soak'),
      );
      ok += r.ok;
      if (warm) warmOk += r.ok;
      ms += r.elapsedMs;
      storedMin += r.storedMin;
      storedMax += r.storedMax;
      const rss = server.rss.samples.at(-1)?.rss ?? 0;
      log(
        `  ${Math.round((Date.now() - t0) / 1000)} s: ${Math.round((r.ok * s.events) / (r.elapsedMs / 1000))} events/s, RSS ${Math.round(rss / 2 ** 20)} MB`,
      );
    }
    const stored = await storedTotal(server.url);
    await server.stop();
    const rss = server.rss.samples.map((x) => ({
      s: Math.round((x.t - t0) / 1000),
      mb: Math.round(x.rss / 2 ** 20),
    }));
    const perMinute: Array<{ minute: number; minMB: number; maxMB: number }> = [];
    for (const x of rss) {
      const m = Math.floor(x.s / 60);
      const row = perMinute[m] ?? { minute: m + 1, minMB: x.mb, maxMB: x.mb };
      row.minMB = Math.min(row.minMB, x.mb);
      row.maxMB = Math.max(row.maxMB, x.mb);
      perMinute[m] = row;
    }
    log('\nRSS per minute (MB):');
    for (const r of perMinute.filter(Boolean))
      log(`  minute ${String(r.minute).padStart(2)}: ${r.minMB}–${r.maxMB}`);
    const size = dirSize(dir);
    const growth = dedupeGrowth(rss, warmMs / 1000, warmOk * s.events);
    const result = {
      scenario: s,
      minutes,
      eventsPerSec: Math.round((ok * s.events) / (ms / 1000)),
      stored,
      countOk: stored >= storedMin && stored <= storedMax,
      peakRssMB: Math.round(server.rss.peak / 2 ** 20),
      bytesPerEvent: Math.round(size.disk / Math.max(1, stored)),
      rss,
      perMinute: perMinute.filter(Boolean),
      growth,
    };
    log(
      `\n${result.eventsPerSec} events/s average, ${stored.toLocaleString('en')} stored (check ${result.countOk ? 'ok' : 'MISMATCH'}), peak RSS ${result.peakRssMB} MB`,
    );
    log(
      `RSS after warm-up (${growth.fromS} s to the last full minute), lowest ${growth.floor.fromMB} -> ${growth.floor.toMB} MB (${growth.floor.grewMB}), highest ${growth.ceiling.fromMB} -> ${growth.ceiling.toMB} MB (${growth.ceiling.grewMB}), for ${growth.keys.toLocaleString('en')} keys added; allowed ${growth.allowedMB} MB (${DEDUPE_BYTES_PER_KEY} B a sealed key + the exact table's ${DEDUPE_EXACT_MB} MB): ${growth.ok ? 'ok' : 'OVER'}`,
    );
    log(`results: ${save({ mode, startedAt: started, soak: result })}`);
  } finally {
    load.close();
    if (server.proc.exitCode === null) await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function profile(): Promise<void> {
  const seconds = Number(args.seconds ?? 20);
  const profDir = mkdtempSync(join(tmpdir(), 'intake-bench-prof-'));
  const results: Array<{
    scenario: string;
    eventsPerSec: number;
    profileFile: string;
    summary: ProfileSummary;
  }> = [];
  const load = await LoadGenerator.start();
  try {
    for (const s of pickScenarios()) {
      const dir = mkdtempSync(join(tmpdir(), 'intake-bench-'));
      const before = new Set(readdirSync(profDir));
      const server = await startIntake(dir, { cpuProfDir: profDir });
      await load.run(job(s, server.url, 2000, 'warm'));
      const r = await load.run(job(s, server.url, seconds * 1000, 'prof'));
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
      // One profile per thread (the main one, and tsx's loader worker): keep the busiest.
      const busy = (x: ProfileSummary) => x.totalMs - (x.byArea.find((a) => a.area === '(idle)')?.ms ?? 0);
      const written = readdirSync(profDir)
        .filter((f) => !before.has(f) && f.endsWith('.cpuprofile'))
        .map((f) => ({ file: f, summary: summarize(join(profDir, f)) }))
        .sort((a, b) => busy(b.summary) - busy(a.summary));
      const main = written[0];
      if (!main) throw new Error(`no profile written in ${profDir}`);
      const { file, summary } = main;
      const eventsPerSec = Math.round((r.ok * s.events) / (r.elapsedMs / 1000));
      log(`\n## profile: ${s.title}, ${eventsPerSec} events/s under the profiler (${join(profDir, file)})\n`);
      log(formatSummary(summary));
      results.push({ scenario: s.id, eventsPerSec, profileFile: join(profDir, file), summary });
    }
  } finally {
    load.close();
  }
  log('\n## the ingest log and segment loads alone (no HTTP, no load generator; same process)\n');
  const capacity = await storeCapacity([5_000, 20_000, 50_000], Math.min(seconds, 10));
  for (const c of capacity) {
    log(
      `  segments of ${String(c.segmentEvents).padStart(6)}: load ${c.eventsPerSec.toLocaleString('en')} events/s (p50 ${c.loadP50Ms} ms, ` +
        `max ${c.loadMaxMs} ms); log submit ${c.logEventsPerSec.toLocaleString('en')} events/s; ` +
        `parse+validate+normalize ${c.prepareEventsPerSec.toLocaleString('en')} events/s`,
    );
  }
  log(`\nresults: ${save({ mode, startedAt: started, profiles: results, capacity })}`);
}

async function bench(): Promise<void> {
  const quick = args.quick;
  const only = args.only;
  log(
    `Intake benchmark (${mode}) — ${machine.nproc} cores (${machine.cpu}), ${machine.memoryGB} GB, node ${machine.node}, ` +
      `commit ${machine.commit}${machine.dirtyFiles ? ` + ${machine.dirtyFiles} uncommitted src files` : ''}, load average ${machine.loadavgAtStart.join(' ')}`,
  );
  let ingest: IngestResult[] = [];
  let cost: CostResult | null = null;
  if (only !== 'queries' && only !== 'cost') {
    const rounds = Number(args.rounds ?? (quick ? 2 : 3));
    const secondsPerRound = Number(args.seconds ?? (quick ? 4 : 20));
    log(
      `\ningest: ${rounds} rounds × ${secondsPerRound} s per side per scenario, reference and Intake alternately`,
    );
    const load = await LoadGenerator.start();
    try {
      ingest = await runIngest(load, {
        scenarios: pickScenarios(),
        rounds,
        secondsPerRound,
        warmupSeconds: quick ? 1.5 : 3,
        rateLimit: args['rate-limit'],
        plan: args.plan,
        ...(args.compare ? { compare: parseEnv(args.compare) } : {}),
        ...(args['stall-prof'] ? { stallProfDir: args['stall-prof'] } : {}),
        log,
      });
    } finally {
      load.close();
    }
  }
  if (only !== 'queries') {
    const load = await LoadGenerator.start();
    try {
      cost = await measureCost(load, { seconds: Number(args.seconds ?? (quick ? 8 : 20)), log });
    } finally {
      load.close();
    }
  }
  let queries: QueryResults | null = null;
  if (only !== 'ingest' && only !== 'cost') {
    const events = Number(args['query-events'] ?? (quick ? 1_000_000 : 10_000_000));
    const users = events / 10;
    log(
      `\nqueries: loading ${events.toLocaleString('en')} events (${users.toLocaleString('en')} users, 50 names, 90 days)`,
    );
    queries = await runQueries({
      events,
      users,
      days: 90,
      samples: 50,
      ...(args['query-data'] ? { dataDir: args['query-data'] } : {}),
      ...(args['query-cycles'] ? { cycles: Number(args['query-cycles']) } : {}),
      ...(args['query-skip'] ? { skip: args['query-skip'].split(',') } : {}),
      log,
    });
  }

  if (ingest.length > 0) {
    log('\n## Ingest (Intake vs the bare node:http reference, same run, alternating)\n');
    log(ingestTable(ingest));
    log("\n## Each Intake's memory at its peak RSS (MB) and its event-loop stalls (bench/loop-probe.ts)\n");
    log(memoryTable(ingest));
    log(
      '\npeak RSS = highest of /proc VmRSS and VmHWM from outside (the probe: its own highest 250 ms sample, split: ' +
        "JS heap, external = Buffers and other memory V8 is told of, DuckDB = its buffer manager's use, dedupe = " +
        "the log's dedupe memory, other = the rest: code, stacks, native allocations outside DuckDB's buffer " +
        'manager, pages allocators keep). Stalls during the measured rounds: the longest gap of a 5 ms timer ' +
        "(wall) and of the main thread's own CPU time in it; the GC pauses inside the longest on-CPU one.",
    );
  }
  if (cost) {
    log(
      `\n## Cost per event (scenario 1 on the server under --cpu-prof, ${cost.server.eventsPerSec.toLocaleString('en')} events/s; ` +
        'the log and the store alone; the floor)\n',
    );
    log(costTable(cost));
    log(
      "\nmain thread = CPU of the server's main thread (/proc/<pid>/task), split by the self time of its " +
        'profile in the same window, attributed by source path (bench/cost.ts STAGES); other threads = every ' +
        "other thread of the server. alone = the log and the store's loads in the bench process, nothing else " +
        'running (process CPU, all threads). floor = JSON.parse alone of the same bodies; DuckDB alone on the ' +
        'same segment files (a bare instance, threads=1, the events table only).',
    );
  }
  if (ingest.some((r) => r.rateLimited)) {
    log('\n## Rate limiting on vs off (limits that never trip, same run, alternating)\n');
    log(rateLimitTable(ingest));
  }
  if (ingest.some((r) => r.planned)) {
    log('\n## Tracking plan on vs off (a 50-event plan the events follow, same run, alternating)\n');
    log(planTable(ingest));
  }
  if (ingest.some((r) => r.compared)) {
    log(`\n## Defaults (off) vs --compare ${args.compare} (on), same run, alternating\n`);
    log(compareTable(ingest));
  }
  if (queries) {
    log(
      `\n## Queries (${queries.events.toLocaleString('en')} events, ${queries.users.toLocaleString('en')} users, ` +
        `bulk-loaded in ${queries.loadSeconds} s = ${queries.loadEventsPerSec.toLocaleString('en')} events/s, ` +
        `${queries.bytesPerEvent} B/event on disk, server peak RSS ${queries.serverPeakRssMB} MB)\n`,
    );
    log(queryTable(queries));
    log(
      '\nstore fn = the store function the route calls, in process, on a connection opened like the ' +
        "store's (256MB, 2 threads); store's SQL = the statements it ran, replayed directly; plain SQL = the " +
        'same answer as one would write it by hand (page, and count where the answer has a total), directly. ' +
        'CPU = mean CPU ms per query of the process that ran it (the server for the API; 10 ms ticks). ' +
        'API overhead = API − store fn (HTTP, auth, validation, JSON).\n',
    );
    log('\n## Insights\n');
    log(insightTable(queries));
    log(
      "\nAPI = POST /insights/* from the bench process; server CPU = the server process's CPU per answer " +
        '(/proc, 10 ms ticks, averaged). Compiled SQL = the statement the API ran, directly in DuckDB on a ' +
        "connection opened like the store's; hand-written = the same question in plain SQL with simpler " +
        'semantics (bench/insights.ts). CPU columns are per run, all threads. API overhead = API - compiled SQL.',
    );
    log(exportTable(queries));
  }
  const ts = targets(ingest, queries);
  log('\n## Targets\n');
  log(targetTable(ts));
  log(`\nresults: ${save({ mode, startedAt: started, ingest, cost, queries, targets: ts })}`);
}

/** The cluster on this machine (bench/cluster.ts). */
async function cluster(): Promise<void> {
  const seconds = Number(args.seconds ?? 20);
  const ingestNodes = (args['ingest-nodes'] ?? '1,2,3').split(',').map(Number);
  log(`# Intake cluster benchmark (${started.toISOString()}): 3 NATS nodes (R3) + 1 ClickHouse, local`);
  const loaders = (args.loaders ?? '1').split(',').map(Number);
  const rows = await runCluster({
    seconds,
    ingestNodes,
    loaders,
    skipInsights: args['skip-insights'],
    drain: args.drain,
    log,
  });
  if (args.drain) {
    log('\n## Cluster: the loaders on a backlog (started once the load was over)\n');
    log(drainTable(rows));
    log(
      "\nloaded in = from the loaders' start (after /health) until the API node counted every acknowledged event; " +
        'CPU-s per 1M events = CPU-seconds of the loader processes and of ClickHouse over that time, per million events loaded.',
    );
  }
  log('\n## Cluster: ingest, load and lag (100-event batches, one load generator per ingest node)\n');
  log(clusterTable(rows));
  log(
    '\nevents/s acked = events the ingest nodes acknowledged per second of load; after = from the ' +
      "load's start until the API node counted every acknowledged event (60 s after the load at most); loader " +
      'rows/s = those events over that time; lag = acknowledgement to queryable on the API node, one probe event every 500 ms during the load; ' +
      'CPU-s per 1M events = CPU-seconds (all threads, /proc) of each role, the 3 nats-servers and ClickHouse ' +
      "per million acknowledged events (ClickHouse's includes the probes' reads). Every process shares the same 2 cores.",
  );
  log(
    '\n## Cluster: insights on the events each run loaded (API node vs the same statement on ClickHouse)\n',
  );
  log(clusterInsightTable(rows));
  log(
    `\n${
      'p50 of 3 rounds per side, alternated; the API includes HTTP, parsing and shaping, the direct column only ClickHouse. ' +
      "Events are the run's (timestamps within its last minutes, 100k users), so the 30-day ranges hold all of them."
    }`,
  );
  log(`\nresults: ${save({ mode, startedAt: started, cluster: rows })}`);
}

if (args.cluster) await cluster();
else if (args.soak) await soak();
else if (args.profile) await profile();
else await bench();
