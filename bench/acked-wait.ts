// What read-your-writes costs a read on an API node apart from the loaders (src/ingest/nats/acked-wait.ts), on a
// local 3-node NATS cluster (scripts/cluster.ts), R3, 4 partitions, the stream and consumers as the log makes
// them. Three cases, each bounded, their rounds alternated:
// - idle: the stream holds nothing unacknowledged (the usual state between loads); reads one after another:
//   ms per read, JetStream requests per read, CPU of this process and of the nats-servers per read;
// - together: `--together` reads at once (a busy API node): requests per read (they share them);
// - busy: a publisher puts a message on a random partition every 5 ms and an emulated loader acks each
//   partition's messages `--hold` ms after it got them (its load delay); a read every 20 ms. Reports how long
//   reads waited and how much of it was polling: resolved minus the moment the read's last message was acked;
//   with the loader announcing its acks (as NatsLoader does) and without (polling alone), alternated.
//   npx tsx bench/acked-wait.ts [--reads 2000] [--together 20] [--hold 200] [--seconds 5] [--rounds 2]
import { readFileSync } from 'node:fs';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { startCluster } from '../scripts/cluster.ts';
import { AckedWait } from '../src/ingest/nats/acked-wait.ts';
import {
  ackedSubject,
  consumerName,
  ensureConsumer,
  ensureStreams,
  type StreamNames,
  subject,
} from '../src/ingest/nats/stream.ts';

const arg = (name: string, d: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : d;
};
const READS = arg('reads', 2000);
const TOGETHER = arg('together', 20);
const HOLD = arg('hold', 200);
const SECONDS = arg('seconds', 5);
const ROUNDS = arg('rounds', 2);

const TICK = 100; // USER_HZ
const cpuOf = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(f[11]) + Number(f[12])) / TICK;
};
const selfCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};
const f1 = (x: number) => x.toFixed(2);

const cluster = await startCluster();
try {
  const pids = cluster.nodes.map((n) => n.process?.pid as number);
  const natsCpu = () => pids.reduce((s, p) => s + cpuOf(p), 0);
  const nc = await connect({ servers: cluster.servers.split(',') });
  const jsm = await jetstreamManager(nc, { timeout: 10_000 });
  const js = jetstream(nc, { timeout: 10_000 });
  const names: StreamNames = { stream: 'BENCH', prefix: 'bench', partitions: 4, replicas: 3 };
  await ensureStreams(jsm, names);
  for (let p = 0; p < names.partitions; p++) await ensureConsumer(jsm, names, p);
  const wait = new AckedWait(jsm, names.stream, { readWaitMs: 30_000 });
  wait.listen(nc, ackedSubject(names));

  const idle = async () => {
    const r0 = wait.stats.requests;
    const c0 = selfCpu();
    const n0 = natsCpu();
    const ms: number[] = [];
    for (let i = 0; i < READS; i++) {
      const t = performance.now();
      await wait.settled();
      ms.push(performance.now() - t);
    }
    const req = wait.stats.requests - r0;
    console.log(
      `idle: ${READS} reads one after another: p50 ${f1(pct(ms, 50))} ms, p99 ${f1(pct(ms, 99))} ms; ` +
        `${f1(req / READS)} requests/read; CPU per read: this process ${f1(((selfCpu() - c0) / READS) * 1e6)} µs, ` +
        `nats-servers ${f1(((natsCpu() - n0) / READS) * 1e6)} µs`,
    );
  };

  const together = async () => {
    const r0 = wait.stats.requests;
    const ms: number[] = [];
    const rounds = Math.ceil(READS / TOGETHER);
    for (let i = 0; i < rounds; i++) {
      await Promise.all(
        Array.from({ length: TOGETHER }, async () => {
          const t = performance.now();
          await wait.settled();
          ms.push(performance.now() - t);
        }),
      );
    }
    const req = wait.stats.requests - r0;
    console.log(
      `together: ${rounds} x ${TOGETHER} reads at once: p50 ${f1(pct(ms, 50))} ms, p99 ${f1(pct(ms, 99))} ms; ` +
        `${f1(req / ms.length)} requests/read`,
    );
  };

  const busy = async (announce: boolean) => {
    // Per partition, the messages fetched and not yet acked, and the time each seq was acked.
    const ackedAt = new Map<number, number>();
    let published = 0;
    const until = Date.now() + SECONDS * 1000;
    const publisher = (async () => {
      while (Date.now() < until) {
        const p = Math.floor(Math.random() * names.partitions);
        await js.publish(subject(names, p), 'x');
        published++;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    // The emulated loader: each partition's messages acked together HOLD ms after the first of them arrived.
    const subs = await Promise.all(
      Array.from({ length: names.partitions }, async (_, p) => {
        const c = await js.consumers.get(names.stream, consumerName(names, p));
        const msgs = await c.consume({ max_messages: 1000 });
        let held: Array<{ seq: number; ackAck(): Promise<boolean> }> = [];
        const done = (async () => {
          for await (const m of msgs) {
            if (held.length === 0)
              setTimeout(async () => {
                const take = held;
                held = [];
                await Promise.all(take.map((x) => x.ackAck()));
                const now = performance.now();
                for (const x of take) ackedAt.set(x.seq, now);
                if (announce) nc.publish(ackedSubject(names));
              }, HOLD);
            held.push(m);
          }
        })();
        return { msgs, done };
      }),
    );
    const r0 = wait.stats.requests;
    const c0 = selfCpu();
    const n0 = natsCpu();
    const waited: number[] = [];
    const polling: number[] = [];
    let reads = 0;
    while (Date.now() < until) {
      const info = await jsm.streams.info(names.stream); // what the read will wait for (at least)
      const target = info.state.last_seq;
      const t = performance.now();
      await wait.settled();
      const done = performance.now();
      reads++;
      waited.push(done - t);
      let last = 0;
      for (let s = info.state.first_seq; s <= target; s++) last = Math.max(last, ackedAt.get(s) ?? 0);
      if (last > t) polling.push(done - last);
      await new Promise((r) => setTimeout(r, 20));
    }
    const req = wait.stats.requests - r0;
    await publisher;
    await new Promise((r) => setTimeout(r, HOLD + 100));
    for (const s of subs) s.msgs.stop();
    await Promise.all(subs.map((s) => s.done));
    console.log(
      `busy, ${announce ? 'acks announced' : 'polling alone'} (hold ${HOLD} ms, ${published} messages in ${SECONDS} s): ${reads} reads waited p50 ${f1(pct(waited, 50))} ms, ` +
        `p99 ${f1(pct(waited, 99))} ms; after the last ack p50 ${f1(pct(polling, 50))} ms, p99 ${f1(pct(polling, 99))} ms ` +
        `(${polling.length} reads); ${f1(req / reads)} requests/read; CPU this process ${f1(selfCpu() - c0)} s ` +
        `(publisher and loader included), nats-servers ${f1(natsCpu() - n0)} s`,
    );
  };

  for (let round = 0; round < ROUNDS; round++) {
    console.log(`-- round ${round + 1}`);
    await idle();
    await together();
    await busy(round % 2 === 0);
    await busy(round % 2 !== 0);
  }
  wait.close();
  await nc.close();
} finally {
  await cluster.stop();
}
