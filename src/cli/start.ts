// `intake start`: checks what can be checked, opens the store, listens, and only then shows new keys; shuts down
// gracefully on SIGTERM / SIGINT.
import type { Logger } from 'pino';
import { KeyRing } from '../auth/keys.ts';
import type { Config } from '../config.ts';
import { buildApp } from '../http/app.ts';
import { Ingest } from '../ingest/service.ts';
import { DuckDBStore } from '../store/duckdb/index.ts';
import { bootstrapThenListen } from './bootstrap.ts';
import { checkDataDir, checkPort, listenError, openGeo, storeOpenError } from './preflight.ts';

const HOUR = 3_600_000;

/** Resolves once the server listens. Throws StartError (one line for the user) or whatever else went wrong. */
export async function start(config: Config, log: Logger): Promise<void> {
  // The checks go first, in this order, so that nothing is created before they pass: the port (released at
  // once), the geolocation database (read-only), then the data directory, whose database lock says whether
  // another server uses it.
  await checkPort(config.host, config.port);
  const geo = await openGeo(config.geoipDir);
  checkDataDir(config.dataDir);
  const store = await DuckDBStore.open({
    dataDir: config.dataDir,
    memoryLimit: config.duckdbMemoryLimit,
    checkpointThreshold: config.duckdbCheckpointThreshold,
    dedupeWindowHours: config.dedupeWindowHours,
    maxIdsPerPerson: config.maxIdsPerPerson,
  }).catch((err: unknown) => {
    throw storeOpenError(err, config.dataDir);
  });
  // Before listening: a restart first takes back what the log holds that the store has not loaded.
  const ingest = await Ingest.open(store, {
    dataDir: config.dataDir,
    queueLimit: config.queueLimit,
    segmentLines: config.loadMaxEvents,
    delayMs: config.loadDelayMs,
    readWaitMs: config.readWaitMs,
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
  const keys = new KeyRing(store);
  await keys.load();
  const app = await buildApp({ config, store, keys, ingest, logger: log, geo });
  // The port was free at the check; if another process took it since, the new keys are taken back.
  const { workspace, generated } = await bootstrapThenListen(keys, config.keys, async () => {
    await app.listen({ port: config.port, host: config.host }).catch((err: unknown) => {
      throw listenError(err, config.host, config.port);
    });
  });
  log.info({ port: config.port, host: config.host, dataDir: config.dataDir }, 'intake listening');
  if (generated.length > 0) {
    // Printed once: only their hashes are stored.
    const lines = generated.map((g) => `  ${g.key.kind.padEnd(5)} key: ${g.secret}`).join('\n');
    process.stdout.write(
      `\nNew keys for workspace "${workspace.name}" (shown once, store them now):\n${lines}\n\n`,
    );
  }

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
