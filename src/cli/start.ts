// `intake start`: opens the store, ensures the default workspace, listens, and shuts down gracefully.
import pino from 'pino';
import { bootstrap, KeyRing } from '../auth/keys.ts';
import type { Config } from '../config.ts';
import { buildApp } from '../http/app.ts';
import { Ingest } from '../ingest/service.ts';
import { openGeoReader } from '../pipeline/enrich/index.ts';
import { DuckDBStore } from '../store/duckdb/index.ts';

const HOUR = 3_600_000;

export async function start(config: Config): Promise<void> {
  const log = pino({ level: config.logLevel });
  const store = await DuckDBStore.open({
    dataDir: config.dataDir,
    memoryLimit: config.duckdbMemoryLimit,
    checkpointThreshold: config.duckdbCheckpointThreshold,
    dedupeWindowHours: config.dedupeWindowHours,
    maxIdsPerPerson: config.maxIdsPerPerson,
    purgeIntervalHours: config.purgeIntervalHours,
  });
  const keys = new KeyRing(store);
  await keys.load();
  const { workspace, generated } = await bootstrap(keys, config.keys);
  if (generated.length > 0) {
    // Printed once: only their hashes are stored.
    const lines = generated.map((g) => `  ${g.key.kind.padEnd(5)} key: ${g.secret}`).join('\n');
    process.stdout.write(
      `\nNew keys for workspace "${workspace.name}" (shown once, store them now):\n${lines}\n\n`,
    );
  }
  // Before listening: a restart first takes back what the log holds that the store has not loaded.
  const ingest = await Ingest.open(store, {
    dataDir: config.dataDir,
    queueLimit: config.queueLimit,
    segmentLines: config.loadMaxEvents,
    delayMs: config.loadDelayMs,
    maintenance: {
      everyMs: HOUR,
      run: async () => {
        const n = await store.purgeDedupe(new Date(Date.now() - config.dedupeWindowHours * HOUR));
        if (n > 0) log.info({ forgotten: n }, 'dedupe window purged');
      },
    },
    onError: (err) => log.error({ err }, 'loading the ingest log into the store failed; retrying'),
    onLoaded: (seg, ms) =>
      log.debug(
        { seq: seg.seq, events: seg.events.length, rejected: seg.rejected, ms: Math.round(ms) },
        'log segment loaded',
      ),
  });
  // Loaded once, before listening: the ingest path only reads it from memory.
  const geo = config.geoipDir === null ? null : await openGeoReader(config.geoipDir);
  const app = await buildApp({ config, store, keys, ingest, logger: log, geo });
  await app.listen({ port: config.port, host: config.host });
  log.info({ port: config.port, host: config.host, dataDir: config.dataDir }, 'intake listening');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: no new requests, loading what the log holds');
    try {
      await app.close(); // waits for in-flight requests, which wait for their log writes
      await ingest.close();
      await store.close();
      log.info('stopped cleanly');
      process.exit(0);
    } catch (err) {
      log.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
