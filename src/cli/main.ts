// The intake command. Whatever stops a start is one line on stderr and a non-zero exit; the details (a stack)
// are logged at debug level.
// First: it configures DuckDB's allocator, which reads its environment as its library loads (allocator.ts).
import './allocator.ts';
import pino from 'pino';
import { type Config, ConfigError, describeOptions, loadConfig } from '../core/config.ts';
import { MIGRATE_USAGE, parseMigrateArgs, runMigrate } from './migrate.ts';
import { StartError } from './preflight.ts';
import { start } from './start.ts';

const USAGE = `usage: intake start [options]
       intake migrate --data-dir DIR --to-data-dir DIR   (intake migrate --help)

options (flag, or environment variable):
${describeOptions()}

keys for the default workspace: INTAKE_WRITE_KEY, INTAKE_READ_KEY, INTAKE_ADMIN_KEY, INTAKE_PRIVATE_KEY
what each one means: the Configuration section of the README
`;

const firstLine = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0];

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (command === 'migrate') {
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(MIGRATE_USAGE);
      return;
    }
    let args: ReturnType<typeof parseMigrateArgs>;
    try {
      args = parseMigrateArgs(rest, process.env);
    } catch (err) {
      process.stderr.write(`intake: bad configuration: ${firstLine(err)}\n`);
      process.exit(2);
    }
    try {
      process.exitCode = await runMigrate(args, process.stdout);
    } catch (err) {
      process.stderr.write(
        `\nintake: migrate stopped: ${firstLine(err)} (run the same command again to resume)\n`,
      );
      process.exit(1);
    }
    return;
  }
  if (command !== 'start') {
    process.stderr.write(`intake: unknown command "${command}"\n\n${USAGE}`);
    process.exit(2);
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(USAGE);
    return;
  }
  let config: Config;
  try {
    config = loadConfig(rest, process.env);
  } catch (err) {
    process.stderr.write(`intake: bad configuration: ${firstLine(err)}\n`);
    process.exit(2);
  }
  const log = pino({ level: config.logLevel });
  let started = false;
  // Start failures get one line; after the start an error nothing caught is a bug, logged in full.
  const fail = (err: unknown) => {
    if (started) {
      log.fatal({ err }, 'unexpected error; exiting');
      process.exit(1);
    }
    log.debug({ err }, 'start failed');
    const line =
      err instanceof StartError || err instanceof ConfigError
        ? err.message
        : `start failed: ${firstLine(err)}${log.isLevelEnabled('debug') ? '' : ' (--log-level debug logs the details)'}`;
    process.stderr.write(`intake: ${line}\n`);
    process.exit(1);
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
  try {
    await start(config, log);
    started = true;
  } catch (err) {
    fail(err);
  }
}

await main(process.argv.slice(2));
