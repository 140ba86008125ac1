// User-agent parsing (ua-parser-js v2) into Segment-shaped context fields, cached per user-agent string:
// a parse costs ~40 µs and most events of a site come from a few hundred distinct browsers.
import { UAParser } from 'ua-parser-js';
import { Lru } from './lru.ts';

/** What the enrich step may add to `context`; each part is left out when the user agent does not tell it. */
export interface UserAgentInfo {
  /** `context.browser`, e.g. {name: "Chrome", version: "124.0.0.0"}. */
  browser?: { name: string; version?: string };
  /** `context.os`, e.g. {name: "iOS", version: "17.4"}. */
  os?: { name: string; version?: string };
  /** `context.device.type`: mobile, tablet, desktop, smarttv, console, wearable, xr or embedded. */
  deviceType?: string;
}

// ua-parser-js leaves the device type of desktops undefined; these operating systems mean a desktop.
const DESKTOP_OS = new Set([
  'Windows',
  'macOS',
  'Mac OS',
  'Linux',
  'Ubuntu',
  'Debian',
  'Fedora',
  'Arch',
  'Mint',
  'openSUSE',
  'Gentoo',
  'Chrome OS',
  'Chromium OS',
  'FreeBSD',
  'OpenBSD',
  'NetBSD',
  'Solaris',
]);

const EMPTY: UserAgentInfo = Object.freeze({});

export function parseUserAgent(ua: string): UserAgentInfo {
  const r = UAParser(ua);
  const out: UserAgentInfo = {};
  if (r.browser.name)
    out.browser = Object.freeze(
      r.browser.version ? { name: r.browser.name, version: r.browser.version } : { name: r.browser.name },
    );
  if (r.os.name)
    out.os = Object.freeze(r.os.version ? { name: r.os.name, version: r.os.version } : { name: r.os.name });
  const type = r.device.type ?? (r.os.name && DESKTOP_OS.has(r.os.name) ? 'desktop' : undefined);
  if (type) out.deviceType = type;
  return Object.keys(out).length > 0 ? Object.freeze(out) : EMPTY;
}

/** parseUserAgent behind a bounded LRU. The results are frozen: events share them. */
export class UserAgentCache {
  private readonly lru: Lru<string, UserAgentInfo>;

  /** @param size most distinct user agents remembered. Default 1000. */
  constructor(size = 1000) {
    this.lru = new Lru(size);
  }

  get(raw: string): UserAgentInfo {
    // ua-parser-js reads the first 500 characters only; a longer key would just let a client bloat the cache.
    const ua = raw.length > 512 ? raw.slice(0, 512) : raw;
    let info = this.lru.get(ua);
    if (!info) {
      info = parseUserAgent(ua);
      this.lru.set(ua, info);
    }
    return info;
  }
}
