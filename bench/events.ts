// Request bodies for the load generator: a pool of realistic Segment track events, pre-serialized with a hole
// where each messageId goes, so a unique body per request costs one string join.
import type { EventRecord, RequestContext } from '../src/core/event.ts';

/** A tiny deterministic PRNG (mulberry32), so runs are comparable. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const NAMES = [
  'Page Viewed',
  'Product Viewed',
  'Button Clicked',
  'Search Performed',
  'Product Added',
  'Checkout Started',
  'Order Completed',
  'Signed In',
];
const PATHS = ['/', '/pricing', '/products/shoes', '/products/shirts', '/cart', '/checkout', '/blog/launch'];
const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
];
const LOCALES = ['en-US', 'en-GB', 'de-DE', 'fr-FR', 'ja-JP'];

/**
 * One track event without its messageId, as the SDKs send it: half browser-side (analytics.js: page and user
 * agent in the context, about 700 bytes), half server-side (analytics-node: a small context, about 350 bytes).
 */
function trackEvent(r: () => number, now: number): Record<string, unknown> {
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const user = Math.floor(r() * 100_000);
  const path = pick(PATHS);
  const t = new Date(now - Math.floor(r() * 60_000)).toISOString();
  const properties = {
    path,
    product_id: `prod-${Math.floor(r() * 5000)}`,
    price: Math.round(r() * 20000) / 100,
    currency: 'USD',
    quantity: 1 + Math.floor(r() * 4),
    category: pick(['shoes', 'shirts', 'accessories', 'outdoor']),
  };
  if (r() < 0.5) {
    return {
      type: 'track',
      event: pick(NAMES),
      userId: `user-${user}`,
      timestamp: t,
      properties: { ...properties, plan: pick(['free', 'pro', 'enterprise']), order_id: `ord-${user}` },
      context: { library: { name: '@segment/analytics-node', version: '2.1.2' }, ip: `10.${user % 256}.0.1` },
    };
  }
  return {
    type: 'track',
    event: pick(NAMES),
    userId: `user-${user}`,
    anonymousId: `anon-${(user * 2654435761) >>> 0}`,
    timestamp: t,
    properties,
    context: {
      ip: `10.${user % 256}.${(user >> 8) % 256}.${1 + Math.floor(r() * 254)}`,
      library: { name: 'analytics.js', version: '5.2.1' },
      locale: pick(LOCALES),
      userAgent: pick(AGENTS),
      page: {
        path,
        referrer: 'https://www.google.com/',
        title: 'Acme Store',
        url: `https://shop.example.com${path}`,
      },
    },
  };
}

/** A body split around its messageIds: body = parts[0] + id0 + parts[1] + id1 + ... + parts[n]. */
export interface BodyTemplate {
  parts: string[];
}

const HOLE = '@@messageId@@';

/** `events` track events per body; `single` gives one event object (POST /v1/track), else {batch: [...]}. */
export function bodyPool(size: number, events: number, single: boolean, seed = 1): BodyTemplate[] {
  const r = rng(seed);
  const now = Date.now();
  const pool: BodyTemplate[] = [];
  for (let b = 0; b < size; b++) {
    const items = Array.from({ length: events }, () => ({ messageId: HOLE, ...trackEvent(r, now) }));
    const json = single ? JSON.stringify(items[0]) : JSON.stringify({ batch: items, sentAt: new Date(now) });
    pool.push({ parts: json.split(HOLE) });
  }
  return pool;
}

/**
 * The messageIds of request number `k`: events 0..n-d-1 get `${run}-${k}-${i}`; with `dups` = d > 0 the last d
 * repeat the first d ids of request k-1, so exactly those are duplicates once both requests are acknowledged.
 */
export function fillBody(t: BodyTemplate, run: string, k: number, dups: number): string {
  const n = t.parts.length - 1;
  let s = t.parts[0] as string;
  for (let i = 0; i < n; i++) {
    const id = i < n - dups ? `${run}-${k}-${i}` : `${run}-${k - 1}-${i - (n - dups)}`;
    s += id + (t.parts[i + 1] as string);
  }
  return s;
}

/**
 * Events a store must hold after requests with the given outcome: ok(k) is true for acknowledged requests
 * (counters from 0 to issued-1). Ids of request j's first d events are stored if j or j+1 was acknowledged.
 */
export function expectedStored(
  ok: (k: number) => boolean,
  issued: number,
  events: number,
  dups: number,
): number {
  let n = 0;
  for (let k = 0; k < issued; k++) if (ok(k)) n += events - 2 * dups;
  if (dups === 0) return n;
  for (let j = -1; j < issued; j++) if (ok(j) || ok(j + 1)) n += dups;
  return n;
}

/** The ingest path's per-item steps, as a build exports them (bench/pipeline-ab-micro.ts hands another build's). */
export interface PrepareSteps {
  validateItem: typeof import('../src/pipeline/validate.ts').validateItem;
  normalize: typeof import('../src/pipeline/normalize.ts').normalize;
  enrich(r: EventRecord): EventRecord;
}

/** A batch's items made into records as the ingest path makes them (validate, normalize, enrich); throws on a bad one. */
export function prepareRecords(items: unknown[], ctx: RequestContext, steps: PrepareSteps): EventRecord[] {
  const records: EventRecord[] = [];
  for (const item of items) {
    const v = steps.validateItem(item, ctx);
    if (!v.ok) throw new Error('invalid');
    const n = steps.normalize(v.value, ctx, 32_768);
    if (!n.ok) throw new Error('refused');
    records.push(steps.enrich(n.value));
  }
  return records;
}
