// POST /query on the ClickHouse store (src/store/clickhouse/sql/): what preparing a statement costs in this process
// (parse, check and bind on the in-process DuckDB, compile), and what a JSON path read by tokenizing costs on
// ClickHouse 18.16 next to a plain column and next to visitParamExtractString (one call, not exact: it finds a key at
// any depth, the baseline it replaces). Generated events loaded into a real clickhouse-server started here; each
// statement run --runs times, alternated; wall time and the server's CPU (/proc/<pid>/stat). Bounded: it stops the
// server at the end.
//   npx tsx bench/clickhouse-sql.ts [--events 50000] [--runs 5]
import { parseArgs } from 'node:util';
import type { CanonicalEvent } from '../src/core/event.ts';
import { ClickHouse, ClickHouseStore } from '../src/store/clickhouse/index.ts';
import { prepareSql } from '../src/store/clickhouse/sql/run.ts';
import { startClickHouse } from '../test/cluster/clickhouse.ts';
import { at, event, logBatch } from '../test/fixtures.ts';
import { cpuMicros } from './procs.ts';

const { values } = parseArgs({ options: { events: { type: 'string' }, runs: { type: 'string' } } });
const EVENTS = Number(values.events ?? 50_000);
const RUNS = Number(values.runs ?? 5);
const WS = 'bench';

/** CPU seconds of a process so far. */
const procCpu = (pid: number) => cpuMicros(pid) / 1e6;
const selfCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** The i-th event: a track event of one of 2,000 users, its properties flat for every other one. */
const makeEvent = (i: number): CanonicalEvent =>
  event(WS, `m-${i}`, {
    event: `Event ${i % 25}`,
    userId: `u${i % 2000}`,
    timestamp: at(i),
    properties: {
      plan: i % 3 === 0 ? 'pro' : 'free',
      total: i % 100,
      path: `/p/${i % 50}`,
      // Every other event's properties are flat: the JSON path's short cut reads them (json.ts).
      ...(i % 2 === 0 ? {} : { cart: { items: [{ sku: `s${i % 7}`, plan: 'nested' }], coupon: null } }),
    },
    context: { ip: '10.0.0.1', library: { name: 'bench', version: '1' }, userAgent: 'Mozilla/5.0 bench' },
    source: 'segment',
  });

const server = await startClickHouse();
try {
  const store = await ClickHouseStore.open({ url: server.url, database: 'bench' });
  const ch = new ClickHouse({ url: server.url, database: 'bench' });
  for (let b = 0; b * 10_000 < EVENTS; b++) {
    const events = Array.from({ length: Math.min(10_000, EVENTS - b * 10_000) }, (_, k) =>
      makeEvent(b * 10_000 + k),
    );
    await store.sink.load(logBatch(b + 1, events));
  }
  console.log(`loaded ${EVENTS} events`);

  // Preparing (parse, check, bind, compile), in this process.
  const statements = [
    "SELECT event, count(*) AS n FROM events WHERE timestamp >= '2026-01-01' GROUP BY event ORDER BY n DESC",
    "SELECT properties->>'plan' AS plan, count(*) FROM events GROUP BY plan",
    "WITH p AS (SELECT user_id FROM events WHERE event = 'Event 3') SELECT count(*) FROM events e JOIN p ON e.user_id = p.user_id",
  ];
  for (const sql of statements) await prepareSql(WS, { sql, params: [], timeoutMs: 10_000 });
  const n = 200;
  const c0 = selfCpu();
  const w0 = performance.now();
  for (let i = 0; i < n; i++) {
    for (const sql of statements) await prepareSql(WS, { sql, params: [], timeoutMs: 10_000 });
  }
  const per = (performance.now() - w0) / (n * statements.length);
  const cpuPer = ((selfCpu() - c0) * 1000) / (n * statements.length);
  console.log(
    `prepare (parse + check + bind + compile): ${per.toFixed(2)} ms wall, ${cpuPer.toFixed(2)} ms CPU a statement`,
  );

  const run = (sql: string) => store.sql.query(WS, { sql, params: [], timeoutMs: 60_000 });
  const raw = async (sql: string) => ch.rows(sql, { readonly: 1 });
  const view = `(SELECT * FROM events FINAL WHERE workspace_id = '${WS}' AND seq <= (SELECT max(seq) FROM ingest_log))`;
  const cases: Array<[string, () => Promise<unknown>]> = [
    [
      "column: count(*) WHERE event = 'Event 3'",
      () => run("SELECT count(*) FROM events WHERE event = 'Event 3'"),
    ],
    [
      "path, half the rows flat: count(*) WHERE properties->>'plan' = 'pro'",
      () => run("SELECT count(*) FROM events WHERE properties->>'plan' = 'pro'"),
    ],
    [
      "path, a key no row has: count(*) WHERE properties->>'nope' = 'x'",
      () => run("SELECT count(*) FROM events WHERE properties->>'nope' = 'x'"),
    ],
    [
      "path of 4 steps: properties->'cart'->'items'->0->>'sku'",
      () => run("SELECT count(*) FROM events WHERE properties->'cart'->'items'->0->>'sku' = 's3'"),
    ],
    [
      'visitParam (not exact), same filter as the first path',
      () => raw(`SELECT count() FROM ${view} WHERE visitParamExtractString(properties, 'plan') = 'pro'`),
    ],
  ];
  const times = new Map<string, Array<{ ms: number; srv: number }>>();
  for (let r = 0; r < RUNS; r++) {
    for (const [label, fn] of cases) {
      const s0 = procCpu(server.pid);
      const t = performance.now();
      await fn();
      const list = times.get(label) ?? [];
      list.push({ ms: performance.now() - t, srv: procCpu(server.pid) - s0 });
      times.set(label, list);
    }
  }
  const base = times.get(cases[0]?.[0] as string) ?? [];
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const baseMs = median(base.map((x) => x.ms));
  for (const [label, list] of times) {
    const ms = median(list.map((x) => x.ms));
    const srv = median(list.map((x) => x.srv));
    console.log(
      `${label}: median ${ms.toFixed(1)} ms wall (${(ms / baseMs).toFixed(2)}x the column), server CPU ${srv.toFixed(2)} s`,
    );
  }
  await store.close();
} finally {
  await server.stop();
}
