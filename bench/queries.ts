// Query benchmarks on a bulk-loaded data set (bench/dataset.ts). Each query is timed four ways: through HTTP on
// the real server; as the store function the route calls (in process); as the statements that function runs,
// replayed directly on a DuckDB connection; and as the plain SQL one would write by hand (one statement, no
// user key, no two-step page). API − store is the API's overhead; store's SQL − plain SQL is what the layout
// and the two-step pages buy. Mean CPU time per query is shown beside the wall times, which this shared
// machine makes noisy. The DuckDB file can be open in one process at a time, so direct runs and API runs
// alternate in two cycles, each over half of the same inputs. The insights (bench/insights.ts) are timed
// through the API, as their compiled SQL run directly, and as the question written by hand.
import { DuckDBInstance, DuckDBTimestampValue, type DuckDBValue } from '@duckdb/node-api';
import { encodeToken } from '../src/query/cursor.ts';
import { parseEventQuery } from '../src/query/events.ts';
import { EVENT_NAMES } from '../src/store/duckdb/bulk.ts';
import { Db, type Row, ts } from '../src/store/duckdb/db.ts';
import { listEvents } from '../src/store/duckdb/events.ts';
import { exportEvents } from '../src/store/duckdb/export.ts';
import { OrderValues } from '../src/store/duckdb/order-values.ts';
import { SELECT_EVENTS } from '../src/store/duckdb/pages.ts';
import { listUserEvents } from '../src/store/duckdb/users.ts';
import type { EventQuery } from '../src/store/types.ts';
import { type Dataset, queryDataset } from './dataset.ts';
import { rng } from './events.ts';
import { round } from './ingest.ts';
import { askApi, INSIGHT_CASES, processCpuMs } from './insights.ts';
import { dirSize, intakeEnv, KEYS, type Server, startIntake } from './procs.ts';

export interface Timing {
  n: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Mean CPU time per run, all threads of the process that ran it (the server's for the API). */
  cpuMs: number;
}

export interface QueryRow {
  query: string;
  /** Through HTTP, measured from the bench process; null when there is no API for it. */
  api: Timing | null;
  /** The store function the route calls, in process. */
  store: Timing | null;
  /** The statements the store function ran, replayed directly in DuckDB. */
  storeSql: Timing | null;
  /** The plain hand-written SQL of the same answer, directly in DuckDB. */
  sql: Timing;
  rows: number;
}

export interface ExportRow {
  path: string;
  events: number;
  seconds: number;
  eventsPerSec: number;
  /** Events per second of CPU of the process doing the work (the server's for the API). */
  eventsPerCpuSec: number;
  bytesPerEvent: number;
}

export interface InsightRow {
  query: string;
  /** POST /insights/* from the bench process; its cpuMs is the server's. */
  api: Timing;
  /** The compiled statement run directly in DuckDB (connection opened like the store's). */
  compiled: Timing;
  /** The same question written by hand in plain SQL (simpler semantics: see bench/insights.ts). */
  hand: Timing;
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
  rows: QueryRow[];
  exports: ExportRow[];
  insights: InsightRow[];
}

function timing(ms: number[], cpuMs: number): Timing {
  const s = [...ms].sort((a, b) => a - b);
  const at = (p: number) =>
    s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
  return {
    n: s.length,
    p50Ms: round(at(50), 1),
    p99Ms: round(at(99), 1),
    maxMs: round(s[s.length - 1] ?? NaN, 1),
    cpuMs: round(cpuMs / Math.max(1, s.length), 1),
  };
}

/** CPU time of this process, all threads, in ms. */
const ownCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

const cpuOf = processCpuMs;

interface Times {
  ms: number[];
  cpu: number;
}
const times = (): Times => ({ ms: [], cpu: 0 });

async function timeEach<T>(inputs: T[], into: Times, cpu: () => number, f: (x: T) => Promise<unknown>) {
  for (const x of inputs.slice(0, 2)) await f(x); // warm-up
  for (const x of inputs) {
    const c0 = cpu();
    const t0 = performance.now();
    await f(x);
    into.ms.push(performance.now() - t0);
    into.cpu += cpu() - c0;
  }
}

/** A Db that records what it runs, to replay the same statements directly. */
class Recorder extends Db {
  calls: Array<[string, DuckDBValue[]]> = [];
  override async all(sql: string, params: DuckDBValue[] = []): Promise<Row[]> {
    this.calls.push([sql, params]);
    return super.all(sql, params);
  }
}

/** Count of events per name per day: what a trends chart asks for. */
export const PER_NAME_PER_DAY = `
SELECT event, date_trunc('day', timestamp) AS day, count(*)::BIGINT AS n
FROM events
WHERE workspace_id = ? AND type = 'track' AND timestamp >= ? AND timestamp < ?
GROUP BY event, day ORDER BY day, event`;

/** A simple aggregate as a workspace writes it in POST /query (its tables are already the workspace's). */
const PER_NAME_SQL = `SELECT event, count(*) AS n FROM events
WHERE timestamp >= ?::TIMESTAMP AND timestamp < ?::TIMESTAMP GROUP BY event ORDER BY n DESC`;

const PAGE = (where: string, order = 'timestamp DESC, id DESC', limit = 100) =>
  `SELECT ${SELECT_EVENTS} FROM events WHERE ${where} ORDER BY ${order} LIMIT ${limit}`;
const COUNT = (where: string) => `SELECT count(*)::BIGINT AS n FROM events WHERE ${where}`;

export interface Case {
  query: string;
  /** One input per sample; cycles split them. */
  inputs: unknown[];
  /** The API path and query string. */
  api?: (x: never) => string;
  /** A POST's JSON body (to `api`'s path). */
  body?: (x: never) => unknown;
  store?: (db: Db, x: never) => Promise<unknown>;
  /** The plain SQL statements, each with its parameters. */
  sql: (x: never) => Array<[string, DuckDBValue[]]>;
  /** Matching events (the answer's total), once. */
  rows?: number;
}

export function cases(d: Dataset, samples: number): Case[] {
  const ws = d.workspaceId;
  const r = rng(42);
  const span = d.days * 86_400_000_000;
  const endUs = d.end.getTime() * 1000;
  const n = (k: number) => Array.from({ length: k }, (_, i) => i);
  const user = () => `user-${Math.floor(r() * d.users)}`;
  const base = parseEventQuery({});
  const q = (over: Partial<EventQuery>): EventQuery => ({ ...base, json: [], ...over });
  const token = (query: EventQuery, value: string | number) =>
    encodeToken(ws, query, { after: { value, id: '' }, total: null });
  const depthUs = () => Math.round(endUs - span * (0.05 + 0.9 * r()));
  const byEvent = parseEventQuery({ orderByField: 'event' });
  const eventValues = new OrderValues();

  const users = n(samples).map(user);
  const weeks = n(samples).map(() => {
    const event = EVENT_NAMES[Math.floor(r() * 10)] as string;
    const start = new Date(d.end.getTime() - (7 + Math.floor(r() * (d.days - 7))) * 86_400_000);
    return { event, start, end: new Date(start.getTime() + 7 * 86_400_000) };
  });
  const deep = n(samples).map(depthUs);
  const names = n(8).map(() => EVENT_NAMES[5 + Math.floor(r() * 40)] as string);
  const from = new Date(d.end.getTime() - 30 * 86_400_000);
  return [
    {
      query: '5a. GET /events?userId=… (100 newest)',
      inputs: users,
      api: (u: string) => `/events?limit=100&userId=${u}`,
      store: (db, u: string) => listEvents(db, ws, q({ userId: u, limit: 100 })),
      sql: (u: string) => [
        [PAGE('workspace_id = ? AND user_id = ?'), [ws, u]],
        [COUNT('workspace_id = ? AND user_id = ?'), [ws, u]],
      ],
    },
    {
      query: '5b. GET /events?event=…&startDate&endDate (7 days)',
      inputs: weeks,
      api: (w: (typeof weeks)[number]) =>
        `/events?limit=100&event=${encodeURIComponent(w.event)}&startDate=${w.start.toISOString()}&endDate=${w.end.toISOString()}`,
      store: (db, w: (typeof weeks)[number]) =>
        listEvents(db, ws, q({ event: w.event, startDate: w.start, endDate: w.end, limit: 100 })),
      sql: (w: (typeof weeks)[number]) => {
        const where = 'workspace_id = ? AND event = ? AND timestamp >= ? AND timestamp <= ?';
        const p = [ws, w.event, ts(w.start), ts(w.end)];
        return [
          [PAGE(where), p],
          [COUNT(where), p],
        ];
      },
    },
    {
      query: '5c. GET /users/:id/events (2 ids, 50 newest)',
      inputs: users,
      api: (u: string) => `/users/${u}/events?limit=50`,
      store: (db, u: string) => listUserEvents(db, ws, u, { limit: 50, offset: 0 }),
      sql: (u: string) => {
        const where = `workspace_id = ? AND coalesce(user_id, anonymous_id) IN
          (SELECT id FROM identities WHERE workspace_id = ? AND person_id = ?)`;
        return [
          [PAGE(where, undefined, 50), [ws, ws, u]],
          [COUNT(where), [ws, ws, u]],
        ];
      },
    },
    {
      query: '7a. GET /events, first page of 1,000 (newest; counts the total)',
      inputs: n(Math.max(4, samples / 5)),
      api: () => '/events?limit=1000',
      store: (db) => listEvents(db, ws, q({ limit: 1000 })),
      sql: () => [
        [PAGE('workspace_id = ?', undefined, 1000), [ws]],
        [COUNT('workspace_id = ?'), [ws]],
      ],
    },
    {
      query: '7b. GET /events?after=…, a page of 1,000 at 5-95% depth',
      inputs: deep,
      api: (us: number) => `/events?limit=1000&after=${token(base, us)}`,
      store: (db, us: number) =>
        listEvents(db, ws, q({ limit: 1000, after: { value: us, id: '' }, count: false })),
      sql: (us: number) => [
        [
          PAGE('workspace_id = ? AND timestamp < ?', undefined, 1000),
          [ws, new DuckDBTimestampValue(BigInt(us))],
        ],
      ],
    },
    {
      query: '7c. GET /events?offset=700000, a page of 1,000 (offset paging)',
      inputs: n(3),
      api: () => '/events?limit=1000&offset=700000',
      store: (db) => listEvents(db, ws, q({ limit: 1000, offset: 700_000 })),
      sql: () => [
        [`${PAGE('workspace_id = ?', undefined, 1000)} OFFSET 700000`, [ws]],
        [COUNT('workspace_id = ?'), [ws]],
      ],
    },
    {
      query: '7d. GET /events?orderByField=event&after=…, a page of 1,000 (text order)',
      inputs: names.slice(0, 3),
      api: (e: string) => `/events?limit=1000&orderByField=event&after=${token(byEvent, e)}`,
      // With the store's list of names, as the server has it (read once, in the warm-up).
      store: (db, e: string) =>
        listEvents(
          db,
          ws,
          { ...byEvent, limit: 1000, after: { value: e, id: '' }, count: false },
          eventValues,
        ),
      sql: (e: string) => [[PAGE('workspace_id = ? AND event < ?', 'event DESC, id DESC', 1000), [ws, e]]],
    },
    {
      // The API's overhead over DuckDB itself for a simple aggregate: the same statement through POST /query
      // (workspace scoping, the read-only connection, JSON) and directly.
      query: '8. POST /query: count per name, 30 days (simple aggregate)',
      inputs: n(Math.max(5, samples / 5)),
      api: () => '/query',
      body: () => ({ sql: PER_NAME_SQL, params: [from.toISOString(), d.end.toISOString()] }),
      sql: () => [
        [
          PER_NAME_SQL.replace('WHERE', 'WHERE workspace_id = ? AND'),
          [ws, from.toISOString(), d.end.toISOString()],
        ],
      ],
    },
    {
      query: '6. count per name per day, 30 days (SQL; no insights API here)',
      inputs: n(Math.max(5, samples / 5)),
      sql: () => [[PER_NAME_PER_DAY, [ws, ts(from), ts(d.end)]]],
    },
  ] as Case[];
}

export interface QueryOptions {
  events: number;
  users: number;
  days: number;
  samples: number;
  /** Keep the data set here and reuse it in later runs. */
  dataDir?: string;
  /** Direct and API runs alternate this many times, each over its share of the inputs (default 2). */
  cycles?: number;
  /** Cases left out, by the start of their name ('7c'): a shorter run on a busy machine. */
  skip?: string[];
  log(line: string): void;
}

export async function runQueries(opts: QueryOptions): Promise<QueryResults> {
  const d = await queryDataset({
    ...(opts.dataDir ? { dir: opts.dataDir } : {}),
    events: opts.events,
    users: opts.users,
    days: opts.days,
    log: opts.log,
  });
  try {
    // The server opens the data set first: a data set made by an older version gets its user keys then.
    const first = await startIntake(d.dir);
    await first.stop();
    const all = cases(d, opts.samples).filter((k) => !opts.skip?.some((x) => k.query.startsWith(x)));
    const t = all.map(() => ({ api: times(), store: times(), storeSql: times(), sql: times(), rows: 0 }));
    const cycles = opts.cycles ?? 2;
    const half = <T>(xs: T[], cycle: number) => xs.filter((_, i) => i % cycles === cycle);
    const exports: ExportRow[] = [];
    const it = INSIGHT_CASES.map(() => ({ api: times(), compiled: times(), hand: times() }));
    const insightReps = Array.from({ length: Math.max(5, Math.floor(opts.samples / 10)) }, (_, i) => i);
    let serverPeak = 0;
    for (let cycle = 0; cycle < cycles; cycle++) {
      // Direct runs, on a connection opened as the store opens its own (256MB, its threads: 2 unless --intake-env
      // says otherwise).
      const instance = await DuckDBInstance.create(d.file, {
        memory_limit: '256MB',
        threads: intakeEnv.INTAKE_DUCKDB_THREADS ?? '2',
      });
      const c = await instance.connect();
      const db = new Db(c);
      const run = async (stmts: Array<[string, DuckDBValue[]]>) => {
        for (const [sql, params] of stmts) await c.runAndReadAll(sql, params);
      };
      for (const [i, k] of all.entries()) {
        const x = t[i] as (typeof t)[number];
        const inputs = half(k.inputs, cycle);
        opts.log(`  ${k.query}: direct, cycle ${cycle + 1}`);
        await timeEach(inputs, x.sql, ownCpu, (v) => run(k.sql(v as never)));
        if (!k.store) continue;
        const store = k.store;
        await timeEach(inputs, x.store, ownCpu, (v) => store(db, v as never));
        const statements = new Map<unknown, Array<[string, DuckDBValue[]]>>();
        for (const v of inputs) {
          const rec = new Recorder(c);
          const page = (await store(rec, v as never)) as { total?: number | null } | null;
          statements.set(v, rec.calls);
          if (x.rows === 0) x.rows = page?.total ?? 0;
        }
        await timeEach(inputs, x.storeSql, ownCpu, (v) => run(statements.get(v) ?? []));
      }
      for (const [i, ic] of INSIGHT_CASES.entries()) {
        const x = it[i] as (typeof it)[number];
        opts.log(`  ${ic.name}: direct, cycle ${cycle + 1}`);
        const now = new Date();
        const compiled = ic.compile(d.workspaceId, now);
        const hand = ic.hand(d.workspaceId, now);
        await timeEach(insightReps, x.compiled, ownCpu, () =>
          c.runAndReadAll(compiled.sql, compiled.params as DuckDBValue[]),
        );
        await timeEach(insightReps, x.hand, ownCpu, () => c.runAndReadAll(hand.sql, hand.params));
      }
      if (cycle === cycles - 1) {
        opts.log('  export: store function and plain SQL, in process');
        exports.push(await exportInProcess(instance, d));
        exports.push(await scanInProcess(c, d));
      }
      c.closeSync();
      instance.closeSync();

      const server = await startIntake(d.dir);
      try {
        for (const [i, k] of all.entries()) {
          const x = t[i] as (typeof t)[number];
          const path = k.api;
          if (!path) continue;
          opts.log(`  ${k.query}: API, cycle ${cycle + 1}`);
          await timeEach(
            half(k.inputs, cycle),
            x.api,
            () => cpuOf(server.proc.pid as number),
            async (v) => {
              const body = k.body?.(v as never);
              const res = await fetch(`${server.url}${path(v as never)}`, {
                headers: {
                  authorization: `Bearer ${KEYS.read}`,
                  ...(body ? { 'content-type': 'application/json' } : {}),
                },
                ...(body ? { method: 'POST', body: JSON.stringify(body) } : {}),
              });
              if (res.status !== 200)
                throw new Error(`GET ${path(v as never)}: ${res.status} ${await res.text()}`);
              await res.arrayBuffer();
            },
          );
        }
        for (const [i, ic] of INSIGHT_CASES.entries()) {
          opts.log(`  ${ic.name}: API, cycle ${cycle + 1}`);
          const x = it[i] as (typeof it)[number];
          await timeEach(
            insightReps,
            x.api,
            () => cpuOf(server.proc.pid as number),
            () => askApi(server, ic),
          );
        }
        if (cycle === 0) {
          opts.log('  export: GET /events?format=ndjson and POST /query?format=ndjson');
          exports.push(
            await exportApi(server, d, 'GET /events?format=ndjson (every event)', '/events?format=ndjson'),
          );
          exports.push(
            await exportApi(
              server,
              d,
              'POST /query?format=ndjson, SELECT * FROM events LIMIT 1,000,000',
              '/query?format=ndjson',
              { sql: 'SELECT * FROM events LIMIT 1000000' },
            ),
          );
        }
      } finally {
        await server.stop();
        serverPeak = Math.max(serverPeak, server.rss.peak);
      }
    }
    const rows: QueryRow[] = all.map((k, i) => {
      const x = t[i] as (typeof t)[number];
      const of = (y: Times) => (y.ms.length > 0 ? timing(y.ms, y.cpu) : null);
      return {
        query: k.query,
        api: of(x.api),
        store: of(x.store),
        storeSql: of(x.storeSql),
        sql: of(x.sql) as Timing,
        rows: x.rows,
      };
    });
    const size = dirSize(d.dir);
    return {
      events: d.events,
      users: d.users,
      days: d.days,
      loadSeconds: d.loadSeconds,
      loadEventsPerSec: Math.round(d.events / d.loadSeconds),
      diskBytes: size.disk,
      bytesPerEvent: round(size.disk / d.events, 0),
      serverPeakRssMB: round(serverPeak / 2 ** 20, 0),
      rows,
      exports,
      insights: INSIGHT_CASES.map((ic, i) => {
        const x = it[i] as (typeof it)[number];
        return {
          query: ic.name,
          api: timing(x.api.ms, x.api.cpu),
          compiled: timing(x.compiled.ms, x.compiled.cpu),
          hand: timing(x.hand.ms, x.hand.cpu),
          targetMs: ic.targetMs,
        };
      }),
    };
  } finally {
    d.done();
  }
}

function exportRow(path: string, events: number, ms: number, cpuMs: number, bytes: number): ExportRow {
  return {
    path,
    events,
    seconds: round(ms / 1000, 1),
    eventsPerSec: Math.round(events / (ms / 1000)),
    eventsPerCpuSec: Math.round(events / (cpuMs / 1000)),
    bytesPerEvent: Math.round(bytes / Math.max(1, events)),
  };
}

async function exportApi(
  s: Server,
  d: Dataset,
  label: string,
  path: string,
  body?: unknown,
): Promise<ExportRow> {
  const pid = s.proc.pid as number;
  const c0 = cpuOf(pid);
  const t0 = performance.now();
  const res = await fetch(`${s.url}${path}`, {
    method: body ? 'POST' : 'GET',
    headers: { authorization: `Bearer ${KEYS.read}`, 'content-type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  if (res.status !== 200 || !res.body) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  let lines = 0;
  let bytes = 0;
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    bytes += chunk.length;
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    for (let at = buf.indexOf(10); at >= 0; at = buf.indexOf(10, at + 1)) lines++;
  }
  const ms = performance.now() - t0;
  // A stream the server stopped at its time limit (--query-stream-timeout-ms) ends early: its rate is still what
  // it was, and the label says it was cut.
  const cut = !body && lines < d.events ? ` (stopped at the stream time limit after ${lines} lines)` : '';
  if (!body && lines > d.events) throw new Error(`${path}: ${lines} lines for ${d.events} events`);
  return exportRow(`${label}${cut}`, lines, ms, cpuOf(pid) - c0, bytes);
}

async function exportInProcess(instance: DuckDBInstance, d: Dataset): Promise<ExportRow> {
  let bytes = 0;
  const c0 = ownCpu();
  const t0 = performance.now();
  const n = await exportEvents(
    instance,
    d.workspaceId,
    { json: [] },
    (text) => {
      bytes += text.length;
      return true;
    },
    3_600_000,
  );
  return exportRow(
    'exportEvents (the store function), in process',
    n,
    performance.now() - t0,
    ownCpu() - c0,
    bytes,
  );
}

/** The floor: every row of every column read by DuckDB and handed over raw, no JSON, no JS values. */
async function scanInProcess(c: import('@duckdb/node-api').DuckDBConnection, d: Dataset): Promise<ExportRow> {
  const c0 = ownCpu();
  const t0 = performance.now();
  const result = await c.stream(`SELECT ${SELECT_EVENTS} FROM events WHERE workspace_id = ?`, [
    d.workspaceId,
  ]);
  let n = 0;
  for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk())
    n += chunk.rowCount;
  return exportRow(
    'plain SQL: SELECT every column, rows not converted',
    n,
    performance.now() - t0,
    ownCpu() - c0,
    0,
  );
}
