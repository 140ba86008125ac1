// Origin patterns of browser keys: checked and normalized when an admin sets them, compiled when the key ring
// changes, so a request costs a set lookup (and a scan of the wildcards); bench/limits-micro.ts measures it.
import { isIP } from 'node:net';

const DEFAULT_PORT: Record<string, string> = { http: '80', https: '443' };

// [scheme://][*.]host[:port][/], after trimming and lower-casing. The host is checked again by the URL parser.
const ORIGIN = /^(?:([a-z][a-z0-9+.-]*):\/\/)?(\*\.)?(\[[0-9a-f:.]+\]|[^\s/:?#[\]@*\\]+)(?::(\d{1,5}))?\/?$/;

/**
 * An origin pattern in its stored form; throws an Error saying why when it is not one.
 * `https://app.example.com` is that origin; without a scheme (`app.example.com`) it is http or https;
 * `*.example.com` is any subdomain of example.com at any depth (not example.com itself); with a port it is only
 * that port, without one only the scheme's default port.
 */
export function normalizeOrigin(pattern: string): string {
  const m = ORIGIN.exec(pattern.trim().toLowerCase());
  if (!m) {
    throw new Error(
      'is not an origin pattern: [scheme://][*.]host[:port], e.g. https://app.example.com or *.example.com',
    );
  }
  const [, scheme, wild, rawHost = '', rawPort] = m;
  let host: string;
  try {
    host = new URL(`http://${rawHost}`).hostname; // punycode for IDNs, as browsers send them
  } catch {
    throw new Error('has an invalid host');
  }
  if (wild && (host.startsWith('[') || isIP(host) || !host.includes('.'))) {
    throw new Error('wildcards only go before a domain of two labels or more (*.example.com)');
  }
  const portNumber = rawPort === undefined ? undefined : Number(rawPort);
  if (portNumber !== undefined && (portNumber < 1 || portNumber > 65535)) {
    throw new Error('has a port outside 1-65535');
  }
  const port =
    portNumber === undefined || (scheme && DEFAULT_PORT[scheme] === String(portNumber))
      ? ''
      : `:${portNumber}`;
  return `${scheme ? `${scheme}://` : ''}${wild ? '*.' : ''}${host}${port}`;
}

interface WildOrigin {
  /** null: http or https. */
  scheme: string | null;
  /** `.example.com` for `*.example.com`. */
  suffix: string;
  /** '' for the scheme's default port. */
  port: string;
}

/** Normalized origin patterns, compiled: exact origins in a set (as browsers serialize them), wildcards scanned. */
export class OriginList {
  private readonly exact = new Set<string>();
  private readonly wild: WildOrigin[] = [];

  constructor(patterns: string[]) {
    for (const p of patterns) {
      const m = ORIGIN.exec(p);
      if (!m) continue; // stored patterns were normalized on the way in
      const [, scheme, wild, host = '', rawPort] = m;
      const schemes = scheme ? [scheme] : ['http', 'https'];
      if (wild) {
        this.wild.push({ scheme: scheme ?? null, suffix: `.${host}`, port: rawPort ?? '' });
        continue;
      }
      for (const s of schemes) {
        const port = rawPort === undefined || DEFAULT_PORT[s] === rawPort ? '' : `:${rawPort}`;
        this.exact.add(`${s}://${host}${port}`);
      }
    }
  }

  allows(origin: string): boolean {
    const o = origin.toLowerCase(); // browsers send it lower-case already
    if (this.exact.has(o)) return true;
    if (this.wild.length === 0) return false;
    const i = o.indexOf('://');
    if (i <= 0) return false;
    const scheme = o.slice(0, i);
    let host = o.slice(i + 3);
    let port = '';
    const colon = host.lastIndexOf(':');
    if (colon >= 0 && !host.endsWith(']')) {
      port = host.slice(colon + 1);
      host = host.slice(0, colon);
      if (DEFAULT_PORT[scheme] === port) port = '';
    }
    for (const w of this.wild) {
      if (w.scheme === null ? scheme !== 'http' && scheme !== 'https' : w.scheme !== scheme) continue;
      if (w.port === port && host.length > w.suffix.length && host.endsWith(w.suffix)) return true;
    }
    return false;
  }
}
