// Micro-benchmark of what limits and allow-lists cost a request: the bucket, the IP and origin checks alone,
// then the whole key path of an ingest request (the onRequest and preHandler hooks, requireScope, the events
// charge) with no key guarded, with a rate limit, and with a rate limit and both allow-lists.
// Run: npx tsx bench/limits-micro.ts   (ns per operation: the fastest of 7 runs, the one least disturbed by
// other processes on a shared machine, and the median)
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Access } from '../src/auth/access.ts';
import { KeyRing } from '../src/auth/keys.ts';
import { Limiter } from '../src/auth/limits.ts';
import { keyGuards, requireScope } from '../src/http/auth.ts';
import { DuckDBStore } from '../src/store/duckdb/index.ts';
import { GENEROUS_LIMIT } from './ingest.ts';

const RUNS = 7;

async function measure(label: string, n: number, op: (i: number) => unknown): Promise<number> {
  const times: number[] = [];
  let sink = 0;
  for (let r = 0; r < RUNS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const v = op(i);
      if (v instanceof Promise) await v;
      else if (v) sink++;
    }
    times.push(Number(process.hrtime.bigint() - t0) / n);
  }
  times.sort((a, b) => a - b);
  const [fastest = 0, median = 0] = [times[0], times[RUNS >> 1]];
  process.stdout.write(
    `${label.padEnd(58)} ${fastest.toFixed(0).padStart(6)} ns/op (median ${median.toFixed(0)})${sink < 0 ? '' : ''}\n`,
  );
  return fastest;
}

// ---- the parts alone ----
const limiter = new Limiter(() => performance.now());
await measure('bucket: take 1 token (requests/s)', 2_000_000, () =>
  limiter.take('k', 'requests', GENEROUS_LIMIT.requests, 1),
);
const access = Access.of({
  allowedOrigins: ['https://shop.example.com', '*.example.org', 'localhost:3000'],
  allowedIps: ['10.0.0.0/8', '192.168.0.0/16', '203.0.113.7', '2001:db8::/32'],
});
if (!access) throw new Error('no access');
await measure('IP list of 4, an IPv4 client matching the third', 2_000_000, () =>
  access.denial(undefined, '203.0.113.7'),
);
const ipOnly = Access.of({
  allowedOrigins: [],
  allowedIps: ['10.0.0.0/8', '192.168.0.0/16', '2001:db8::/32'],
});
await measure('IP list of 3, IPv6 client (the last rule)', 1_000_000, () =>
  ipOnly?.denial(undefined, '2001:db8:4:5::9'),
);
const originOnly = Access.of({
  allowedOrigins: ['https://shop.example.com', '*.example.org'],
  allowedIps: [],
});
await measure('origin list: exact origin', 2_000_000, () =>
  originOnly?.denial('https://shop.example.com', ''),
);
await measure('origin list: wildcard origin', 2_000_000, () =>
  originOnly?.denial('https://a.b.example.org', ''),
);

// ---- the whole key path of a request ----
const store = await DuckDBStore.open({ dataDir: ':memory:' });
const ring = new KeyRing(store);
await ring.load();
const ws = await ring.createWorkspace('bench');
const { secret, key } = await ring.createKey(ws.id, 'write');
const guards = keyGuards(ring, new Limiter(() => performance.now()));
const write = requireScope(ring, 'ingest');
const reply = {} as FastifyReply;
const authorization = `Basic ${Buffer.from(`${secret}:`).toString('base64')}`;
const noop = () => {};

/** One ingest request's key path, as fastify runs it: onRequest, (body), requireScope, preHandler, events. */
async function request(): Promise<void> {
  const req = {
    method: 'POST',
    headers: { authorization, origin: 'https://shop.example.com' },
    ip: '10.1.2.3',
    body: undefined,
  } as unknown as FastifyRequest;
  guards.onRequest(req, reply, noop);
  write(req, reply, noop);
  guards.preHandler(req, reply, noop);
  req.chargeEvents?.(100);
}

// The three set-ups take turns, round after round, so a change in the machine's load hits all of them alike.
type Setup = 'off' | 'limit' | 'lists';
const setups: Record<Setup, { label: string; apply(): Promise<unknown>; times: number[] }> = {
  off: {
    label: 'request key path, no key guarded (as before)',
    apply: async () => {
      await ring.updateSettings(ws.id, { rateLimit: null });
      await ring.updateKey(ws.id, key.id, { allowedOrigins: [], allowedIps: [] });
    },
    times: [],
  },
  limit: {
    label: 'request key path, rate limit (requests + 100 events)',
    apply: () => ring.updateSettings(ws.id, { rateLimit: GENEROUS_LIMIT }),
    times: [],
  },
  lists: {
    label: 'request key path, rate limit + origin and IP lists',
    apply: () =>
      ring.updateKey(ws.id, key.id, {
        allowedOrigins: ['https://shop.example.com'],
        allowedIps: ['10.0.0.0/8'],
      }),
    times: [],
  },
};
const PER_ROUND = 50_000;
for (let round = 0; round < 15; round++) {
  for (const setup of Object.values(setups)) {
    await setup.apply();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < PER_ROUND; i++) await request();
    setup.times.push(Number(process.hrtime.bigint() - t0) / PER_ROUND);
  }
}
process.stdout.write('\n');
const fastest: Partial<Record<Setup, number>> = {};
for (const [name, setup] of Object.entries(setups) as Array<[Setup, (typeof setups)[Setup]]>) {
  setup.times.sort((x, y) => x - y);
  const [min = 0, median = 0] = [setup.times[0], setup.times[setup.times.length >> 1]];
  fastest[name] = min;
  process.stdout.write(
    `${setup.label.padEnd(58)} ${min.toFixed(0).padStart(6)} ns/op (median ${median.toFixed(0)})\n`,
  );
}
const { off = 0, limit = 0, lists = 0 } = fastest;
process.stdout.write(
  `\nper request, fastest rounds: rate limit +${(limit - off).toFixed(0)} ns, rate limit and both lists +${(lists - off).toFixed(0)} ns\n`,
);
await store.close();
