// The enrich step, after normalize on every dialect's ingest path: location from the IP, browser / OS /
// device from the user agent, then IP anonymization. It adds only what the client did not send, never
// fails an event, and does no I/O: the geo database is in memory and both lookups are cached.
import type { WorkspaceSettings } from '../../store/types.ts';
import type { EventRecord, JsonObject, RequestContext } from '../types.ts';
import { isObject } from '../validate.ts';
import type { GeoLocation, GeoReader } from './geo.ts';
import { anonymizeIp } from './ip.ts';
import { Lru } from './lru.ts';
import { UserAgentCache } from './ua.ts';

/** What to do for the events of one request; decided once per request by enrichPlan. */
export interface EnrichPlan {
  /** `request-ip`: only when context.ip came from the request; `any-ip`: also a client-set context.ip. */
  geo: 'off' | 'request-ip' | 'any-ip';
  anonymizeIp: boolean;
}

/**
 * The workspace's `geo: false` switches location off, whatever the client asks: it is the operator's
 * privacy decision and a write key is public. Otherwise `RequestContext.enrichGeo` true looks up the IP
 * even when the client set context.ip itself, false turns the lookup off, and absent looks up request IPs
 * only (a client-set context.ip is often a server's, or already the client's own guess).
 */
export function enrichPlan(settings: WorkspaceSettings, ctx: RequestContext): EnrichPlan {
  let geo: EnrichPlan['geo'] = 'request-ip';
  if (!settings.geo || ctx.enrichGeo === false) geo = 'off';
  else if (ctx.enrichGeo === true) geo = 'any-ip';
  return { geo, anonymizeIp: settings.anonymizeIp };
}

export interface EnricherOptions {
  /** Most distinct user agents whose parse is cached. Default 1000. */
  uaCacheSize?: number;
  /** Most distinct IP addresses whose location is cached. Default 10000. */
  geoCacheSize?: number;
}

const absent = (v: unknown): boolean => v === undefined || v === null;

export class Enricher {
  private readonly ua: UserAgentCache;
  private readonly geoCache: Lru<string, GeoLocation | false>;

  /** @param geo the opened geo database; null leaves `context.location` out. */
  constructor(
    private readonly geo: GeoReader | null,
    opts: EnricherOptions = {},
  ) {
    this.ua = new UserAgentCache(opts.uaCacheSize ?? 1000);
    this.geoCache = new Lru(opts.geoCacheSize ?? 10_000);
  }

  /** The location of an address (cached), or null. */
  locate(ip: unknown): GeoLocation | null {
    if (!this.geo || typeof ip !== 'string') return null;
    let loc = this.geoCache.get(ip);
    if (loc === undefined) {
      loc = this.geo.lookup(ip) ?? false;
      this.geoCache.set(ip, loc);
    }
    return loc || null;
  }

  /**
   * Returns the record with its context enriched (the same record when nothing was added). The JSON
   * column is serialized again only when the context changed. What enrichment adds (a few hundred bytes)
   * is not counted against the per-event limit, which normalize checked on what the client sent.
   */
  enrich(record: EventRecord, plan: EnrichPlan, ipFromRequest: boolean): EventRecord {
    const context = record.event.context;
    let out: JsonObject | null = null;
    const set = (key: string, value: unknown) => {
      out ??= { ...context };
      out[key] = value;
    };

    if (plan.geo !== 'off' && (ipFromRequest || plan.geo === 'any-ip') && absent(context.location)) {
      const loc = this.locate(context.ip);
      if (loc) set('location', loc);
    }

    const agent = context.userAgent;
    if (typeof agent === 'string' && agent !== '') {
      const info = this.ua.get(agent);
      if (info.browser && absent(context.browser)) set('browser', info.browser);
      if (info.os && absent(context.os)) set('os', info.os);
      if (info.deviceType) {
        const device = context.device;
        if (absent(device)) set('device', { type: info.deviceType });
        else if (isObject(device) && absent(device.type)) set('device', { ...device, type: info.deviceType });
      }
    }

    // After the lookup, which needs the whole address. An unparsable value cannot be anonymized: drop it.
    if (plan.anonymizeIp && !absent(context.ip)) {
      const masked = anonymizeIp(context.ip);
      if (masked !== context.ip) {
        if (masked === null) {
          out ??= { ...context };
          delete out.ip;
        } else set('ip', masked);
      }
    }

    if (!out) return record;
    return {
      event: { ...record.event, context: out },
      json: { ...record.json, context: JSON.stringify(out) },
    };
  }
}
