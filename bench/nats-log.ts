// The NATS JetStream log's ingest and load rates on a local 3-node cluster (scripts/cluster.ts), R3, 4
// partitions, DuckDB underneath: submits of `--batch` events (one publish per partition per request) against
// single-event submits (one publish per event), alternated in the same run, then the loader's drain of the
// stream into DuckDB. CPU-seconds of this process (ingest + loader) and of the three nats-server processes are
// reported next to wall time. Bounded: a fixed number of events per round, then it stops the cluster.
//   npx tsx bench/nats-log.ts [--events 20000] [--batch 100] [--rounds 2] [--clients 8]
import { readFileSync, rmSync } from 'node:fs';
import { startCluster } from '../scripts/cluster.ts';
import { loadConfig } from '../src/core/config.ts';
import { dedupeKey } from '../src/core/dedupe.ts';
import type { CanonicalEvent, EventRecord } from '../src/core/event.ts';
import { ENGINES } from '../src/runtime/engines.ts';
import { tempDir } from '../test/helpers.ts';

const arg = (name: string, d: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : d;
};
const EVENTS = arg('events', 20_000);
const BATCH = arg('batch', 100);
const ROUNDS = arg('rounds', 2);
const CLIENTS = arg('clients', 8);

const TICK = 100; // USER_HZ
function cpuOf(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(f[11]) + Number(f[12])) / TICK;
}
const selfCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

function record(ws: string, id: string): EventRecord {
  const now = new Date();
  const e: CanonicalEvent = {
    id: `0190${dedupeKey(ws, id).slice(0, 28)}`,
    workspaceId: ws,
    messageId: id,
    type: 'track',
    event: 'Order Completed',
    name: null,
    category: null,
    userId: `user-${id.length % 97}`,
    anonymousId: null,
    groupId: null,
    previousId: null,
    instanceId: null,
    timestamp: now,
    originalTimestamp: now,
    sentAt: now,
    receivedAt: now,
    properties: { total: 42, currency: 'EUR', items: [{ sku: 'a-1', qty: 2 }] },
    traits: {},
    context: { ip: '127.0.0.1', library: { name: 'bench', version: '1' } },
    integrations: {},
    source: 'segment',
  };
  return {
    event: e,
    json: {
      properties: JSON.stringify(e.properties),
      traits: '{}',
      context: JSON.stringify(e.context),
      integrations: '{}',
    },
  } as EventRecord;
}

const cluster = await startCluster();
const dir = tempDir('intake-nats-bench-');
const d = loadConfig([], {});
const config = {
  ...d,
  dataDir: dir,
  natsServers: cluster.servers.split(','),
  loadDelayMs: 60_000, // nothing loads while the submits are timed: settled() below times the loads
  queueLimit: 100_000_000,
};
const store = await ENGINES.nats.openStore(config);
let loads = 0;
let loadMs = 0;
const log = await ENGINES.nats.openLog(store, config, {
  onLoaded: (_b, ms) => {
    loads++;
    loadMs += ms;
  },
});
const natsPids = cluster.nodes.map((n) => n.process?.pid as number);

async function round(label: string, batch: number, r: number): Promise<void> {
  const requests = Math.ceil(EVENTS / batch);
  let next = 0;
  const c0 = selfCpu();
  const n0 = natsPids.reduce((s, p) => s + cpuOf(p), 0);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      for (let q = next++; q < requests; q = next++) {
        const events = Array.from({ length: batch }, (_, j) => record('w', `${label}-${r}-${q}-${j}`));
        await log.submit({ events, rejected: [] });
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  const cpu = selfCpu() - c0;
  const nats = natsPids.reduce((s, p) => s + cpuOf(p), 0) - n0;
  const n = requests * batch;
  console.log(
    `${label.padEnd(10)} round ${r}: ${n} events in ${wall.toFixed(2)} s = ${Math.round(n / wall)} events/s; ` +
      `cpu: intake ${cpu.toFixed(2)} s, nats ${nats.toFixed(2)} s (${((cpu + nats) / (n / 1e6)).toFixed(0)} cpu-s per million)`,
  );
  const l0 = selfCpu();
  const lt = performance.now();
  loads = 0;
  loadMs = 0;
  await log.settled();
  const lw = (performance.now() - lt) / 1000;
  console.log(
    `${''.padEnd(10)} load: ${n} events in ${lw.toFixed(2)} s = ${Math.round(n / lw)} events/s, cpu ${(selfCpu() - l0).toFixed(2)} s; ` +
      `${loads} loads, ${(loadMs / 1000).toFixed(2)} s inside them (manifest + store)`,
  );
}

try {
  for (let r = 1; r <= ROUNDS; r++) {
    await round(`batch${BATCH}`, BATCH, r);
    await round('per-event', 1, r);
  }
} finally {
  await log.close();
  await store.close();
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}
