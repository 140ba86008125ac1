// A local cluster for cluster mode's tests and for trying it out: three nats-server processes with JetStream,
// routed to each other, on free loopback ports, each with its own store directory (Debian's `nats-server`
// package), and a hook for one clickhouse-server (the ClickHouse store's own helper plugs in there).
//   npx tsx scripts/cluster.ts [--dir DIR] [--nodes 3] [--no-clickhouse]
// starts it and prints the environment that points Intake at it (export INTAKE_NATS_SERVERS=..., INTAKE_STORE,
// INTAKE_CLICKHOUSE_URL); Ctrl-C stops it.
// Tests import startCluster() and stop it when they end. Nothing listens beyond 127.0.0.1.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';

export const NATS_SERVER = process.env.INTAKE_NATS_SERVER_BIN ?? 'nats-server';

/** Null when nats-server can run here, else why not. */
export function natsMissing(): string | null {
  const r = spawnSync(NATS_SERVER, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return `${NATS_SERVER} is not installed (apt-get install nats-server)`;
  return null;
}

/** A port free on 127.0.0.1 now (the server binds it right after; a race is unlikely and fails loudly). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export interface NatsNode {
  name: string;
  /** Client URL, nats://127.0.0.1:port. */
  url: string;
  clientPort: number;
  routePort: number;
  storeDir: string;
  configFile: string;
  process: ChildProcess | null;
}

/** Something else the cluster runs (clickhouse-server): started after NATS, stopped before it. */
export interface Service {
  /** Environment variables that point Intake at it (INTAKE_CLICKHOUSE_URL=...). */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** Where the nodes keep their data; default a new temporary directory, removed by stop(). */
  dir?: string;
  /** NATS nodes. Default 3 (R3 needs 3). */
  nodes?: number;
  /** The ClickHouse hook: starts a clickhouse-server in `dir` (the ClickHouse store's test helper). */
  clickhouse?: (dir: string) => Promise<Service>;
}

export interface Cluster {
  dir: string;
  nodes: NatsNode[];
  /** Every node's client URL, comma-separated: what --nats-servers takes. */
  servers: string;
  clickhouse: Service | null;
  /** SIGKILLs one node (a crash). */
  kill(node: NatsNode): Promise<void>;
  /** Starts a stopped node again on its ports and directory; waits for ready() unless `wait` is false. */
  restart(node: NatsNode, wait?: boolean): Promise<void>;
  /** Resolves once JetStream answers with a meta leader and every node is up. */
  ready(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

function nodeConfig(node: NatsNode, others: NatsNode[]): string {
  return `server_name: ${node.name}
listen: 127.0.0.1:${node.clientPort}
jetstream {
  store_dir: "${node.storeDir}"
  max_memory_store: 64MB
  max_file_store: 2GB
}
log_file: "${node.storeDir}.log"
cluster {
  name: intake
  listen: 127.0.0.1:${node.routePort}
  routes: [${others.map((o) => `nats-route://127.0.0.1:${o.routePort}`).join(', ')}]
}
`;
}

function launch(node: NatsNode): void {
  // Its log goes to <storeDir>.log (log_file): a failed start is read there.
  const child = spawn(NATS_SERVER, ['-c', node.configFile], { stdio: 'ignore' });
  child.on('exit', () => {
    if (node.process === child) node.process = null;
  });
  // A test process exits when its tests are done; its exit handler kills the nodes (test/nats-cluster.ts).
  child.unref();
  node.process = child;
}

function stopProcess(p: ChildProcess | null, signal: NodeJS.Signals): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  p.ref(); // launch() unref'ed it: waiting for its exit must keep this process alive
  return new Promise((resolve) => {
    p.once('exit', () => resolve());
    p.kill(signal);
  });
}

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const missing = natsMissing();
  if (missing) throw new Error(missing);
  const own = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'intake-cluster-'));
  const nodes: NatsNode[] = [];
  for (let i = 1; i <= (opts.nodes ?? 3); i++) {
    const name = `n${i}`;
    const clientPort = await freePort();
    const routePort = await freePort();
    const storeDir = join(dir, name);
    mkdirSync(storeDir, { recursive: true });
    nodes.push({
      name,
      url: `nats://127.0.0.1:${clientPort}`,
      clientPort,
      routePort,
      storeDir,
      configFile: join(dir, `${name}.conf`),
      process: null,
    });
  }
  for (const n of nodes) {
    writeFileSync(
      n.configFile,
      nodeConfig(
        n,
        nodes.filter((o) => o !== n),
      ),
    );
    launch(n);
  }
  let clickhouse: Service | null = null;
  const cluster: Cluster = {
    dir,
    nodes,
    servers: nodes.map((n) => n.url).join(','),
    get clickhouse() {
      return clickhouse;
    },
    kill: (node) => stopProcess(node.process, 'SIGKILL'),
    async restart(node, wait = true) {
      if (node.process) return;
      launch(node);
      if (wait) await cluster.ready();
    },
    async ready(timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      let last: unknown = null;
      while (Date.now() < until) {
        try {
          const live = nodes.filter((n) => n.process !== null);
          for (const n of live) {
            const nc = await connect({ servers: n.url, reconnect: false, timeout: 1000 });
            try {
              // $JS.API.INFO answers once this node sees a JetStream meta leader.
              const m = await nc.request('$JS.API.INFO', '', { timeout: 1000 });
              const info = m.json<{ error?: { description: string } }>();
              if (info.error) throw new Error(info.error.description);
            } finally {
              await nc.close();
            }
          }
          return;
        } catch (err) {
          last = err;
          await wait(100);
        }
      }
      throw new Error(`the NATS cluster in ${dir} is not ready after ${timeoutMs} ms: ${String(last)}`);
    },
    async stop() {
      await clickhouse?.stop();
      await Promise.all(nodes.map((n) => stopProcess(n.process, 'SIGTERM')));
      if (own) rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await cluster.ready();
    if (opts.clickhouse) clickhouse = await opts.clickhouse(join(dir, 'clickhouse'));
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

async function main(argv: string[]): Promise<void> {
  const arg = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const dir = arg('dir');
  // One clickhouse-server beside the NATS nodes (Debian's package), unless --no-clickhouse.
  const { clickhouseMissing, startClickHouse } = await import('../test/cluster/clickhouse.ts');
  const withClickHouse = !argv.includes('--no-clickhouse');
  if (withClickHouse && clickhouseMissing()) throw new Error(`${clickhouseMissing()} (or --no-clickhouse)`);
  const cluster = await startCluster({
    dir,
    nodes: Number(arg('nodes') ?? 3),
    ...(withClickHouse
      ? {
          clickhouse: async (d: string) => {
            const s = await startClickHouse({ dir: d });
            return {
              env: { INTAKE_STORE: 'clickhouse', INTAKE_CLICKHOUSE_URL: s.url },
              stop: () => s.stop(),
            };
          },
        }
      : {}),
  });
  const env = { INTAKE_NATS_SERVERS: cluster.servers, ...cluster.clickhouse?.env };
  process.stdout.write(
    `Cluster up: ${cluster.nodes.length} NATS nodes${cluster.clickhouse ? ' and one clickhouse-server' : ''}, data in ${cluster.dir}.\n` +
      `${Object.entries(env)
        .map(([k, v]) => `export ${k}=${v}`)
        .join('\n')}\n` +
      'Ctrl-C stops it.\n',
  );
  const stop = () => {
    cluster.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  setInterval(() => {}, 1 << 30); // the nodes are unref'ed: keep this process alive until a signal
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main(process.argv.slice(2));
