// User-agent parsing (ua-parser-js v2) into Segment-shaped context fields, cached per user-agent string:
// a parse costs ~30 µs and most events of a site come from a few hundred distinct browsers.
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
  // The three parts used, each parsed on its own: getResult() would also run the CPU and engine regexes,
  // a third of the time of a parse.
  const parser = new UAParser(ua);
  const browser = parser.getBrowser();
  const os = parser.getOS();
  const device = parser.getDevice();
  const out: UserAgentInfo = {};
  if (browser.name)
    out.browser = Object.freeze(
      browser.version ? { name: browser.name, version: browser.version } : { name: browser.name },
    );
  if (os.name)
    out.os = Object.freeze(os.version ? { name: os.name, version: os.version } : { name: os.name });
  const type = device.type ?? (os.name && DESKTOP_OS.has(os.name) ? 'desktop' : undefined);
  if (type) out.deviceType = type;
  return Object.keys(out).length > 0 ? Object.freeze(out) : EMPTY;
}

/** A field to add to `context`, with its JSON computed once and shared by every event that gets it. */
export interface Addition {
  key: string;
  value: unknown;
  /** `"key":value`, ready to splice into the serialized context. */
  json: string;
}

export const addition = (key: string, value: unknown): Addition => ({
  key,
  value,
  json: `${JSON.stringify(key)}:${JSON.stringify(value)}`,
});

/** What one user agent adds: context.browser, context.os, context.device (when absent). */
export interface UserAgentAdditions {
  info: UserAgentInfo;
  browser?: Addition;
  os?: Addition;
  device?: Addition;
}

/** parseUserAgent behind a bounded LRU. The results are frozen: events share them. */
export class UserAgentCache {
  private readonly lru: Lru<string, UserAgentAdditions>;

  /** @param size most distinct user agents remembered. Default 1000. */
  constructor(size = 1000) {
    this.lru = new Lru(size);
  }

  get(raw: string): UserAgentAdditions {
    // ua-parser-js reads the first 500 characters only; a longer key would just let a client bloat the cache.
    const ua = raw.length > 512 ? raw.slice(0, 512) : raw;
    let entry = this.lru.get(ua);
    if (!entry) {
      const info = parseUserAgent(ua);
      entry = { info };
      if (info.browser) entry.browser = addition('browser', info.browser);
      if (info.os) entry.os = addition('os', info.os);
      if (info.deviceType) entry.device = addition('device', Object.freeze({ type: info.deviceType }));
      this.lru.set(ua, Object.freeze(entry));
    }
    return entry;
  }
}
