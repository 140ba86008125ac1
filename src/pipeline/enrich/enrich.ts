// The enrich step, after normalize on every dialect's ingest path: location from the IP, browser / OS /
// device from the user agent, then IP anonymization. It adds only what the client did not send, never
// fails an event, and waits for no I/O: both lookups are cached, and a geo lookup the cache does not hold
// reads the database's pages it needs with pread, from the OS page cache once read (mmdb.ts).

import type { EventRecord, JsonObject, RequestContext } from '../../core/event.ts';
import type { WorkspaceSettings } from '../../core/model.ts';
import { copyObject, isObject } from '../validate.ts';
import type { GeoLocation, GeoReader } from './geo.ts';
import { anonymizeIp, MAX_IP_LENGTH } from './ip.ts';
import { Lru } from './lru.ts';
import { type Addition, addition, UserAgentCache } from './ua.ts';

/** What to do for the events of one request; decided once per request by enrichPlan. */
export interface EnrichPlan {
  /** Locate `context.ip` (whoever set it: the connection, or a server-side SDK forwarding its user's). */
  geo: boolean;
  anonymizeIp: boolean;
}

/**
 * The workspace's `geo: false` switches location off, whatever the client asks: it is the operator's
 * privacy decision and a write key is public. Otherwise a request may turn it off for its own events
 * (`RequestContext.enrichGeo` false: UserFlux `?locationEnrichment=false`).
 *
 * The address located is `context.ip` whatever its source: a backend calling `analytics.track({context:
 * {ip}})` (or posthog-node with `$ip`) forwards its user's address, which is the one worth locating; the
 * connection's would be the backend's own. A client that knows better sends `context.location`, which wins.
 */
export function enrichPlan(settings: WorkspaceSettings, ctx: RequestContext): EnrichPlan {
  return { geo: settings.geo && ctx.enrichGeo !== false, anonymizeIp: settings.anonymizeIp };
}

export interface EnricherOptions {
  /** Most distinct user agents whose parse is cached. Default 1000. */
  uaCacheSize?: number;
  /** Most distinct IP addresses whose location is cached. Default 10000. */
  geoCacheSize?: number;
}

const absent = (v: unknown): boolean => v === undefined || v === null;

/**
 * The context's JSON with its top-level `ip` member's value replaced (or the member dropped for null),
 * when that member is the first or the last one (a request IP normalize added is the last); else null and
 * the caller serializes it all. Only there is `"ip":` surely at the top level: the JSON starts with `{"ip":`,
 * or ends with `,"ip":"…"}` and a quote outside a string is never escaped.
 */
function replaceIp(json: string, old: unknown, ip: string | null): string | null {
  if (typeof old !== 'string') return null;
  const member = `"ip":${JSON.stringify(old)}`;
  const value = ip === null ? '' : `"ip":${JSON.stringify(ip)}`;
  if (json.charAt(0) === '{' && json.startsWith(member, 1)) {
    const next = json.charAt(member.length + 1);
    if (next === '}' && json.length === member.length + 2) return `{${value}}`;
    if (next === ',') return `{${value}${ip === null ? '' : ','}${json.slice(member.length + 2)}`;
  }
  if (json.endsWith(`,${member}}`)) {
    const head = json.slice(0, json.length - member.length - 2);
    return ip === null ? `${head}}` : `${head},${value}}`;
  }
  return null;
}

export class Enricher {
  private readonly ua: UserAgentCache;
  /** Located addresses only (see location()). */
  private readonly geoCache: Lru<string, Addition>;
  /** One Addition per location object the reader returns (it returns one per database record). */
  private readonly additions = new WeakMap<GeoLocation, Addition>();

  /** @param geo the opened geo database; null leaves `context.location` out. */
  constructor(
    private readonly geo: GeoReader | null,
    opts: EnricherOptions = {},
  ) {
    this.ua = new UserAgentCache(opts.uaCacheSize ?? 1000);
    this.geoCache = new Lru(opts.geoCacheSize ?? 10_000);
  }

  /**
   * `context.location` for an address, or null. Request addresses repeat; a backend forwarding its users'
   * addresses (context.ip, PostHog's $ip) may bring a new one with most events, so a miss is kept cheap.
   * `npx tsx bench/enrich-micro.ts server-side`, CPU per event: a new public address with every event
   * ~8 µs, mostly the database's tree walk (17 µs with a one-Map LRU, node:net's BlockList and a location
   * and its JSON made per lookup; records are now decoded and serialized once, through the reader's record
   * cache and `additions`); 2,000 addresses that repeat ~0.8 µs; a private or unparsable one ~0.2 µs.
   */
  private location(ip: unknown): Addition | null {
    // The cache is keyed by the raw value, which a client may set to anything up to the event limit; no
    // address is longer than MAX_IP_LENGTH, so longer values are neither looked up nor kept.
    if (!this.geo || typeof ip !== 'string' || ip.length > MAX_IP_LENGTH) return null;
    let loc = this.geoCache.get(ip);
    if (loc === undefined) {
      const found = this.geo.lookup(ip);
      // Addresses without a location are not cached: telling one costs about as much as a cache miss, and
      // a stream of them (a network's private addresses) would evict the located addresses that repeat.
      if (!found) return null;
      loc = this.additions.get(found);
      if (loc === undefined) {
        loc = addition('location', Object.freeze(found));
        this.additions.set(found, loc);
      }
      this.geoCache.set(ip, loc);
    }
    return loc;
  }

  /** The location of an address, through the cache. */
  locate(ip: unknown): GeoLocation | null {
    return (this.location(ip)?.value as GeoLocation | undefined) ?? null;
  }

  /**
   * Returns the record with its context enriched (the same record when nothing was added). What
   * enrichment adds (a few hundred bytes) is not counted against the per-event limit, which normalize
   * checked on what the client sent.
   */
  enrich(record: EventRecord, plan: EnrichPlan): EventRecord {
    const context = record.event.context;
    const adds: Addition[] = [];

    if (plan.geo && absent(context.location)) {
      const loc = this.location(context.ip);
      if (loc) adds.push(loc);
    }

    let device: JsonObject | null = null;
    const agent = context.userAgent;
    if (typeof agent === 'string' && agent !== '') {
      const ua = this.ua.get(agent);
      if (ua.browser && absent(context.browser)) adds.push(ua.browser);
      if (ua.os && absent(context.os)) adds.push(ua.os);
      if (ua.device) {
        const sent = context.device;
        if (absent(sent)) adds.push(ua.device);
        else if (isObject(sent) && absent(sent.type)) device = { ...sent, type: ua.info.deviceType };
      }
    }

    // After the lookup, which needs the whole address. An unparsable value cannot be anonymized: dropped.
    let ip: string | null | undefined;
    if (plan.anonymizeIp && !absent(context.ip)) {
      const masked = anonymizeIp(context.ip);
      if (masked !== context.ip) ip = masked;
    }

    if (adds.length === 0 && device === null && ip === undefined) return record;
    // A copy of the client's context, its address anonymized or dropped, with its JSON: normalize's, edited
    // in place when it can be. Additions are then spliced onto that JSON rather than serializing the whole
    // context again, unless a key is replaced (present but null) or the device object is merged.
    const out = copyObject(context);
    let baseJson = record.json.context;
    if (ip !== undefined) {
      if (ip === null) delete out.ip;
      else out.ip = ip;
      baseJson = replaceIp(baseJson, context.ip, ip) ?? JSON.stringify(out);
    }
    for (const a of adds) out[a.key] = a.value;
    if (device) out.device = device;

    // A key present with null (or undefined) is replaced, not appended: serialize it all again.
    let reserialize = device !== null;
    for (const a of adds) if (a.key in context) reserialize = true;
    let json: string;
    if (reserialize) json = JSON.stringify(out);
    else if (adds.length === 0) json = baseJson;
    else {
      let tail = '';
      for (const a of adds) tail += `,${a.json}`;
      json = baseJson === '{}' ? `{${tail.slice(1)}}` : `${baseJson.slice(0, -1)}${tail}}`;
    }
    return { event: { ...record.event, context: out }, json: { ...record.json, context: json } };
  }
}
