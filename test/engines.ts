// The engines the contract suites (test/store/contract.ts, test/ingest/contract.ts) run on, one entry each,
// opened through src/runtime/engines.ts as the server opens them. Running the suites on another implementation
// is one more entry here; a test it cannot pass yet is skipped by name, with the reason printed.
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { natsMissing } from '../scripts/cluster.ts';
import { loadConfig } from '../src/core/config.ts';
import type { IngestLog } from '../src/ingest/types.ts';
import { ENGINES, type EngineConfig, type EngineHooks, type EngineName } from '../src/runtime/engines.ts';
import type { Store } from '../src/store/types.ts';
import { type ClickHouseServer, clickhouseMissing, startClickHouse } from './cluster/clickhouse.ts';
import { sharedCluster, streamFor, testCluster } from './nats-cluster.ts';

export interface StoreOptions {
  /** Most ids one person may have. Default 100. */
  maxIdsPerPerson?: number;
}

export interface LogOptions extends EngineHooks {
  /** Entries accepted and not yet loaded before submit answers OVERLOADED. Default 100,000. */
  queueLimit?: number;
  /** Most entries in one load. Default 10,000. */
  loadMaxEvents?: number;
  /** How long the first entry waits for others before a load, in ms. Default 100. */
  loadDelayMs?: number;
  /** How long a messageId is remembered, in hours. Default 48. */
  dedupeWindowHours?: number;
}

export type Suite = 'store' | 'log';

export interface TestEngine {
  name: string;
  /** Null when the engine can run here, else why not (e.g. its server is not installed). Absent: always. */
  available?(): Promise<string | null>;
  /** Opens the engine's store on `dir` (the same dir again: the same data). */
  openStore(dir: string, opts?: StoreOptions): Promise<Store>;
  /** Opens the engine's log over `store`, keeping what it must in `dir`. */
  openLog(store: Store, dir: string, opts?: LogOptions): Promise<IngestLog>;
  /** The suites it runs (default both): an engine whose store is another's runs only the log suite. */
  suites?: Suite[];
  /** Contract tests this engine does not pass yet, per suite and by test name, each with the reason. */
  skips: Partial<Record<Suite, Record<string, string>>>;
}

/** The configuration `intake start` would use, on `dir`, with the test's options over it. */
function engineConfig(dir: string, opts: StoreOptions & LogOptions): EngineConfig {
  const d = loadConfig([], {});
  return {
    dataDir: dir,
    duckdbMemoryLimit: '128MB', // half the default: a suite opens many stores on a shared machine
    duckdbCheckpointThreshold: d.duckdbCheckpointThreshold,
    duckdbCheckpointRows: d.duckdbCheckpointRows,
    duckdbThreads: d.duckdbThreads,
    dedupeWindowHours: opts.dedupeWindowHours ?? d.dedupeWindowHours,
    maxIdsPerPerson: opts.maxIdsPerPerson ?? d.maxIdsPerPerson,
    queueLimit: opts.queueLimit ?? d.queueLimit,
    loadMaxEvents: opts.loadMaxEvents ?? d.loadMaxEvents,
    readWaitMs: d.readWaitMs,
    purgeIntervalHours: d.purgeIntervalHours,
    loadDelayMs: opts.loadDelayMs ?? d.loadDelayMs,
    clickhouseUrl: d.clickhouseUrl,
    clickhouseDatabase: d.clickhouseDatabase,
    clickhouseUser: d.clickhouseUser,
    clickhousePassword: d.clickhousePassword,
    clickhouseTimeoutMs: d.clickhouseTimeoutMs,
    natsServers: d.natsServers,
    natsStream: d.natsStream,
    natsPartitions: d.natsPartitions,
    natsReplicas: d.natsReplicas,
    natsTimeoutMs: d.natsTimeoutMs,
    nats: d.nats,
    roles: d.roles,
    loaderPartitions: d.loaderPartitions,
  };
}

/** An entry for an engine of src/runtime/engines.ts. */
export function runtimeEngine(
  name: EngineName,
  extra: Pick<TestEngine, 'skips' | 'available'> = { skips: {} },
): TestEngine {
  const engine = ENGINES[name];
  return {
    name,
    ...extra,
    openStore: (dir, opts = {}) => engine.openStore(engineConfig(dir, opts)),
    openLog: (store, dir, opts = {}) => engine.openLog(store, engineConfig(dir, opts), opts),
  };
}

/**
 * The ClickHouse server the `clickhouse` entry uses: INTAKE_TEST_CLICKHOUSE_URL when set, else one started on
 * first use (test/cluster/clickhouse.ts) and killed when the test process exits. Each data directory gets its own
 * database, so a store reopened on the same directory finds its data.
 */
let server: Promise<ClickHouseServer> | null = null;
export async function testClickHouseUrl(): Promise<string> {
  const given = process.env.INTAKE_TEST_CLICKHOUSE_URL;
  if (given) return given;
  if (!server) {
    server = startClickHouse();
    const s = await server;
    // Child processes (test/engine-child.ts) use the same server; it dies with this process.
    process.env.INTAKE_TEST_CLICKHOUSE_URL = s.url;
  }
  return (await server).url;
}

/** The database of a data directory. */
export const databaseOf = (dir: string) =>
  `intake_${createHash('md5').update(dir).digest('hex').slice(0, 16)}`;

async function clickhouseConfig(dir: string, opts: StoreOptions & LogOptions): Promise<EngineConfig> {
  return {
    ...engineConfig(dir, opts),
    clickhouseUrl: await testClickHouseUrl(),
    clickhouseDatabase: databaseOf(dir),
  };
}

/** What the log's window does not decide on ClickHouse: the store keeps one row per (workspace, messageId). */
const ONCE_FOREVER =
  'ClickHouse stores a (workspace, messageId) once, ever (the load drops a stored one; the ReplacingMergeTree ' +
  'key is the last line of defence): a message sent again after the dedupe window is acknowledged, not stored twice';

/** The ClickHouse store (a real clickhouse-server) with the file log. */
const clickhouseEngine: TestEngine = {
  name: 'clickhouse',
  available: async () => (process.env.INTAKE_TEST_CLICKHOUSE_URL ? null : clickhouseMissing()),
  openStore: async (dir, opts = {}) => ENGINES.clickhouse.openStore(await clickhouseConfig(dir, opts)),
  openLog: async (store, dir, opts = {}) =>
    ENGINES.clickhouse.openLog(store, await clickhouseConfig(dir, opts), opts),
  skips: {
    log: {
      'forbidden keys are refused, even after a purge of everything': ONCE_FOREVER,
      'purge forgets only the keys first seen before its date, and says how many': ONCE_FOREVER,
    },
  },
};

/**
 * The NATS JetStream log over the DuckDB store, on a real 3-node cluster (scripts/cluster.ts) that the test
 * process starts once and kills when it exits; each directory gets its own stream (R3, 4 partitions), so tests
 * are isolated and a reopen on the same directory finds the same stream.
 */
const natsEngine: TestEngine = {
  name: 'nats',
  // Starts the cluster before any test: a crash child (engine-child.ts) must find it in the environment.
  async available() {
    const missing = natsMissing();
    if (missing === null) await sharedCluster();
    return missing;
  },
  suites: ['log'],
  skips: {},
  openStore: (dir, opts = {}) => ENGINES.nats.openStore(engineConfig(dir, opts)),
  async openLog(store, dir, opts = {}) {
    const config = {
      ...engineConfig(dir, opts),
      natsServers: (await testCluster()).split(','),
      natsStream: streamFor(dir),
    };
    return ENGINES.nats.openLog(store, config, opts);
  },
};

/**
 * The cluster engine: the JetStream log over the ClickHouse store, both real. Its store is the `clickhouse`
 * entry's (that entry runs the store suite), so it runs the log suite, where the store keeps one row per
 * (workspace, messageId) as on the `clickhouse` entry.
 */
const clusterEngine: TestEngine = {
  name: 'cluster',
  async available() {
    const missing = natsMissing() ?? (process.env.INTAKE_TEST_CLICKHOUSE_URL ? null : clickhouseMissing());
    if (missing === null) await sharedCluster();
    return missing;
  },
  suites: ['log'],
  skips: { log: clickhouseEngine.skips.log ?? {} },
  openStore: async (dir, opts = {}) => ENGINES.cluster.openStore(await clickhouseConfig(dir, opts)),
  async openLog(store, dir, opts = {}) {
    const config = {
      ...(await clickhouseConfig(dir, opts)),
      natsServers: (await testCluster()).split(','),
      natsStream: streamFor(dir),
    };
    return ENGINES.cluster.openLog(store, config, opts);
  },
};

export const TEST_ENGINES: TestEngine[] = [
  runtimeEngine('embedded'),
  clickhouseEngine,
  natsEngine,
  clusterEngine,
];

export function engineNamed(name: string): TestEngine {
  const e = TEST_ENGINES.find((x) => x.name === name);
  if (!e) throw new Error(`no test engine ${name}`);
  return e;
}

/** Registers one contract test; `fn` runs with the engine under test. */
export type ContractTest = (name: string, fn: () => Promise<void>) => void;

/** Under CI an engine that is missing fails its suite instead of skipping it: CI must run every engine. */
const CI = process.env.CI === 'true';

const SUITE_NAMES: Record<Suite, string> = { store: 'store contract', log: 'log contract' };

/**
 * Registers `suite` once per engine, in a describe block named for both. A test named in the engine's skips is
 * skipped with its reason; an engine that is not available skips every test (fails them under CI=true); a skip
 * naming no test of the suite fails, so a renamed test cannot leave a stale skip behind.
 */
export async function forEachEngine(
  suite: Suite,
  register: (engine: TestEngine, test: ContractTest) => void,
): Promise<void> {
  for (const engine of TEST_ENGINES) {
    if (engine.suites && !engine.suites.includes(suite)) continue;
    const missing = (await engine.available?.()) ?? null;
    const skips = engine.skips[suite] ?? {};
    describe(`${SUITE_NAMES[suite]} on ${engine.name}`, () => {
      const names = new Set<string>();
      register(engine, (name, fn) => {
        names.add(name);
        if (missing !== null && CI) {
          test(name, () => {
            throw new Error(`${engine.name} is not available and CI=true runs every engine: ${missing}`);
          });
          return;
        }
        const skip = missing !== null ? `${engine.name} is not available: ${missing}` : skips[name];
        test(name, { skip: skip ?? false, timeout: 120_000 }, fn);
      });
      const stale = Object.keys(skips).filter((s) => !names.has(s));
      if (stale.length > 0) {
        test(`${engine.name}'s skips name tests of the suite`, () => {
          throw new Error(`skips naming no test of the ${suite} contract: ${stale.join('; ')}`);
        });
      }
    });
  }
}
