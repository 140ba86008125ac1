// The ClickHouse store's loader and reads, on a real clickhouse-server started here (test/cluster/clickhouse.ts):
// batches of generated events loaded through store.sink.load (the portable entries() path), with wall time and
// the CPU of this process and of the server; then a page of 100 by timestamp and a count, read with FINAL (what
// the store does) and without, alternated. Bounded: --batches x --size events, then it stops the server.
//   npx tsx bench/clickhouse-load.ts [--batches 20] [--size 5000] [--users 2000]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { CanonicalEvent } from '../src/core/event.ts';
import { ClickHouse, ClickHouseStore } from '../src/store/clickhouse/index.ts';
import { startClickHouse } from '../test/cluster/clickhouse.ts';
import { logBatch } from '../test/fixtures.ts';

const { values } = parseArgs({
  options: { batches: { type: 'string' }, size: { type: 'string' }, users: { type: 'string' } },
});
const BATCHES = Number(values.batches ?? 20);
const SIZE = Number(values.size ?? 5000);
const USERS = Number(values.users ?? 2000);

/** utime + stime of a process, in seconds (/proc/<pid>/stat fields 14 and 15, in clock ticks of 1/100 s). */
function procCpu(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(f[11]) + Number(f[12])) / 100;
}
const selfCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

const T0 = Date.UTC(2026, 0, 1);
let n = 0;
function makeEvent(): CanonicalEvent {
  const i = n++;
  const user = `u${i % USERS}`;
  const identify = i % 20 === 0;
  const t = new Date(T0 + i * 1000);
  return {
    id: `01900000-0000-7000-8000-${i.toString(16).padStart(12, '0')}`,
    workspaceId: 'bench',
    messageId: `m-${i}`,
    type: identify ? 'identify' : 'track',
    event: identify ? null : `Event ${i % 25}`,
    name: null,
    category: null,
    userId: user,
    anonymousId: `a${i % USERS}`,
    groupId: null,
    previousId: null,
    instanceId: null,
    timestamp: t,
    originalTimestamp: t,
    sentAt: t,
    receivedAt: t,
    properties: identify ? {} : { plan: i % 3 === 0 ? 'pro' : 'free', total: i % 100, path: `/p/${i % 50}` },
    traits: identify ? { email: `${user}@x.io`, n: i } : {},
    context: { ip: '10.0.0.1', library: { name: 'bench', version: '1' }, userAgent: 'Mozilla/5.0 bench' },
    integrations: {},
    source: 'segment',
  };
}

const server = await startClickHouse();
try {
  const store = await ClickHouseStore.open({ url: server.url, database: 'bench' });
  const ch = new ClickHouse({ url: server.url, database: 'bench' });
  const wall0 = performance.now();
  const cpu0 = selfCpu();
  const srv0 = procCpu(server.pid);
  for (let b = 1; b <= BATCHES; b++) {
    const events = Array.from({ length: SIZE }, makeEvent);
    await store.sink.load(logBatch(b, events));
  }
  const wall = (performance.now() - wall0) / 1000;
  const cpu = selfCpu() - cpu0;
  const srv = procCpu(server.pid) - srv0;
  const total = BATCHES * SIZE;
  console.log(
    `load: ${total} events in ${BATCHES} batches of ${SIZE}: ${wall.toFixed(2)} s wall, ` +
      `${Math.round(total / wall)} events/s; CPU node ${cpu.toFixed(2)} s, clickhouse-server ${srv.toFixed(2)} s ` +
      `(${((cpu + srv) / (total / 1e6)).toFixed(1)} CPU-s per million events)`,
  );
  const time = async (label: string, sql: string) => {
    const t = performance.now();
    const s0 = procCpu(server.pid);
    await ch.rows(sql);
    return { label, ms: performance.now() - t, srv: procCpu(server.pid) - s0 };
  };
  const cp = '(SELECT max(seq) FROM ingest_log)';
  const page = (final: string) =>
    `SELECT * FROM (SELECT * FROM events ${final} WHERE seq <= ${cp}) WHERE workspace_id = 'bench'
     ORDER BY isNull(timestamp_ms), timestamp_ms DESC, id DESC LIMIT 0, 101`;
  const count = (final: string) =>
    `SELECT count() FROM (SELECT * FROM events ${final} WHERE seq <= ${cp}) WHERE workspace_id = 'bench' AND event = 'Event 3'`;
  const runs: Record<string, number[]> = {};
  for (let r = 0; r < 5; r++) {
    for (const [label, sql] of [
      ['page FINAL', page('FINAL')],
      ['page plain', page('')],
      ['count FINAL', count('FINAL')],
      ['count plain', count('')],
    ] as const) {
      const x = await time(label, sql);
      const list = runs[label] ?? [];
      list.push(x.ms);
      runs[label] = list;
    }
  }
  for (const [label, ms] of Object.entries(runs)) {
    const sorted = [...ms].sort((a, b) => a - b);
    console.log(
      `${label}: median ${sorted[2]?.toFixed(1)} ms (min ${sorted[0]?.toFixed(1)}, max ${sorted[4]?.toFixed(1)})`,
    );
  }
  await store.close();
} finally {
  await server.stop();
}
