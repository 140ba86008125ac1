// Test harness: a real app on a real DuckDB file in a temporary directory, with known keys.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyRing } from '../src/auth/keys.ts';
import { loadConfig, type Role } from '../src/core/config.ts';
import type { App } from '../src/http/app.ts';
import { FileLog } from '../src/ingest/file/file-log.ts';
import type { IngestLog } from '../src/ingest/types.ts';
import { type GeoReader, openGeoReader } from '../src/pipeline/enrich/index.ts';
import { ENGINES, type EngineName } from '../src/runtime/engines.ts';
import { openRuntime } from '../src/runtime/runtime.ts';
import type { Store } from '../src/store/types.ts';
import { databaseOf, testClickHouseUrl } from './engines.ts';
import { streamFor, testCluster } from './nats-cluster.ts';

/**
 * The engine HTTP tests run on: INTAKE_TEST_ENGINE, default `embedded`. Every test that goes through
 * startTestApp runs on whichever engine is named, unchanged.
 */
export const TEST_ENGINE: EngineName = (() => {
  const name = process.env.INTAKE_TEST_ENGINE ?? 'embedded';
  if (!(name in ENGINES))
    throw new Error(`INTAKE_TEST_ENGINE=${name}: no such engine (${Object.keys(ENGINES)})`);
  return name as EngineName;
})();

/**
 * A test's node:test options on the engine under test: skipped, with the reason printed, when `reasons` names
 * TEST_ENGINE. For HTTP tests an engine cannot pass yet: `test('name', onEngine({ clickhouse: 'why' }), fn)`.
 */
export function onEngine(reasons: Partial<Record<EngineName, string>>): { skip?: string } {
  const why = reasons[TEST_ENGINE];
  return why ? { skip: `on ${TEST_ENGINE}: ${why}` } : {};
}

import type { DuckDBStoreOptions } from '../src/store/duckdb/index.ts';

export const KEYS = { write: 'test-write-key', read: 'test-read-key', admin: 'test-admin-key' } as const;

export interface TestApp {
  app: App;
  /** The store as the API reads it (reads wait for the log). */
  store: Store;
  keys: KeyRing;
  log: IngestLog;
  dataDir: string;
  /** Base URL once listen() was called. */
  url?: string;
  listen(): Promise<string>;
  close(): Promise<void>;
}

/** The embedded engine's file log, for tests of its own mechanics (segments, loader). */
export function fileLog(t: TestApp): FileLog {
  if (!(t.log instanceof FileLog)) throw new Error("this test needs the embedded engine's file log");
  return t.log;
}

export function tempDir(prefix = 'intake-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface TestAppOptions {
  dataDir?: string;
  /** The engine, where a test needs one whatever INTAKE_TEST_ENGINE says (default TEST_ENGINE). */
  engine?: EngineName;
  /** --role (default every role). */
  roles?: Role[];
  bodyLimit?: number;
  eventLimit?: number;
  queueLimit?: number;
  loadMaxEvents?: number;
  loadDelayMs?: number;
  /** How long a read waits for loads before answering 503 READ_TIMEOUT, in ms; default the Loader's. */
  readWaitMs?: number;
  trustProxy?: string[];
  now?: () => Date;
  /** POST /query's time limit in ms (default 10000). */
  queryTimeoutMs?: number;
  /** The geolocation database (testGeoReader()); default none, so events get no context.location. */
  geo?: GeoReader | null;
  /** More store options (the purge's interval and timer, say). */
  /** The embedded engine's test hooks (purge timer, a pause after a purge's copy). */
  store?: Pick<DuckDBStoreOptions, 'timer' | 'afterPurgeCopy' | 'purgeIntervalHours'>;
}

let geoReader: Promise<GeoReader> | undefined;
/** The bundled geolocation database, opened once per test process (~45 MB, a few hundred ms). */
export function testGeoReader(): Promise<GeoReader> {
  geoReader ??= openGeoReader();
  return geoReader;
}

export async function startTestApp(opts: TestAppOptions = {}): Promise<TestApp> {
  const dataDir = opts.dataDir ?? tempDir();
  const engine = opts.engine ?? TEST_ENGINE;
  // The defaults of `intake start`, with the test's options over them.
  const config = {
    ...loadConfig([], {}),
    // INTAKE_TEST_ENGINE=nats: the test process's NATS cluster, a stream of the data directory's own.
    ...(engine === 'nats' || engine === 'cluster'
      ? { natsServers: (await testCluster()).split(','), natsStream: streamFor(dataDir) }
      : {}),
    dataDir,
    geoipDir: null,
    bodyLimit: opts.bodyLimit ?? 4 * 1024 * 1024,
    eventLimit: opts.eventLimit ?? 32 * 1024,
    trustProxy: opts.trustProxy ?? [],
    queueLimit: opts.queueLimit ?? 100_000,
    loadMaxEvents: opts.loadMaxEvents ?? 10_000,
    loadDelayMs: opts.loadDelayMs ?? 100,
    ...(opts.readWaitMs === undefined ? {} : { readWaitMs: opts.readWaitMs }),
    queryTimeoutMs: opts.queryTimeoutMs ?? 10_000,
    ...(opts.roles ? { roles: opts.roles } : {}),
  };
  if (engine === 'clickhouse' || engine === 'cluster') {
    // The test process's clickhouse-server (test/engines.ts), a database per data directory.
    Object.assign(config, {
      clickhouseUrl: await testClickHouseUrl(),
      clickhouseDatabase: databaseOf(dataDir),
    });
  }
  const rt = await openRuntime(config, {
    engine,
    storeHooks: opts.store,
    bootstrapKeys: KEYS,
    now: opts.now,
    logger: false,
    geo: opts.geo ?? null,
  });
  const t: TestApp = {
    app: rt.app,
    store: rt.store,
    keys: rt.keys,
    log: rt.log,
    dataDir,
    async listen() {
      await rt.app.listen({ port: 0, host: '127.0.0.1' });
      const addr = rt.app.server.address();
      if (!addr || typeof addr === 'string') throw new Error('no address');
      t.url = `http://127.0.0.1:${addr.port}`;
      return t.url;
    },
    async close() {
      await rt.close();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return t;
}

export const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;
export const bearer = (key: string) => `Bearer ${key}`;

/** Every event of the workspace behind `readKey`, through GET /events, paging by 1000. */
export async function allEvents(
  app: App,
  readKey: string = KEYS.read,
  query = '',
): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (let offset = 0; ; offset += 1000) {
    const res = await app.inject({
      method: 'GET',
      url: `/events?limit=1000&offset=${offset}&orderByField=receivedAt&orderByDirection=ASC${query ? `&${query}` : ''}`,
      headers: { authorization: bearer(readKey) },
    });
    if (res.statusCode !== 200) throw new Error(`GET /events: ${res.statusCode} ${res.body}`);
    const page = res.json() as { results: Record<string, unknown>[] };
    out.push(...page.results);
    if (page.results.length < 1000) return out;
  }
}

export interface ServerProcess {
  proc: ChildProcess;
  url: string;
  output: () => string;
  /** Resolves with the exit code (or signal) when the process ends. */
  exited: Promise<number | string>;
}

const ROOT = new URL('..', import.meta.url).pathname;

/** Starts the real `intake start` process on a free port and waits until it answers /health. */
export async function startServerProcess(
  dataDir: string,
  extraEnv: Record<string, string> = {},
): Promise<ServerProcess> {
  const port = await freePort();
  const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'start'], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      INTAKE_DATA_DIR: dataDir,
      INTAKE_WRITE_KEY: KEYS.write,
      INTAKE_READ_KEY: KEYS.read,
      INTAKE_ADMIN_KEY: KEYS.admin,
      LOG_LEVEL: 'warn',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (d) => {
    out += d;
  });
  proc.stderr?.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | string>((resolve) =>
    proc.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`server exited early: ${out}`);
    try {
      const r = await fetch(`${url}/health`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`server did not start within 30 s: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { proc, url, output: () => out, exited };
}

export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}
