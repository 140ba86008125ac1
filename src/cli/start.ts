// `intake start`: checks what can be checked, opens the runtime, listens, and only then shows new keys; shuts down
// gracefully on SIGTERM / SIGINT.
import type { Logger } from 'pino';
import type { Config } from '../core/config.ts';
import { engineFor } from '../runtime/engines.ts';
import { openRuntime } from '../runtime/runtime.ts';
import { bootstrapThenListen } from './bootstrap.ts';
import { checkDataDir, checkPort, listenError, openGeo, storeOpenError } from './preflight.ts';

/** Resolves once the server listens. Throws StartError (one line for the user) or whatever else went wrong. */
export async function start(config: Config, log: Logger): Promise<void> {
  // The checks go first, in this order, so that nothing is created before they pass: the port (released at
  // once), the geolocation database (read-only), then the data directory, whose database lock says whether
  // another server uses it.
  await checkPort(config.host, config.port);
  const geo = await openGeo(config.geoipDir);
  checkDataDir(config.dataDir);
  // Opening takes back what the log holds that the store has not loaded, before anything listens.
  const runtime = await openRuntime(config, {
    // --nats-servers puts the log on JetStream, --store clickhouse the store on ClickHouse: both, the cluster.
    engine: engineFor(config),
    geo,
    logger: log,
    onLoadError: (err) => log.error({ err }, 'loading the ingest log into the store failed; retrying'),
    onLoaded: (batch, ms) => log.debug({ ...batch, ms: Math.round(ms) }, 'log segment loaded'),
    onPurged: (forgotten) => log.info({ forgotten }, 'dedupe window purged'),
  }).catch((err: unknown) => {
    throw storeOpenError(err, config.dataDir);
  });
  const listen = async () => {
    await runtime.app.listen({ port: config.port, host: config.host }).catch((err: unknown) => {
      throw listenError(err, config.host, config.port);
    });
  };
  // The default workspace and its keys are made by a node with the api role (the one that serves admin): in a
  // cluster, ingest and loader nodes starting at the same moment would otherwise each make one. They find the
  // keys in the store, within a second of their making (the key ring polls a shared store).
  const boots = config.roles.includes('api');
  // The port was free at the check; if another process took it since, the new keys are taken back.
  const { workspace, generated } = boots
    ? await bootstrapThenListen(runtime.keys, config.keys, listen)
    : await listen().then(() => ({ workspace: null, generated: [] }));
  log.info(
    { port: config.port, host: config.host, dataDir: config.dataDir, roles: config.roles },
    'intake listening',
  );
  if (workspace && generated.length > 0) {
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
      await runtime.close();
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
