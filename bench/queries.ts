// Query benchmarks on a bulk-loaded data set: GET /events through the API next to the same SQL run directly in
// DuckDB (the difference is the API's overhead), a per-name per-day count timed through the store's DuckDB
// wrapper, and the insights (bench/insights.ts): API, their compiled SQL, and the question written by hand.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBValue } from '@duckdb/node-api';
import { EVENT_NAMES, loadSyntheticEvents } from '../src/store/duckdb/bulk.ts';
import { Db, ts } from '../src/store/duckdb/db.ts';
import { listEvents } from '../src/store/duckdb/events.ts';
import { EVENT_COLUMNS } from '../src/store/duckdb/schema.ts';
import type { EventQuery } from '../src/store/types.ts';
import { rng } from './events.ts';
import { round } from './ingest.ts';
import { addIdentities, askApi, INSIGHT_CASES, processCpuMs } from './insights.ts';
import { dirSize, KEYS, startIntake } from './procs.ts';

export interface Timing {
  n: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface QueryRow {
  query: string;
  /** Through HTTP (GET /events), measured from the bench process; null when there is no API for it. */
  api: Timing | null;
  /** The store's own function (listEvents: both statements and row mapping), in process. */
  store: Timing | null;
  /** The page and count statements GET /events ran before the partial-page shortcut, directly in DuckDB. */
  sql: Timing;
  /** The page statement alone, directly in DuckDB (all a partial page needs now). */
  sqlPage: Timing | null;
  rows: number;
}

export interface InsightRow {
  query: string;
  /** POST /insights/* from the bench process, and the server's CPU per answer (mean, ms). */
  api: Timing;
  apiCpuMs: number;
  /** The compiled statement run directly in DuckDB (connection opened like the store's), and its CPU (mean, ms). */
  compiled: Timing;
  compiledCpuMs: number;
  /** The same question written by hand in plain SQL (simpler semantics: see bench/insights.ts). */
  hand: Timing;
  handCpuMs: number;
  targetMs: number;
}

export interface QueryResults {
  events: number;
  users: number;
  days: number;
  loadSeconds: number;
  loadEventsPerSec: number;
  diskBytes: number;
  bytesPerEvent: number;
  serverPeakRssMB: number;
  /** Time to add every id's identities row after the bulk load (it writes events only). */
  identitiesSeconds: number;
  rows: QueryRow[];
  insights: InsightRow[];
}

function timing(ms: number[]): Timing {
  const s = [...ms].sort((a, b) => a - b);
  const at = (p: number) =>
    s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
  return {
    n: s.length,
    p50Ms: round(at(50), 1),
    p99Ms: round(at(99), 1),
    maxMs: round(s[s.length - 1] ?? NaN, 1),
  };
}

async function timeEach<T>(inputs: T[], f: (x: T) => Promise<unknown>, warmup = 3): Promise<number[]> {
  for (const x of inputs.slice(0, warmup)) await f(x);
  const out: number[] = [];
  for (const x of inputs) {
    const t0 = performance.now();
    await f(x);
    out.push(performance.now() - t0);
  }
  return out;
}

// The statements listEvents runs, written out here so they can be timed without the store around them.
const SELECT = EVENT_COLUMNS.map((c) =>
  c.sql.startsWith('JSON') ? `${c.name}::VARCHAR AS ${c.name}` : c.name,
).join(', ');

/** Count of events per name per day: what a trends chart asks for. */
export const PER_NAME_PER_DAY = `
SELECT event, date_trunc('day', timestamp) AS day, count(*)::BIGINT AS n
FROM events
WHERE workspace_id = ? AND type = 'track' AND timestamp >= ? AND timestamp < ?
GROUP BY event, day ORDER BY day, event`;

interface Filter {
  label: string;
  query: EventQuery;
  qs: string;
  where: string;
  params: DuckDBValue[];
}

function filters(workspaceId: string, users: number, days: number, end: Date, n: number): Filter[][] {
  const r = rng(42);
  const base = { json: [], orderBy: 'timestamp', direction: 'DESC', limit: 100, offset: 0 } as const;
  const byUser: Filter[] = [];
  const byName: Filter[] = [];
  for (let i = 0; i < n; i++) {
    const userId = `user-${Math.floor(r() * users)}`;
    byUser.push({
      label: 'userId',
      query: { ...base, json: [], userId },
      qs: `userId=${encodeURIComponent(userId)}`,
      where: 'workspace_id = ? AND user_id = ?',
      params: [workspaceId, userId],
    });
    const event = EVENT_NAMES[Math.floor(r() * 10)] as string;
    const startDate = new Date(end.getTime() - (7 + Math.floor(r() * (days - 7))) * 86_400_000);
    const endDate = new Date(startDate.getTime() + 7 * 86_400_000);
    byName.push({
      label: 'event',
      query: { ...base, json: [], event, startDate, endDate },
      qs: `event=${encodeURIComponent(event)}&startDate=${startDate.toISOString()}&endDate=${endDate.toISOString()}`,
      where: 'workspace_id = ? AND event = ? AND timestamp >= ? AND timestamp <= ?',
      params: [workspaceId, event, ts(startDate), ts(endDate)],
    });
  }
  return [byUser, byName];
}

export interface QueryOptions {
  events: number;
  users: number;
  days: number;
  samples: number;
  log(line: string): void;
}

export async function runQueries(opts: QueryOptions): Promise<QueryResults> {
  const dir = mkdtempSync(join(tmpdir(), 'intake-bench-q-'));
  const file = join(dir, 'intake.duckdb');
  const end = new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000);
  try {
    // 1. The real server creates the file, its tables and the bench workspace; 2. the bulk path fills it.
    const first = await startIntake(dir);
    await first.stop();
    let instance = await DuckDBInstance.create(file, { memory_limit: '2GB', threads: '2' });
    const conn = await instance.connect();
    const ws = (await conn.runAndReadAll('SELECT id FROM workspaces LIMIT 1')).getRowObjectsJS()[0]
      ?.id as string;
    const t0 = performance.now();
    await loadSyntheticEvents(conn, {
      workspaceId: ws,
      events: opts.events,
      users: opts.users,
      eventNames: EVENT_NAMES,
      days: opts.days,
      end,
      onProgress: (done) =>
        opts.log(
          `  loaded ${done.toLocaleString('en')} events (${Math.round((performance.now() - t0) / 1000)} s)`,
        ),
    });
    const loadSeconds = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    await addIdentities(conn, ws);
    const identitiesSeconds = (performance.now() - t1) / 1000;
    opts.log(`  identities for every id: ${identitiesSeconds.toFixed(1)} s`);
    await conn.run('CHECKPOINT');
    conn.closeSync();
    instance.closeSync();

    // 3. Direct SQL (on a connection opened as the store opens its own: same memory limit and threads) and
    // 4. the API on the real server, alternately in two cycles, each over half of the same inputs: the file
    // can only be open in one process at a time, and alternating spreads machine noise over both.
    const [byUser, byName] = filters(ws, opts.users, opts.days, end, opts.samples) as [Filter[], Filter[]];
    const sets = [byUser, byName];
    const times = sets.map(() => ({
      sql: [] as number[],
      sqlPage: [] as number[],
      store: [] as number[],
      api: [] as number[],
      rows: 0,
    }));
    const from = new Date(end.getTime() - 30 * 86_400_000);
    const perDayParams = [ws, ts(from), ts(end)];
    const perDay: number[] = [];
    let perDayRows = 0;
    let serverPeak = 0;
    const half = (set: Filter[], cycle: number) => set.filter((_, i) => i % 2 === cycle);
    const insightTimes = INSIGHT_CASES.map(() => ({
      api: [] as number[],
      apiCpu: 0,
      compiled: [] as number[],
      compiledCpu: 0,
      hand: [] as number[],
      handCpu: 0,
    }));
    const insightReps = Array.from({ length: Math.max(5, Math.floor(opts.samples / 10)) }, (_, i) => i);
    /** Times `f` over the reps, and the CPU it used per run in this process (DuckDB's threads included). */
    const timedCpu = async (f: () => Promise<unknown>): Promise<{ ms: number[]; cpuMs: number }> => {
      await f();
      const c0 = process.cpuUsage();
      const ms = await timeEach(insightReps, f, 0);
      const c = process.cpuUsage(c0);
      return { ms, cpuMs: (c.user + c.system) / 1000 / ms.length };
    };
    for (let cycle = 0; cycle < 2; cycle++) {
      instance = await DuckDBInstance.create(file, { memory_limit: '256MB', threads: '2' });
      const c = await instance.connect();
      const db = new Db(c);
      const rawPage = (f: Filter) =>
        c.runAndReadAll(
          `SELECT ${SELECT} FROM events WHERE ${f.where} ORDER BY timestamp DESC, id DESC LIMIT 100 OFFSET 0`,
          f.params,
        );
      const rawList = async (f: Filter) => {
        await rawPage(f);
        await c.runAndReadAll(`SELECT count(*)::BIGINT AS n FROM events WHERE ${f.where}`, f.params);
      };
      for (const [i, set] of sets.entries()) {
        const t = times[i] as (typeof times)[number];
        t.sql.push(...(await timeEach(half(set, cycle), rawList)));
        t.sqlPage.push(...(await timeEach(half(set, cycle), rawPage)));
        t.store.push(...(await timeEach(half(set, cycle), (f) => listEvents(db, ws, f.query))));
        t.rows = (await listEvents(db, ws, (set[0] as Filter).query)).total;
      }
      const reps = Array.from({ length: Math.max(5, Math.floor(opts.samples / 10)) }, (_, i) => i);
      perDay.push(...(await timeEach(reps, () => db.all(PER_NAME_PER_DAY, perDayParams), 2)));
      perDayRows = (await db.all(PER_NAME_PER_DAY, perDayParams)).length;
      for (const [i, ic] of INSIGHT_CASES.entries()) {
        const it = insightTimes[i] as (typeof insightTimes)[number];
        const now = new Date();
        const compiled = ic.compile(ws, now);
        const hand = ic.hand(ws, now);
        const a = await timedCpu(() => c.runAndReadAll(compiled.sql, compiled.params as DuckDBValue[]));
        const b = await timedCpu(() => c.runAndReadAll(hand.sql, hand.params));
        it.compiled.push(...a.ms);
        it.compiledCpu += a.cpuMs / 2;
        it.hand.push(...b.ms);
        it.handCpu += b.cpuMs / 2;
      }
      c.closeSync();
      instance.closeSync();

      const server = await startIntake(dir);
      try {
        for (const [i, set] of sets.entries()) {
          const t = times[i] as (typeof times)[number];
          t.api.push(
            ...(await timeEach(half(set, cycle), async (f) => {
              const res = await fetch(`${server.url}/events?limit=100&${f.qs}`, {
                headers: { authorization: `Bearer ${KEYS.read}` },
              });
              if (res.status !== 200)
                throw new Error(`GET /events?${f.qs}: ${res.status} ${await res.text()}`);
              await res.arrayBuffer();
            })),
          );
        }
        for (const [i, ic] of INSIGHT_CASES.entries()) {
          const it = insightTimes[i] as (typeof insightTimes)[number];
          await askApi(server, ic);
          const cpu0 = processCpuMs(server.proc.pid as number);
          it.api.push(...(await timeEach(insightReps, () => askApi(server, ic), 0)));
          it.apiCpu += (processCpuMs(server.proc.pid as number) - cpu0) / insightReps.length / 2;
        }
      } finally {
        await server.stop();
        serverPeak = Math.max(serverPeak, server.rss.peak);
      }
    }
    const rows: QueryRow[] = sets.map((set, i) => {
      const t = times[i] as (typeof times)[number];
      return {
        query:
          (set[0] as Filter).label === 'userId'
            ? '5a. GET /events?userId=… (100 newest)'
            : '5b. GET /events?event=…&startDate&endDate (7 days)',
        api: timing(t.api),
        store: timing(t.store),
        sql: timing(t.sql),
        sqlPage: timing(t.sqlPage),
        rows: t.rows,
      };
    });
    rows.push({
      query: '6. count per name per day, 30 days (SQL via the store wrapper; its insight is below)',
      api: null,
      store: null,
      sql: timing(perDay),
      sqlPage: null,
      rows: perDayRows,
    });
    const size = dirSize(dir);
    return {
      events: opts.events,
      users: opts.users,
      days: opts.days,
      loadSeconds: round(loadSeconds, 1),
      loadEventsPerSec: Math.round(opts.events / loadSeconds),
      diskBytes: size.disk,
      bytesPerEvent: round(size.disk / opts.events, 0),
      serverPeakRssMB: round(serverPeak / 2 ** 20, 0),
      identitiesSeconds: round(identitiesSeconds, 1),
      rows,
      insights: INSIGHT_CASES.map((ic, i) => {
        const it = insightTimes[i] as (typeof insightTimes)[number];
        return {
          query: ic.name,
          api: timing(it.api),
          apiCpuMs: round(it.apiCpu, 0),
          compiled: timing(it.compiled),
          compiledCpuMs: round(it.compiledCpu, 0),
          hand: timing(it.hand),
          handCpuMs: round(it.handCpu, 0),
          targetMs: ic.targetMs,
        };
      }),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
