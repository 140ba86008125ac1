// `npm run bench -- --cluster [--seconds N] [--ingest-nodes 1,2,3] [--loaders 1,2] [--skip-insights]`: the
// cluster on this machine. A local cluster (scripts/cluster.ts: 3 nats-server nodes, R3, and one
// clickhouse-server), then for each count of ingest nodes and of loaders a fresh stream and database with one API
// node, that many loaders (the stream's 4 partitions split between them, --loader-partitions) and that many
// ingest nodes, each its own `intake start`; one load generator per ingest node sends 100-event batches for the run's length. Measured: ingest
// events/s (acknowledged), the loader's rows/s until everything acknowledged is queryable, the lag from an
// acknowledgement to queryable on the API node (probes of one event during the load), and CPU-seconds per million
// events of each role, of the NATS nodes and of ClickHouse (/proc, all threads). On 2 cores every process shares
// the same cores, so events/s says little about what more machines would do; the CPU per role is the capacity
// model's input (README "Cluster"). Then, on the events the run loaded, the insights of bench/insights.ts (trends
// 30 days daily with a breakdown, a 4-step funnel with a 14-day window, weekly retention over 8 periods) through
// the API node, alternated with the same statement (from ?explain=true) sent straight to ClickHouse: p50 of each,
// and ClickHouse's CPU per answer.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster } from '../scripts/cluster.ts';
import { startClickHouse } from '../test/cluster/clickhouse.ts';
import { job, round, SCENARIOS } from './ingest.ts';
import { INSIGHT_CASES, type InsightCase } from './insights.ts';
import type { LoadResult } from './load.ts';
import { basic, cpuMicros, KEYS, LoadGenerator, type Server, startIntake } from './procs.ts';

export interface ClusterRow {
  ingestNodes: number;
  loaders: number;
  seconds: number;
  acked: number;
  /** Acknowledged events the API node counted when the run stopped waiting. */
  loaded: number;
  eventsPerSec: number;
  non2xx: number;
  /** From the load's start until the API node counted every acknowledged event, or gave up waiting. */
  loadedAfterSec: number;
  loaderRowsPerSec: number;
  lagP50Ms: number;
  lagP99Ms: number;
  /** CPU-seconds per million acknowledged events, by role and engine. */
  cpuPerMillion: { ingest: number; loader: number; api: number; nats: number; clickhouse: number };
  /** --drain: the loaders started after the load, on the backlog it left in the stream. */
  drain?: {
    seconds: number;
    rowsPerSec: number;
    loaderCpuPerMillion: number;
    clickhouseCpuPerMillion: number;
  };
  insights: InsightRow[];
}

export interface InsightRow {
  name: string;
  /** POST /insights/<kind> on the API node. */
  apiP50Ms: number;
  /** Its statement sent straight to ClickHouse's HTTP interface. */
  directP50Ms: number;
  /** ClickHouse's CPU (all threads) per API answer, median. */
  clickhouseCpuP50Ms: number;
}

/** Rounds per insight, API and direct alternately (bounded: 3 rounds per side). */
const INSIGHT_ROUNDS = 3;

/** The insights through the API node and their statements straight on ClickHouse, alternately. */
async function measureInsights(
  api: Server,
  chUrl: string,
  database: string,
  chPid: number,
): Promise<InsightRow[]> {
  const out: InsightRow[] = [];
  const ask = async (c: InsightCase, explain: boolean) => {
    const res = await fetch(`${api.url}/insights/${c.kind}${explain ? '?explain=true' : ''}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEYS.read}`, 'content-type': 'application/json' },
      body: JSON.stringify(c.body),
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`POST /insights/${c.kind}: ${res.status} ${text.slice(0, 500)}`);
    return JSON.parse(text) as { sql: Array<{ sql: string }> };
  };
  for (const c of INSIGHT_CASES) {
    const statements = (await ask(c, true)).sql.map((x) => x.sql);
    const api: number[] = [];
    const direct: number[] = [];
    const cpu: number[] = [];
    for (let i = 0; i < INSIGHT_ROUNDS; i++) {
      const c0 = cpuMicros(chPid);
      let t0 = performance.now();
      await ask(c, false);
      api.push(performance.now() - t0);
      cpu.push((cpuMicros(chPid) - c0) / 1000);
      t0 = performance.now();
      for (const sql of statements) {
        const res = await fetch(`${chUrl}/?database=${database}`, {
          method: 'POST',
          body: `${sql}\nFORMAT JSONCompact`,
        });
        const text = await res.text();
        if (res.status !== 200) throw new Error(`clickhouse: ${text.slice(0, 500)}`);
      }
      direct.push(performance.now() - t0);
    }
    out.push({
      name: c.name,
      apiP50Ms: Math.round(pct(api, 50)),
      directP50Ms: Math.round(pct(direct, 50)),
      clickhouseCpuP50Ms: Math.round(pct(cpu, 50)),
    });
  }
  return out;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? Number.NaN;
};

async function total(api: Server, filter = ''): Promise<number> {
  const r = await fetch(`${api.url}/events?limit=1${filter}`, {
    headers: { authorization: `Bearer ${KEYS.read}` },
  });
  if (r.status !== 200) throw new Error(`GET /events: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { total: number }).total;
}

/** The 4 partitions split into `n` ranges as even as can be (`0-1`, `2-3`). */
export function partitionShares(n: number, partitions = 4): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const lo = Math.floor((i * partitions) / n);
    const hi = Math.floor(((i + 1) * partitions) / n) - 1;
    out.push(lo === hi ? String(lo) : `${lo}-${hi}`);
  }
  return out;
}

export async function runCluster(opts: {
  seconds: number;
  ingestNodes: number[];
  /** Loader processes per run, each with its share of the partitions. Default [1]. */
  loaders?: number[];
  /** Skip the insights measured after each run. */
  skipInsights?: boolean;
  /**
   * Start the loaders only once the load is over, and time how fast they load the backlog it left in the stream
   * (no lag probes): the loaders' rate on their own, not bounded by what ingest sends.
   */
  drain?: boolean;
  log(line: string): void;
}): Promise<ClusterRow[]> {
  const root = mkdtempSync(join(tmpdir(), 'intake-bench-cluster-'));
  // The engines' processes are unref'ed (they die with this one): keep the event loop alive until they stopped.
  const alive = setInterval(() => {}, 1000);
  let chPid = 0;
  let chUrl = '';
  const cluster = await startCluster({
    dir: join(root, 'engines'),
    clickhouse: async (d) => {
      const s = await startClickHouse({ dir: d });
      chPid = s.pid;
      chUrl = s.url;
      return { env: { INTAKE_STORE: 'clickhouse', INTAKE_CLICKHOUSE_URL: s.url }, stop: () => s.stop() };
    },
  });
  const rows: ClusterRow[] = [];
  try {
    const runs = opts.ingestNodes.flatMap((n) => (opts.loaders ?? [1]).map((l) => [n, l] as const));
    for (const [n, l] of runs) {
      opts.log(`  cluster: ${n} ingest node(s), ${l} loader(s), ${opts.seconds} s of 100-event batches`);
      const tag = `${n}_${l}_${Date.now().toString(36)}`;
      const env = {
        INTAKE_NATS_SERVERS: cluster.servers,
        ...cluster.clickhouse?.env,
        INTAKE_NATS_STREAM: `BENCH${tag.toUpperCase()}`,
        INTAKE_CLICKHOUSE_DATABASE: `bench_${tag}`,
      };
      const start = (name: string, role: string, extra: Record<string, string> = {}) =>
        startIntake(join(root, `${tag}-${name}`), { env: { ...env, INTAKE_ROLE: role, ...extra } });
      const api = await start('api', 'api'); // first: it makes the keys
      const loaders: Server[] = [];
      const startLoaders = async () => {
        for (const [i, share] of partitionShares(l).entries()) {
          const s = await start(`loader-${i}`, 'loader', l > 1 ? { INTAKE_LOADER_PARTITIONS: share } : {});
          loaders.push(s);
          procs.push(s);
        }
      };
      const ingest: Server[] = [];
      for (let i = 0; i < n; i++) ingest.push(await start(`ingest-${i}`, 'ingest'));
      const procs = [api, ...ingest];
      if (!opts.drain) await startLoaders();
      try {
        // The ingest nodes find the API node's keys by polling the store (every second).
        for (const node of ingest) {
          for (let i = 0; i < 100; i++) {
            const r = await fetch(`${node.url}/v1/batch`, {
              method: 'POST',
              headers: { authorization: basic(KEYS.write), 'content-type': 'application/json' },
              body: JSON.stringify({ batch: [] }),
            });
            if (r.status !== 401) break;
            await new Promise((res) => setTimeout(res, 100));
          }
        }
        const cpu = (pids: number[]) => pids.reduce((a, p) => a + cpuMicros(p), 0);
        const natsPids = cluster.nodes.map((x) => x.process?.pid ?? 0);
        /** CPU so far (µs) of each role, of the NATS nodes and of ClickHouse. */
        const roles = () => ({
          ingest: cpu(ingest.map((s) => s.proc.pid as number)),
          loader: cpu(loaders.map((s) => s.proc.pid as number)),
          api: cpu([api.proc.pid as number]),
          nats: cpu(natsPids),
          clickhouse: cpu([chPid]),
        });
        const before = roles();
        const gens = await Promise.all(ingest.map(() => LoadGenerator.start()));
        const s1 = SCENARIOS[0] as (typeof SCENARIOS)[number];
        const t0 = performance.now();
        const running = Promise.all(
          gens.map((g, i) =>
            g.run(job(s1, (ingest[i] as Server).url, opts.seconds * 1000, `cluster${n}-${i}`)),
          ),
        );
        // Lag probes: one event every 500 ms through the first ingest node, timed until the API node has it.
        const lags: number[] = [];
        const probes: Promise<void>[] = [];
        let probesAcked = 0;
        for (let p = 0; !opts.drain && performance.now() - t0 < opts.seconds * 1000; p++) {
          const id = `probe-${n}-${p}-${Date.now()}`;
          const sent = await fetch(`${(ingest[0] as Server).url}/v1/track`, {
            method: 'POST',
            headers: { authorization: basic(KEYS.write), 'content-type': 'application/json' },
            body: JSON.stringify({ userId: 'probe', event: 'Probe', messageId: id }),
          });
          if (sent.status === 200) {
            probesAcked++;
            const acked = performance.now();
            probes.push(
              (async () => {
                const until = performance.now() + 60_000;
                while (performance.now() < until) {
                  if ((await total(api, `&messageId=${id}`).catch(() => 0)) > 0) {
                    lags.push(performance.now() - acked);
                    return;
                  }
                  await new Promise((res) => setTimeout(res, 50));
                }
              })(),
            );
          }
          await new Promise((res) => setTimeout(res, 500));
        }
        const results: LoadResult[] = await running;
        const elapsed = Math.max(...results.map((r) => r.elapsedMs)) / 1000;
        const acked = results.reduce((a, r) => a + r.storedMin, 0) + probesAcked;
        let stored = 0;
        let d0 = { at: 0, loader: 0, clickhouse: 0 };
        if (opts.drain) {
          await startLoaders();
          d0 = { at: performance.now(), loader: roles().loader, clickhouse: cpuMicros(chPid) };
        }
        // At most 60 s after the load (120 s of draining) for the loaders to catch up: what they loaded by then
        // gives their rate.
        const deadline = performance.now() + (opts.drain ? 120_000 : 60_000);
        while (stored < acked && performance.now() < deadline) {
          stored = await total(api);
          if (stored < acked) await new Promise((res) => setTimeout(res, 250));
        }
        const loadedAfter = (performance.now() - t0) / 1000;
        const drainSec = (performance.now() - d0.at) / 1000;
        const drained = opts.drain
          ? {
              seconds: round(drainSec, 1),
              rowsPerSec: Math.round(stored / drainSec),
              loaderCpuPerMillion: round((roles().loader - d0.loader) / 1e6 / (stored / 1e6), 1),
              clickhouseCpuPerMillion: round((cpuMicros(chPid) - d0.clickhouse) / 1e6 / (stored / 1e6), 1),
            }
          : undefined;
        await Promise.all(probes);
        for (const g of gens) g.close();
        const perM = (d: number) => round(d / 1e6 / (acked / 1e6), 1);
        const cpuAfter = roles(); // before the insights below
        opts.log(`  cluster: insights on the ${stored.toLocaleString('en')} events loaded`);
        const insights = opts.skipInsights
          ? []
          : await measureInsights(api, chUrl, env.INTAKE_CLICKHOUSE_DATABASE, chPid);
        rows.push({
          ingestNodes: n,
          loaders: l,
          seconds: round(elapsed, 1),
          acked,
          loaded: stored,
          eventsPerSec: Math.round(results.reduce((a, r) => a + r.storedMin, 0) / elapsed),
          non2xx: results.reduce((a, r) => a + r.failed + r.unanswered, 0),
          loadedAfterSec: round(loadedAfter, 1),
          loaderRowsPerSec: Math.round(stored / loadedAfter),
          lagP50Ms: Math.round(pct(lags, 50)),
          lagP99Ms: Math.round(pct(lags, 99)),
          cpuPerMillion: {
            ingest: perM(cpuAfter.ingest - before.ingest),
            loader: perM(cpuAfter.loader - before.loader),
            api: perM(cpuAfter.api - before.api),
            nats: perM(cpuAfter.nats - before.nats),
            clickhouse: perM(cpuAfter.clickhouse - before.clickhouse),
          },
          insights,
          drain: drained,
        });
        for (const x of loaders) {
          const errors = x.output().match(/"msg":"[^"]*"/g) ?? [];
          const by = new Map<string, number>();
          for (const e of errors) by.set(e, (by.get(e) ?? 0) + 1);
          const reasons = (x.output().match(/"message":"[^"]{0,80}/g) ?? []).slice(0, 3);
          if (by.size > 0)
            opts.log(
              `  ${x.name}: ${[...by].map(([m, c]) => `${c} x ${m}`).join(', ')} ${reasons.join(' | ')}`,
            );
        }
        if (stored < acked) {
          opts.log(`  cluster: ${stored} of ${acked} acknowledged events queryable in time`);
          for (const x of loaders) opts.log(`  loader output (its end): ${x.output().slice(-1000)}`);
        }
      } finally {
        await Promise.all(procs.map((p) => p.stop()));
      }
    }
  } finally {
    await cluster.stop();
    rmSync(root, { recursive: true, force: true });
    clearInterval(alive);
  }
  return rows;
}

export function clusterTable(rows: ClusterRow[]): string {
  const head =
    '| ingest nodes | loaders | events/s acked | not 2xx (or in flight at the stop) | queryable / acked | after | loader rows/s | lag p50 / p99 ms | CPU-s per 1M events: ingest / loader / api / NATS (3) / ClickHouse |';
  const lines = rows.map(
    (r) =>
      `| ${r.ingestNodes} | ${r.loaders ?? 1} | ${r.eventsPerSec.toLocaleString('en')} | ${r.non2xx} | ${r.loaded.toLocaleString('en')} / ${r.acked.toLocaleString('en')} | ${r.loadedAfterSec} s | ${r.loaderRowsPerSec.toLocaleString('en')} | ${r.lagP50Ms} / ${r.lagP99Ms} | ${r.cpuPerMillion.ingest} / ${r.cpuPerMillion.loader} / ${r.cpuPerMillion.api} / ${r.cpuPerMillion.nats} / ${r.cpuPerMillion.clickhouse} |`,
  );
  return [head, '|--:|--:|--:|--:|--:|--:|--:|--:|:--|', ...lines].join('\n');
}

export function drainTable(rows: ClusterRow[]): string {
  const head =
    '| ingest nodes | loaders | backlog (events) | loaded in | loader rows/s | CPU-s per 1M events: loaders / ClickHouse |';
  const lines = rows.flatMap((r) =>
    r.drain
      ? [
          `| ${r.ingestNodes} | ${r.loaders} | ${r.acked.toLocaleString('en')} | ${r.drain.seconds} s | ${r.drain.rowsPerSec.toLocaleString('en')} | ${r.drain.loaderCpuPerMillion} / ${r.drain.clickhouseCpuPerMillion} |`,
        ]
      : [],
  );
  return [head, '|--:|--:|--:|--:|--:|:--|', ...lines].join('\n');
}

export function clusterInsightTable(rows: ClusterRow[]): string {
  const head =
    '| ingest nodes | events | insight | API p50 ms | same statement on ClickHouse p50 ms | ClickHouse CPU per answer ms |';
  const lines = rows.flatMap((r) =>
    r.insights.map(
      (i) =>
        `| ${r.ingestNodes} | ${r.loaded.toLocaleString('en')} | ${i.name} | ${i.apiP50Ms} | ${i.directP50Ms} | ${i.clickhouseCpuP50Ms} |`,
    ),
  );
  return [head, '|--:|--:|:--|--:|--:|--:|', ...lines].join('\n');
}
