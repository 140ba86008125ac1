// Micro-benchmark of the enrich step's cost per event: the same 100k analytics.js-like events through
// validate + normalize, then validate + normalize + enrich on the real geo database.
// Run: npx tsx bench/enrich-micro.ts [case...]   (per-event CPU time of validate + normalize + enrich; a case
// argument is a word of the case labels below, e.g. `load`, to run only the cases that contain it)

import type { RequestContext } from '../src/core/event.ts';
import { Enricher, type EnrichPlan, openGeoReader } from '../src/pipeline/enrich/index.ts';
import { normalize } from '../src/pipeline/normalize.ts';
import { validateItem } from '../src/pipeline/validate.ts';
import { bodyPool, fillBody } from './events.ts';

const EVENTS = 100_000;

// Deterministic pseudo-random numbers, so every run measures the same events.
let seed = 42;
const rand = () => {
  // Math.imul keeps the product exact (mod 2^32): `seed * 1103515245` passes 2^53 and rounds, which made the
  // generator fall into a short cycle (3,925 distinct addresses in 100,000).
  seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
  return seed / 2 ** 31;
};
const publicIp = () => {
  for (;;) {
    const a = 1 + Math.floor(rand() * 222);
    if (a === 10 || a === 127 || a === 100 || a === 172 || a === 192 || a === 169) continue;
    return `${a}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}.${1 + Math.floor(rand() * 254)}`;
  }
};
const ua = (i: number) =>
  i % 3 === 0
    ? `Mozilla/5.0 (iPhone; CPU iPhone OS 17_${i % 7} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.${i % 7} Mobile/15E148 Safari/604.1`
    : `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${100 + (i % 60)}.0.${i % 5000}.0 Safari/537.36`;

interface Request {
  ctx: RequestContext;
  items: unknown[];
}

/** `clients`: how many different clients (IP and user agent) send the events, `perRequest` at a time. */
function makeRequests(clients: number, perRequest: number): Request[] {
  const ips = Array.from({ length: clients }, publicIp);
  const out: Request[] = [];
  for (let r = 0; r < EVENTS / perRequest; r++) {
    const client = r % clients;
    const items = [];
    for (let i = 0; i < perRequest; i++) {
      items.push({
        type: 'track',
        event: 'Product Viewed',
        messageId: `m-${r}-${i}`,
        anonymousId: `anon-${client}`,
        timestamp: '2026-11-23T10:00:00.000Z',
        sentAt: '2026-11-23T10:00:01.000Z',
        properties: { sku: `sku-${i}`, price: 19.99, currency: 'EUR' },
        context: {
          library: { name: 'analytics.js', version: 'next-1.84.3' },
          locale: 'en-US',
          page: { path: '/p', referrer: '', search: '', title: 'Product', url: 'https://shop.example/p' },
          userAgent: ua(client),
          timezone: 'Europe/Berlin',
        },
      });
    }
    out.push({
      ctx: { workspaceId: 'w', source: 'segment', ip: ips[client] as string, receivedAt: new Date() },
      items,
    });
  }
  return out;
}

/**
 * A backend forwarding its users' addresses (`analytics.track({context: {ip}})`, posthog-node's `$ip`):
 * every request comes from the server's private address, 20 events each, no user agent, and each event's
 * context.ip is one of `addresses` public addresses, in turn (so with `addresses` >= EVENTS, every event
 * brings an address never seen before).
 */
function serverRequests(addresses: number): Request[] {
  const ips = Array.from({ length: Math.min(addresses, EVENTS) }, publicIp);
  const out: Request[] = [];
  for (let r = 0; r < EVENTS / 20; r++) {
    const items = [];
    for (let i = 0; i < 20; i++) {
      const n = r * 20 + i;
      items.push({
        type: 'track',
        event: 'Order Completed',
        messageId: `m-${n}`,
        userId: `user-${n % addresses}`,
        timestamp: '2026-11-23T10:00:00.000Z',
        properties: { total: 42, currency: 'EUR' },
        context: { library: { name: '@segment/analytics-node', version: '3.1.0' }, ip: ips[n % ips.length] },
      });
    }
    out.push({ ctx: { workspaceId: 'w', source: 'segment', ip: '10.0.0.2', receivedAt: new Date() }, items });
  }
  return out;
}

/**
 * The events `npm run bench` sends (bench/events.ts): batches of 20 Segment track events, half server-side
 * with a private 10.x context.ip, half analytics.js with one of 3 user agents; a batch-level sentAt.
 */
function loadRequests(): Request[] {
  const pool = bodyPool(64, 20, false);
  const out: Request[] = [];
  for (let k = 0; k < EVENTS / 20; k++) {
    const body = JSON.parse(fillBody(pool[k % pool.length] as (typeof pool)[number], 'run', k, 0)) as {
      batch: unknown[];
      sentAt: string;
    };
    out.push({
      ctx: {
        workspaceId: 'w',
        source: 'segment',
        ip: '127.0.0.1',
        receivedAt: new Date(),
        sentAt: body.sentAt,
      },
      items: body.batch,
    });
  }
  return out;
}

// CPU time, not wall time: on a machine shared with other work, time spent descheduled is not the step's.
const cpuMicros = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

function run(requests: Request[], enricher: Enricher | null, plan: EnrichPlan): number {
  const t0 = cpuMicros();
  let n = 0;
  for (const { ctx, items } of requests) {
    for (const item of items) {
      const v = validateItem(item);
      if (!v.ok) throw new Error(v.reason);
      const r = normalize(v.value, ctx, 32 * 1024);
      if (!r.ok) throw new Error(r.reason);
      const rec = enricher ? enricher.enrich(r.value, plan) : r.value;
      n += rec.json.context.length;
    }
  }
  if (n === 0) throw new Error('nothing serialized');
  return (cpuMicros() - t0) / EVENTS;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const fmt = (us: number) => `${us.toFixed(2)} µs/event`;

const geo = await openGeoReader();
const DEFAULT: EnrichPlan = { geo: true, anonymizeIp: false };
const ANON: EnrichPlan = { geo: true, anonymizeIp: true };

const only = process.argv.slice(2);
for (const [label, make] of [
  ['200 clients, 20 events per request (caches warm)', () => makeRequests(200, 20)],
  [
    '5000 clients, 20 events per request (more user agents than the UA cache holds)',
    () => makeRequests(5000, 20),
  ],
  ['every event from a new client (every lookup a miss)', () => makeRequests(EVENTS, 1)],
  ['server-side SDK forwarding context.ip, 2000 users', () => serverRequests(2000)],
  ['server-side SDK forwarding context.ip, a new address per event', () => serverRequests(EVENTS)],
  ['load benchmark events (bench/events.ts: private IPs, 3 user agents)', loadRequests],
] as const) {
  if (only.length > 0 && !only.some((w) => label.includes(w))) continue;
  const requests = make();
  run(requests, null, DEFAULT);
  run(requests, new Enricher(geo), DEFAULT);
  const base: number[] = [];
  const enriched: number[] = [];
  const anonymized: number[] = [];
  for (let i = 0; i < 5; i++) {
    base.push(run(requests, null, DEFAULT));
    // A fresh enricher per pass: its caches fill from cold, as after a restart.
    enriched.push(run(requests, new Enricher(geo), DEFAULT));
    anonymized.push(run(requests, new Enricher(geo), ANON));
  }
  const b = median(base);
  console.log(`${label}; ${EVENTS} events, median of 5 passes:`);
  console.log(`  validate+normalize:                 ${fmt(b)}`);
  for (const [name, xs] of [
    ['+ enrich (geo + user agent)', enriched],
    ['+ enrich with IP anonymization', anonymized],
  ] as const) {
    const m = median(xs);
    console.log(`  ${name.padEnd(35)} ${fmt(m)}  (enrich: ${fmt(m - b)})`);
  }
}
