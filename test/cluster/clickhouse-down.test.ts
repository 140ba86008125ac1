// ClickHouse down for a while under load (issue 13), on real processes: an ingest node, a loader and an API node
// (`intake start --role ...`) on a real 3-node NATS cluster, and a clickhouse-server of this test's own that it
// SIGKILLs, SIGSTOPs and stops cleanly, each for several seconds, while a client keeps sending. What must hold:
// the ingest node keeps acknowledging (into JetStream); the API node answers reads during the outage with a coded
// 503 (not a 500, not a hang: within --clickhouse-timeout-ms); the loader retries, and once ClickHouse is back every
// acknowledged event is read back from the API node exactly once. The outage's figures are printed.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { natsMissing } from '../../scripts/cluster.ts';
import {
  basic,
  bearer,
  freePort,
  KEYS,
  type ServerProcess,
  startServerProcess,
  tempDir,
} from '../helpers.ts';
import { streamFor, testCluster } from '../nats-cluster.ts';
import { type ClickHouseServer, clickhouseMissing, startClickHouse } from './clickhouse.ts';

const root = tempDir('intake-clickhouse-down-');
const procs: ServerProcess[] = [];
let server: ClickHouseServer | null = null;
after(() => {
  for (const p of procs) p.proc.kill('SIGKILL');
  if (server) {
    try {
      process.kill(server.pid, 'SIGKILL'); // a SIGSTOPped one too
    } catch {}
  }
  rmSync(root, { recursive: true, force: true });
});

const missing = natsMissing() ?? clickhouseMissing();
/** How long each outage lasts. */
const OUTAGE_MS = 6_000;
/** --clickhouse-timeout-ms: how long a read's statement waits for ClickHouse's answer. */
const CLICKHOUSE_TIMEOUT_MS = 3_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat (clock ticks of 10 ms). */
function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

type Outage = 'SIGKILL' | 'SIGSTOP' | 'clean stop';

test('ClickHouse killed, stopped and shut down under load: ingest acknowledges, reads answer 503, every acknowledged event stored once after', {
  skip: missing !== null && process.env.CI !== 'true' ? (missing ?? undefined) : undefined,
  timeout: 600_000,
}, async () => {
  if (missing) throw new Error(missing); // under CI a missing engine fails
  const chDir = join(root, 'clickhouse');
  mkdirSync(chDir, { recursive: true });
  const ports = { http: await freePort(), tcp: await freePort() };
  server = await startClickHouse({ dir: chDir, ports });
  const env = {
    INTAKE_NATS_SERVERS: await testCluster(),
    INTAKE_NATS_STREAM: streamFor(root),
    INTAKE_STORE: 'clickhouse',
    INTAKE_CLICKHOUSE_URL: server.url,
    INTAKE_CLICKHOUSE_DATABASE: 'intake',
    INTAKE_GEOIP_DIR: 'off',
    INTAKE_LOAD_DELAY_MS: '200',
    INTAKE_CLICKHOUSE_TIMEOUT_MS: String(CLICKHOUSE_TIMEOUT_MS),
  };
  const start = async (name: string, role: string) => {
    const p = await startServerProcess(join(root, name), { ...env, INTAKE_ROLE: role });
    procs.push(p);
    return p;
  };
  const api = await start('api', 'api');
  const ingest = await start('ingest', 'ingest');
  const loader = await start('loader', 'loader');
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${ingest.url}/v1/batch`, {
      method: 'POST',
      headers: { authorization: basic(KEYS.write), 'content-type': 'application/json' },
      body: JSON.stringify({ batch: [] }),
    });
    if (res.status !== 401) break;
    await sleep(100);
  }

  // The client: batches of 50, one at a time, each retried until acknowledged (bounded).
  const acked = new Set<string>();
  const ingestStatuses = new Map<number | string, number>();
  let stop = false;
  const sender = (async () => {
    for (let b = 0; b < 3_000 && !stop; b++) {
      const batch = Array.from({ length: 50 }, (_, i) => ({
        type: 'track',
        event: 'Clicked',
        userId: `u${i % 9}`,
        messageId: `m${b}-${i}`,
      }));
      for (let attempt = 0; ; attempt++) {
        if (attempt >= 100) throw new Error(`batch ${b} was never acknowledged`);
        let status: number | string;
        try {
          const res = await fetch(`${ingest.url}/v1/batch`, {
            method: 'POST',
            headers: { authorization: basic(KEYS.write), 'content-type': 'application/json' },
            body: JSON.stringify({ batch }),
            signal: AbortSignal.timeout(60_000),
          });
          status = res.status;
          await res.arrayBuffer();
        } catch (err) {
          status = (err as Error).name;
        }
        ingestStatuses.set(status, (ingestStatuses.get(status) ?? 0) + 1);
        if (status === 200) {
          for (const e of batch) acked.add(e.messageId);
          break;
        }
        await sleep(100);
      }
      await sleep(20);
    }
  })();

  const read = async () => {
    const t0 = performance.now();
    try {
      const res = await fetch(`${api.url}/events?limit=1`, {
        headers: { authorization: bearer(KEYS.read) },
        signal: AbortSignal.timeout(60_000),
      });
      const body = (await res.json()) as { code?: string; total?: number };
      return { status: res.status, code: body.code, total: body.total, ms: performance.now() - t0 };
    } catch (err) {
      return { status: (err as Error).name, code: undefined, total: undefined, ms: performance.now() - t0 };
    }
  };
  const report: string[] = [];
  const readsOk = async (what: string) => {
    for (let i = 0; i < 600; i++) {
      const r = await read();
      if (r.status === 200) return r;
      await sleep(100);
    }
    throw new Error(`the API node did not answer reads again after ${what}`);
  };

  try {
    await outages();
  } finally {
    stop = true;
    await sender.catch(() => {}); // its own failure shows below
  }
  await sender;
  console.log(`ingest answers: ${JSON.stringify(Object.fromEntries(ingestStatuses))}`);
  for (const line of report) console.log(line);
  await checkAll();
  assert.equal(loader.proc.exitCode, null, 'the loader lived through it');

  async function outages() {
    await sleep(2_000);
    assert.equal((await readsOk('start')).status, 200);
    for (const outage of ['SIGKILL', 'SIGSTOP', 'clean stop'] as Outage[]) {
      await sleep(1_500);
      const s = server as ClickHouseServer;
      if (outage === 'SIGKILL') {
        process.kill(s.pid, 'SIGKILL');
        await s.exited;
      } else if (outage === 'SIGSTOP') process.kill(s.pid, 'SIGSTOP');
      else await s.stop();
      const down = performance.now();
      const ackedBefore = acked.size;
      const cpu = [loader, api, ingest].map((p) => cpuSeconds(p.proc.pid));
      const reads: Array<Awaited<ReturnType<typeof read>>> = [];
      while (performance.now() - down < OUTAGE_MS) {
        reads.push(await read());
        await sleep(250);
      }
      const ackedDuring = acked.size - ackedBefore;
      const used = [loader, api, ingest].map((p, i) =>
        (cpuSeconds(p.proc.pid) - (cpu[i] as number)).toFixed(2),
      );
      if (outage === 'SIGSTOP') process.kill(s.pid, 'SIGCONT');
      else server = await startClickHouse({ dir: chDir, ports });
      const back = performance.now();
      const backlog = acked.size;
      await readsOk(outage);
      const readable = performance.now() - back;
      // The loader's catch-up: until everything acknowledged by then is readable (bounded: 60 s).
      let loaded = 0;
      for (let i = 0; i < 300 && loaded < backlog; i++) {
        loaded = (await read()).total ?? 0;
        if (loaded < backlog) await sleep(200);
      }
      const caughtUp = performance.now() - back;
      const statuses = reads.map((r) => `${r.status}${r.code ? ` ${r.code}` : ''}`);
      const slowest = Math.max(...reads.map((r) => r.ms));
      report.push(
        `${outage}: ${ackedDuring} events acknowledged in ${OUTAGE_MS} ms down; reads ${JSON.stringify(
          Object.fromEntries(statuses.map((x) => [x, statuses.filter((y) => y === x).length])),
        )}, slowest ${slowest.toFixed(0)} ms; CPU-s while down: loader ${used[0]}, api ${used[1]}, ingest ${used[2]}; ` +
          `reads answered again ${readable.toFixed(0)} ms after it was back, the ${backlog} events acknowledged by ` +
          `then readable after ${caughtUp.toFixed(0)} ms`,
      );
      assert.ok(ackedDuring > 0, `${outage}: the ingest node kept acknowledging (${report.at(-1)})`);
      assert.ok(reads.length > 0);
      // Every read of the outage is a coded 503 (one issued as it began may still have been answered).
      for (const r of reads.slice(1))
        assert.deepEqual(
          [r.status, r.code],
          [503, 'INTAKE_ERR_STORE_UNAVAILABLE'],
          `${outage}: ${report.at(-1)}`,
        );
      assert.ok(
        reads[0]?.status === 200 || reads[0]?.status === 503,
        `${outage}: the first read of the outage: ${reads[0]?.status}`,
      );
    }
    await sleep(1_500);
  }

  // The loader catches up: the API node ends up with every acknowledged event, each once.
  async function checkAll() {
    const caughtUp = performance.now();
    let total = 0;
    for (let i = 0; i < 600 && total < acked.size; i++) {
      total = (await read()).total ?? 0;
      if (total < acked.size) await sleep(200);
    }
    console.log(
      `${acked.size} acknowledged; all readable ${(performance.now() - caughtUp).toFixed(0)} ms after the load stopped`,
    );
    assert.equal(total, acked.size, `stored ${total} of ${acked.size} acknowledged`);
    const ids = new Set<string>();
    type Page = { results: Array<{ messageId: string }>; next: string | null };
    for (let next: string | null = null, pages = 0; pages < 500; pages++) {
      const url: string = `${api.url}/events?limit=1000&orderByField=receivedAt&orderByDirection=ASC${next ? `&after=${next}` : ''}`;
      const page = (await (
        await fetch(url, { headers: { authorization: bearer(KEYS.read) } })
      ).json()) as Page;
      for (const e of page.results) {
        assert.ok(!ids.has(e.messageId), `${e.messageId} twice`);
        ids.add(e.messageId);
      }
      next = page.next;
      if (!next) break;
    }
    assert.equal(ids.size, acked.size);
    assert.deepEqual([...ids].sort(), [...acked].sort(), 'exactly the acknowledged events');
  }
});
