// `intake migrate`: moves an embedded data directory (--data-dir) into another store, with a progress line, and
// prints the counts of both sides at the end. Resumable: run the same command again after an interruption.

import { join, resolve } from 'node:path';
import { isatty } from 'node:tty';
import { parseArgs } from 'node:util';
import { type Config, ConfigError, loadConfig } from '../core/config.ts';
import { ENGINES } from '../runtime/engines.ts';
import { type MigrateResult, migrate, type Stage } from '../runtime/migrate.ts';
import type { Store, StoreCounts } from '../store/types.ts';

export const MIGRATE_USAGE = `usage: intake migrate --data-dir DIR (--to-data-dir DIR | --store clickhouse --clickhouse-url URL ...)
                      [--batch-size N] [--progress-file FILE]

Copies everything the embedded data directory DIR holds (events, rejected items, profiles, identities,
groups, tombstones, workspaces, keys, plans) into the target store, exactly once, resumable: after an
interruption run the same command again. Stop the server using DIR first (its database is locked).
  --to-data-dir DIR     another embedded data directory
  --store clickhouse    a cluster's ClickHouse store: --clickhouse-url, --clickhouse-database,
                        --clickhouse-user, --clickhouse-password (or their INTAKE_CLICKHOUSE_* variables)
  --batch-size N        entries per batch handed to the target (default 10000)
  --progress-file FILE  where progress is kept (default DIR/migrate.json)
`;

interface MigrateArgs {
  config: Config;
  toDataDir: string | undefined;
  batchSize: number;
  progressFile: string;
}

export function parseMigrateArgs(argv: string[], env: NodeJS.ProcessEnv): MigrateArgs {
  const own = parseArgs({
    args: argv,
    options: {
      'to-data-dir': { type: 'string' },
      'batch-size': { type: 'string' },
      'progress-file': { type: 'string' },
    },
    strict: false,
  });
  const rest = argv.filter((a, i) => {
    const name = a.split('=')[0];
    const flag = ['--to-data-dir', '--batch-size', '--progress-file'].includes(name ?? '');
    const value = i > 0 && ['--to-data-dir', '--batch-size', '--progress-file'].includes(argv[i - 1] ?? '');
    return !flag && !value;
  });
  const config = loadConfig(rest, env);
  const str = (k: string) => (typeof own.values[k] === 'string' ? (own.values[k] as string) : undefined);
  const batch = str('batch-size') ?? '10000';
  if (!/^\d+$/.test(batch) || Number(batch) < 1 || Number(batch) > 1_000_000)
    throw new ConfigError(`--batch-size must be an integer from 1 to 1000000, got "${batch}"`);
  const toDataDir = str('to-data-dir');
  const cluster = config.store === 'clickhouse';
  if (!toDataDir && !cluster)
    throw new ConfigError(
      'a target is required: --to-data-dir DIR, or --store clickhouse with --clickhouse-url',
    );
  if (toDataDir && cluster)
    throw new ConfigError('one target only: --to-data-dir or --store clickhouse, not both');
  if (cluster && !config.clickhouseUrl)
    throw new ConfigError('--store clickhouse needs --clickhouse-url (INTAKE_CLICKHOUSE_URL)');
  if (toDataDir && resolve(toDataDir) === resolve(config.dataDir))
    throw new ConfigError('--to-data-dir must differ from --data-dir');
  return {
    config,
    toDataDir,
    batchSize: Number(batch),
    progressFile: str('progress-file') ?? join(config.dataDir, 'migrate.json'),
  };
}

const n = (x: number) => x.toLocaleString('en');

/** The source, with everything its log acknowledged loaded first (a server killed mid-load leaves some). */
async function openSource(config: Config): Promise<Store> {
  const store = await ENGINES.embedded.openStore(config);
  const log = await ENGINES.embedded.openLog(store, config, {});
  await log.close(); // loads what the log holds
  return store;
}

export function summary(r: MigrateResult): string {
  const rows = (Object.keys(r.source) as Array<keyof StoreCounts>).map(
    (k) => `  ${k.padEnd(12)} ${n(r.source[k]).padStart(14)} ${n(r.target[k]).padStart(14)}`,
  );
  const copied = Object.entries(r.copied)
    .map(([k, v]) => `${k} ${n(v)}`)
    .join(', ');
  return [
    `copied in this run: ${copied}`,
    `  ${'table'.padEnd(12)} ${'source'.padStart(14)} ${'target'.padStart(14)}`,
    ...rows,
    ...r.notCopied.map((w) => `not copied: ${w}`),
    r.mismatches.length === 0 ? 'verified: every count matches' : `MISMATCH: ${r.mismatches.join('; ')}`,
  ].join('\n');
}

/** Runs the migration; resolves with the process's exit code (1 when the counts differ). */
export async function runMigrate(args: MigrateArgs, out: NodeJS.WritableStream): Promise<number> {
  const source = await openSource(args.config);
  let target: Store | undefined;
  try {
    const { toDataDir, config } = args;
    target = toDataDir
      ? await ENGINES.embedded.openStore({ ...config, dataDir: toDataDir })
      : await ENGINES.clickhouse.openStore(config);
    const targetName = toDataDir
      ? `embedded:${resolve(toDataDir)}`
      : `clickhouse:${config.clickhouseUrl}/${config.clickhouseDatabase}`;
    const tty = isatty(2);
    let last = 0;
    let lastStage: Stage | null = null;
    const result = await migrate(source, target, {
      progressFile: args.progressFile,
      targetName,
      batchSize: args.batchSize,
      onProgress: (stage, done, total) => {
        const now = Date.now();
        const finished = done >= total;
        if (!tty && !finished && stage === lastStage && now - last < 5000) return;
        last = now;
        lastStage = stage;
        const pct = total > 0 ? Math.floor((done / total) * 100) : 100;
        const width = 30;
        const bar = '#'.repeat(Math.floor((pct / 100) * width)).padEnd(width, '.');
        const line = `${stage.padEnd(10)} [${bar}] ${n(done)} / ${n(total)} (${pct}%)`;
        process.stderr.write(tty ? `\r${line}${finished ? '\n' : ''}` : `${line}\n`);
      },
    });
    out.write(`${summary(result)}\n`);
    return result.mismatches.length === 0 ? 0 : 1;
  } finally {
    await target?.close();
    await source.close();
  }
}
