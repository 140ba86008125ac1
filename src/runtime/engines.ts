// The engines Intake runs on: each opens a store and a log over it. `embedded` is DuckDB with the file log; the
// cluster engine (JetStream + ClickHouse) is added here as one more entry (docs/ENGINES.md).
import type { Config } from '../core/config.ts';
import { FileLog } from '../ingest/file/file-log.ts';
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
async function openFileLog(store: Store, config: EngineConfig, hooks: EngineHooks): Promise<IngestLog> {
  // The hourly purge runs between loads, never inside one; `log` is set before its first hour is up.
  let log: FileLog | undefined;
  log = await FileLog.open(store.sink, {
    dataDir: config.dataDir,
    queueLimit: config.queueLimit,
    segmentLines: config.loadMaxEvents,
    delayMs: config.loadDelayMs,
    readWaitMs: config.readWaitMs,
    dedupeWindowHours: config.dedupeWindowHours,
    maintenance: {
      everyMs: HOUR,
      run: async () => {
        const n = (await log?.purge(new Date(Date.now() - config.dedupeWindowHours * HOUR))) ?? 0;
        if (n > 0) hooks.onPurged?.(n);
      },
    },
    onError: hooks.onLoadError,
    onLoaded: (seg, ms) =>
      hooks.onLoaded?.({ seq: seg.seq, events: seg.events.length, rejected: seg.rejected }, ms),
  });
  return log;
}

export const ENGINES = {
  embedded: {
    shared: false,
    openStore: (config: EngineConfig, hooks?: StoreHooks) =>
      DuckDBStore.open({
        dataDir: config.dataDir,
        memoryLimit: config.duckdbMemoryLimit,
        checkpointThreshold: config.duckdbCheckpointThreshold,
        checkpointRows: config.duckdbCheckpointRows,
        threads: config.duckdbThreads,
        maxIdsPerPerson: config.maxIdsPerPerson,
        purgeIntervalHours: config.purgeIntervalHours,
        ...hooks,
      }),
    openLog: openFileLog,
  },
  // The ClickHouse store with the file log: the cluster's store on one ingest node, until the JetStream log
  // (src/ingest/nats/) joins it. The store is shared, so key rings watch it.
  clickhouse: {
    shared: true,
    openStore: (config: EngineConfig) => {
      if (!config.clickhouseUrl)
        return Promise.reject(
          new Error('the clickhouse engine needs --clickhouse-url (INTAKE_CLICKHOUSE_URL)'),
        );
      return ClickHouseStore.open({
        url: config.clickhouseUrl,
        database: config.clickhouseDatabase,
        user: config.clickhouseUser,
        password: config.clickhousePassword,
        maxIdsPerPerson: config.maxIdsPerPerson,
      });
    },
    openLog: openFileLog,
  },
} satisfies Record<string, Engine>;

export type EngineName = keyof typeof ENGINES;
