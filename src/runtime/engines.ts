// The engines Intake runs on: each opens a store and a log over it. `embedded` is DuckDB with the file log; the
// cluster engine (JetStream + ClickHouse) is added here as one more entry (docs/ENGINES.md).
import type { Config } from '../core/config.ts';
import { FileLog } from '../ingest/file/file-log.ts';
import { NatsLog } from '../ingest/nats/index.ts';
import type { IngestLog } from '../ingest/types.ts';
import { DuckDBStore, type DuckDBStoreOptions } from '../store/duckdb/index.ts';
import type { Store } from '../store/types.ts';

export type EngineConfig = Pick<
  Config,
  | 'dataDir'
  | 'duckdbMemoryLimit'
  | 'duckdbCheckpointThreshold'
  | 'dedupeWindowHours'
  | 'maxIdsPerPerson'
  | 'queueLimit'
  | 'loadMaxEvents'
  | 'loadDelayMs'
  | 'readWaitMs'
  | 'purgeIntervalHours'
  | 'natsServers'
  | 'natsStream'
  | 'natsPartitions'
  | 'natsReplicas'
  | 'natsTimeoutMs'
  | 'nats'
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

const openDuckDB = (config: EngineConfig, hooks?: StoreHooks) =>
  DuckDBStore.open({
    dataDir: config.dataDir,
    memoryLimit: config.duckdbMemoryLimit,
    checkpointThreshold: config.duckdbCheckpointThreshold,
    maxIdsPerPerson: config.maxIdsPerPerson,
    purgeIntervalHours: config.purgeIntervalHours,
    ...hooks,
  });

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

export const ENGINES = {
  embedded: {
    shared: false,
    openStore: (config: EngineConfig, hooks?: StoreHooks) =>
      DuckDBStore.open({
        dataDir: config.dataDir,
        memoryLimit: config.duckdbMemoryLimit,
        checkpointThreshold: config.duckdbCheckpointThreshold,
        maxIdsPerPerson: config.maxIdsPerPerson,
        purgeIntervalHours: config.purgeIntervalHours,
        ...hooks,
      }),
    async openLog(store, config, hooks) {
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
    },
  },
  /**
   * The cluster log (NATS JetStream, src/ingest/nats/) over the DuckDB store, ingest, loader and API in one
   * process: the log's half of the cluster engine, until the ClickHouse store joins it.
   */
  nats: {
    shared: false,
    openStore: openDuckDB,
    async openLog(store, config, hooks) {
      if (config.natsServers.length === 0) throw new Error('the nats engine needs --nats-servers');
      let log: NatsLog | undefined;
      log = await NatsLog.open(store.sink, {
        servers: config.natsServers,
        stream: config.natsStream,
        partitions: config.natsPartitions,
        replicas: config.natsReplicas,
        timeoutMs: config.natsTimeoutMs,
        ...config.nats,
        queueLimit: config.queueLimit,
        dedupeWindowHours: config.dedupeWindowHours,
        maxEntries: config.loadMaxEvents,
        delayMs: config.loadDelayMs,
        readWaitMs: config.readWaitMs,
        maintenance: purgeEveryHour(config, hooks, (before) => log?.purgeNow(before)),
        onError: hooks.onLoadError,
        onLoaded: hooks.onLoaded,
      });
      return log;
    },
  },
} satisfies Record<string, Engine>;

export type EngineName = keyof typeof ENGINES;
