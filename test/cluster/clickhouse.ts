// A real clickhouse-server (Debian's package) on free loopback ports, with its data in a temporary directory and
// small memory settings, stopped with stop(). The store tests use it; the cluster script can start it too.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CLICKHOUSE_SERVER = process.env.INTAKE_CLICKHOUSE_SERVER ?? '/usr/sbin/clickhouse-server';

export interface ClickHouseServer {
  /** Base URL of its HTTP interface. */
  url: string;
  dir: string;
  pid: number;
  /** Resolves when the server process has exited (however it ended). */
  exited: Promise<void>;
  stop(): Promise<void>;
}

/** Null when clickhouse-server can be started here, else why not. */
export function clickhouseMissing(): string | null {
  return existsSync(CLICKHOUSE_SERVER)
    ? null
    : `${CLICKHOUSE_SERVER} not found (apt-get install clickhouse-server clickhouse-client)`;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function config(dir: string, httpPort: number, tcpPort: number): string {
  return `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>${dir}/log/server.log</log><errorlog>${dir}/log/error.log</errorlog></logger>
  <http_port>${httpPort}</http_port>
  <tcp_port>${tcpPort}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <format_schema_path>${dir}/format_schemas/</format_schema_path>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <max_concurrent_queries>64</max_concurrent_queries>
  <users_config>${dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mlock_executable>false</mlock_executable>
</yandex>
`;
}

const USERS = `<?xml version="1.0"?>
<yandex>
  <profiles>
    <default><max_memory_usage>1000000000</max_memory_usage><max_threads>2</max_threads></default>
  </profiles>
  <users>
    <default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`;

/**
 * Starts a server and waits until it answers /ping (up to 30 s). It does not keep the caller's event loop
 * alive, and dies with the caller: when the caller exits, and, whatever way the caller ends (SIGKILL
 * included), within a second by a watchdog shell that also removes a temporary directory.
 */
export async function startClickHouse(
  opts: {
    dir?: string;
    /** Ports to listen on (a restart on the same ones, for clients that know the URL); default free ones. */
    ports?: { http: number; tcp: number };
  } = {},
): Promise<ClickHouseServer> {
  const missing = clickhouseMissing();
  if (missing) throw new Error(missing);
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'intake-clickhouse-'));
  const owned = opts.dir === undefined;
  for (const d of ['log', 'data', 'tmp', 'user_files', 'format_schemas'])
    mkdirSync(join(dir, d), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    const httpPort = opts.ports?.http ?? (await freePort());
    const tcpPort = opts.ports?.tcp ?? (await freePort());
    writeFileSync(join(dir, 'config.xml'), config(dir, httpPort, tcpPort));
    writeFileSync(join(dir, 'users.xml'), USERS);
    const child: ChildProcess = spawn(CLICKHOUSE_SERVER, [`--config-file=${join(dir, 'config.xml')}`], {
      stdio: 'ignore',
    });
    child.unref();
    const pid = child.pid ?? 0;
    const kill = () => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    };
    process.once('exit', () => {
      kill();
      if (owned) rmSync(dir, { recursive: true, force: true });
    });
    spawn(
      'sh',
      [
        '-c',
        'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done; kill -9 "$2" 2>/dev/null; ' +
          '[ "$3" = 1 ] && sleep 1 && rm -rf "$4"',
        'watchdog',
        String(process.pid),
        String(pid),
        owned ? '1' : '0',
        dir,
      ],
      { stdio: 'ignore', detached: true },
    ).unref();
    let exited = false;
    const exitedP = new Promise<void>((resolve) =>
      child.once('exit', () => {
        exited = true;
        resolve();
      }),
    );
    const url = `http://127.0.0.1:${httpPort}`;
    const deadline = Date.now() + 30_000;
    while (!exited && Date.now() < deadline) {
      const ok = await fetch(`${url}/ping`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) {
        const stop = () =>
          new Promise<void>((resolve) => {
            if (exited) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
            setTimeout(kill, 10_000).unref();
          }).then(() => {
            if (owned) rmSync(dir, { recursive: true, force: true });
          });
        return { url, dir, pid, exited: exitedP, stop };
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    kill();
    // A port taken between choosing and binding: try other ports, twice.
    if (attempt >= 2 || Date.now() >= deadline) {
      const log = join(dir, 'log', 'error.log');
      const why = existsSync(log) ? readFileSync(log, 'utf8').slice(-2000) : 'no error log';
      throw new Error(`clickhouse-server did not start: ${why}`);
    }
  }
}
