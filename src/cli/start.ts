// `intake start`: opens the runtime, listens, prints new keys once, and shuts down gracefully.
import pino from 'pino';
import type { Config } from '../core/config.ts';
import { openRuntime } from '../runtime/runtime.ts';

export async function start(config: Config): Promise<void> {
  const log = pino({ level: config.logLevel });
  const runtime = await openRuntime(config, {
    bootstrapKeys: config.keys,
    logger: log,
    onLoadError: (err) => log.error({ err }, 'loading the ingest log into the store failed; retrying'),
    onLoaded: (batch, ms) => log.debug({ ...batch, ms: Math.round(ms) }, 'log segment loaded'),
    onPurged: (forgotten) => log.info({ forgotten }, 'dedupe window purged'),
  });
  await runtime.app.listen({ port: config.port, host: config.host });
  const boot = runtime.bootstrap;
  if (boot && boot.generated.length > 0) {
    // Printed once: only their hashes are stored.
    const lines = boot.generated.map((g) => `  ${g.key.kind.padEnd(5)} key: ${g.secret}`).join('\n');
    process.stdout.write(
      `\nNew keys for workspace "${boot.workspace.name}" (shown once, store them now):\n${lines}\n\n`,
    );
  }
  log.info({ port: config.port, host: config.host, dataDir: config.dataDir }, 'intake listening');

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
