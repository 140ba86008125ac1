// The intake command.
import { ConfigError, describeOptions, loadConfig } from '../core/config.ts';
import { start } from './start.ts';

const USAGE = `usage: intake start [options]

options (flag, or environment variable):
${describeOptions()}

keys for the default workspace: INTAKE_WRITE_KEY, INTAKE_READ_KEY, INTAKE_ADMIN_KEY
`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (command !== 'start') {
    process.stderr.write(`intake: unknown command "${command}"\n\n${USAGE}`);
    process.exit(2);
  }
  try {
    await start(loadConfig(rest, process.env));
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`intake: bad configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

await main(process.argv.slice(2));
