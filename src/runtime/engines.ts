// The engines Intake runs on: each opens a store and a log over it. `embedded` is DuckDB with the file log; the
// cluster engine (JetStream + ClickHouse) is added here as one more entry (docs/ENGINES.md).
import type { Config } from '../core/config.ts';
import { FileLog } from '../ingest/file/file-log.ts';
import { NatsLog } from '../ingest/nats/index.ts';
import type { IngestLog } from '../ingest/types.ts';
import { ClickHouseStore } from '../store/clickhouse/index.ts';
import { DuckDBStore, type DuckDBStoreOptions } from '../store/duckdb/index.ts';
import type { Store } from '../store/types.ts';

export type EngineConfig = Pick<
  Config,
  | 'dataDir'
  | 'duckdbMemoryLimit'
  | 'duckdbCheckpointThreshold'
  | 'duckdbCheckpointRows'
  | 'duckdbThreads'
  | 'dedupeWindowHours'
  | 'maxIdsPerPerson'
  | 'queueLimit'
  | 'loadMaxEvents'
  | 'loadDelayMs'
  | 'readWaitMs'
  | 'purgeIntervalHours'
  | 'clickhouseUrl'
  | 'clickhouseDatabase'
  | 'clickhouseUser'
  | 'clickhousePassword'
  | 'clickhouseTimeoutMs'
  | 'roles'
  | 'natsServers'
  | 'natsStream'
  | 'natsPartitions'
  | 'natsReplicas'
  | 'natsTimeoutMs'
  | 'nats'
  | 'loaderPartitions'
>;

/** Test hooks of the embedded store (a purge timer fired by hand, a pause after a purge's copy). */
export type StoreHooks = Pick<DuckDBStoreOptions, 'timer' | 'afterPurgeCopy' | 'purgeIntervalHours'>;

export interface EngineHooks {
  onLoadError?(err: unknown): void;
  onLoaded?(batch: { seq: number; events: number; rejected: number }, ms: number): void;
  onPurged?(forgotten: number): void;
}

export interface Engine {
  /** True when other processes share the store (a cluster): key rings then watch it for changes. */
  shared: boolean;
  openStore(config: EngineConfig, hooks?: StoreHooks): Promise<Store>;
  /** Opens the log over the store's sink; a restart first takes back what the log holds unloaded. */
  openLog(store: Store, config: EngineConfig, hooks: EngineHooks): Promise<IngestLog>;
}

const HOUR = 3_600_000;

/** The file log over a store's sink (dataDir holds its segments), loading into whichever store it is given. */
function openFileLog(store: Store, config: EngineConfig, hooks: EngineHooks): Promise<IngestLog> {
  // The hourly purge runs between loads, never inside one; `log` is set before its first hour is up.
  let log: FileLog | undefined;
  return FileLog.open(store.sink, {
    dataDir: config.dataDir,
    queueLimit: config.queueLimit,
    segmentLines: config.loadMaxEvents,
    delayMs: config.loadDelayMs,
    readWaitMs: config.readWaitMs,
    dedupeWindowHours: config.dedupeWindowHours,
    maintenance: withCompaction(
      store,
      purgeEveryHour(config, hooks, (before) => log?.purge(before)),
    ),
    onError: hooks.onLoadError,
    onLoaded: (seg, ms) =>
      hooks.onLoaded?.({ seq: seg.seq, events: seg.events.length, rejected: seg.rejected }, ms),
  }).then((l) => {
    log = l;
    return l;
  });
}

/**
 * The JetStream log (src/ingest/nats/) over a store's sink. A node with the loader role consumes the stream into
 * the store; one without only publishes (and its reads, if it serves any, see what the loaders loaded).
 */
async function openNatsLog(store: Store, config: EngineConfig, hooks: EngineHooks): Promise<IngestLog> {
  if (config.natsServers.length === 0) throw new Error('the JetStream log needs --nats-servers');
  let log: NatsLog | undefined;
  log = await NatsLog.open(store.sink, {
    servers: config.natsServers,
    stream: config.natsStream,
    partitions: config.natsPartitions,
    replicas: config.natsReplicas,
    timeoutMs: config.natsTimeoutMs,
    ...config.nats,
    consume: config.roles.includes('loader'),
    loaderPartitions: config.loaderPartitions ?? undefined,
    queueLimit: config.queueLimit,
    dedupeWindowHours: config.dedupeWindowHours,
    maxEntries: config.loadMaxEvents,
    delayMs: config.loadDelayMs,
    readWaitMs: config.readWaitMs,
    // Only a loader compacts (a node that does not load runs its maintenance on a timer, beside the loads).
    maintenance: config.roles.includes('loader')
      ? withCompaction(
          store,
          purgeEveryHour(config, hooks, (before) => log?.purgeNow(before)),
        )
      : purgeEveryHour(config, hooks, (before) => log?.purgeNow(before)),
    onError: hooks.onLoadError,
    onLoaded: hooks.onLoaded,
  });
  return log;
}

/** The dedupe window's hourly purge, run by a loader between loads. */
function purgeEveryHour(
  config: EngineConfig,
  hooks: EngineHooks,
  purge: (before: Date) => Promise<number> | undefined,
) {
  return {
    everyMs: HOUR,
    run: async () => {
      const n = (await purge(new Date(Date.now() - config.dedupeWindowHours * HOUR))) ?? 0;
      if (n > 0) hooks.onPurged?.(n);
    },
  };
}

/** How often a loader on the ClickHouse store folds the data dictionary's rows (dictionary-compact.ts). */
const COMPACT_EVERY_MS = 60_000;

/**
 * The loader's maintenance on the ClickHouse store: the dictionary's compaction every COMPACT_EVERY_MS, between
 * loads, and `hourly` when its hour is up. Other stores: `hourly` alone. Every loader of a store compacts (they
 * may run at once: dictionary-compact.ts says why that is safe).
 */
function withCompaction(store: Store, hourly: { everyMs: number; run(): Promise<void> }) {
  if (!(store instanceof ClickHouseStore)) return hourly;
  let next = Date.now() + hourly.everyMs;
  return {
    everyMs: COMPACT_EVERY_MS,
    run: async () => {
      let failed: unknown = null;
      await store.compactDictionary().catch((err: unknown) => {
        failed = err;
      });
      if (Date.now() >= next) {
        next = Date.now() + hourly.everyMs;
        await hourly.run();
      }
      if (failed !== null) throw failed;
    },
  };
}

const openDuckDB = (config: EngineConfig, hooks?: StoreHooks) =>
  DuckDBStore.open({
    dataDir: config.dataDir,
    memoryLimit: config.duckdbMemoryLimit,
    checkpointThreshold: config.duckdbCheckpointThreshold,
    checkpointRows: config.duckdbCheckpointRows,
    threads: config.duckdbThreads,
    maxIdsPerPerson: config.maxIdsPerPerson,
    purgeIntervalHours: config.purgeIntervalHours,
    ...hooks,
  });

const openClickHouseWith = (config: EngineConfig, cleanAtOpen: boolean) => {
  if (!config.clickhouseUrl)
    return Promise.reject(new Error('the ClickHouse store needs --clickhouse-url (INTAKE_CLICKHOUSE_URL)'));
  return ClickHouseStore.open({
    url: config.clickhouseUrl,
    database: config.clickhouseDatabase,
    user: config.clickhouseUser,
    password: config.clickhousePassword,
    maxIdsPerPerson: config.maxIdsPerPerson,
    timeoutMs: config.clickhouseTimeoutMs,
    cleanAtOpen,
  });
};
const openClickHouse = (config: EngineConfig) => openClickHouseWith(config, true);

export const ENGINES = {
  /** DuckDB with the file log: one process, the default. */
  embedded: { shared: false, openStore: openDuckDB, openLog: openFileLog },
  /** The ClickHouse store with the file log (one ingest node on a shared store). */
  clickhouse: { shared: true, openStore: openClickHouse, openLog: openFileLog },
  /** The JetStream log over DuckDB: ingest, loader and API in one process. */
  nats: { shared: false, openStore: openDuckDB, openLog: openNatsLog },
  /** The cluster: the JetStream log and the ClickHouse store, each node doing the roles it is given. */
  // Lane 0 holds the profile versions other loaders may be writing: each loader cleans its own lane (load.ts).
  cluster: {
    shared: true,
    openStore: (c: EngineConfig) => openClickHouseWith(c, false),
    openLog: openNatsLog,
  },
} satisfies Record<string, Engine>;

export type EngineName = keyof typeof ENGINES;

/** The engine a configuration names: --nats-servers puts the log on JetStream, --store clickhouse the store. */
export function engineFor(config: Pick<Config, 'natsServers' | 'store'>): EngineName {
  const nats = config.natsServers.length > 0;
  const clickhouse = config.store === 'clickhouse';
  return nats ? (clickhouse ? 'cluster' : 'nats') : clickhouse ? 'clickhouse' : 'embedded';
}
