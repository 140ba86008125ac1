// IP address helpers for enrichment: one canonical form, the ranges that have no location, anonymization.
import { isIP } from 'node:net';

export interface ParsedIp {
  /** IPv4-mapped IPv6 (::ffff:1.2.3.4) becomes the IPv4 address; an IPv6 zone id (%eth0) is dropped. */
  ip: string;
  family: 4 | 6;
}

/** The longest string that may be an address: 45 characters of IPv4-mapped IPv6, and room for a zone id. */
export const MAX_IP_LENGTH = 64;

/** The address in canonical form, or null when the value is not an IP address. */
export function parseIp(raw: unknown): ParsedIp | null {
  if (typeof raw !== 'string' || raw.length > MAX_IP_LENGTH) return null;
  let s = raw.trim();
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  const family = isIP(s);
  if (family === 4) return { ip: s, family };
  if (family !== 6) return null;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(s);
  if (mapped?.[1]) return { ip: mapped[1], family: 4 };
  return { ip: s.toLowerCase(), family: 6 };
}

// Private, loopback, link-local, shared (CGNAT), documentation, multicast and reserved ranges: no location.
export const NON_PUBLIC_V4: readonly (readonly [string, number])[] = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 3],
];
export const NON_PUBLIC_V6: readonly (readonly [string, number])[] = [
  ['::', 127],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['2001:db8::', 32],
];

/** A valid dotted IPv4 address (as checked by parseIp) as an unsigned 32-bit number. */
export function v4Number(ip: string): number {
  let n = 0;
  let part = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      n = n * 256 + part;
      part = 0;
    } else part = part * 10 + (c - 48);
  }
  return n * 256 + part;
}

// Each range as the network's top `prefix` bits. node:net's BlockList held them before: parseIp and its
// check cost ~2.5 µs of CPU per address (an object and a call into C++ each time), these compares bring that
// to ~0.2. Every address the geo cache does not hold pays it, and a backend forwarding its users' addresses
// brings a new one with most events. test/pipeline/enrich.test.ts checks them against BlockList.
const V4_RANGES = NON_PUBLIC_V4.map(([net, prefix]) => ({
  shift: 32 - prefix,
  top: v4Number(net) >>> (32 - prefix),
}));
const V6_RANGES = NON_PUBLIC_V6.map(([net, prefix]) => ({ net: hextets(net), prefix }));

function inV6Range(h: number[], net: number[], prefix: number): boolean {
  for (let i = 0, bits = prefix; bits > 0; i++, bits -= 16) {
    const mask = bits >= 16 ? 0xffff : (0xffff << (16 - bits)) & 0xffff;
    if (((h[i] ?? 0) & mask) !== ((net[i] ?? 0) & mask)) return false;
  }
  return true;
}

/** True for addresses that cannot have a location (private, loopback, link-local, reserved...). */
export function isNonPublic(p: ParsedIp): boolean {
  if (p.family === 4) {
    const n = v4Number(p.ip);
    for (const r of V4_RANGES) if (n >>> r.shift === r.top) return true;
    return false;
  }
  const h = hextets(p.ip);
  for (const r of V6_RANGES) if (inV6Range(h, r.net, r.prefix)) return true;
  return false;
}

/** The eight 16-bit groups of a valid IPv6 address (as checked by parseIp). */
export function hextets(ip: string): number[] {
  const groups = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (g.includes('.')) {
        const [a = 0, b = 0, c = 0, d = 0] = g.split('.').map(Number);
        out.push((a << 8) | b, (c << 8) | d);
      } else out.push(Number.parseInt(g, 16));
    }
    return out;
  };
  const gap = ip.indexOf('::');
  if (gap < 0) return groups(ip);
  const head = groups(ip.slice(0, gap));
  const tail = groups(ip.slice(gap + 2));
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

/**
 * Anonymizes like Google Analytics' IP masking: the last octet of an IPv4 address, the last 80 bits of an
 * IPv6 address become zero. Returns null when the value is not an IP address (the caller drops it).
 */
export function anonymizeIp(raw: unknown): string | null {
  const p = parseIp(raw);
  if (!p) return null;
  if (p.family === 4) return `${p.ip.slice(0, p.ip.lastIndexOf('.'))}.0`;
  const [a = 0, b = 0, c = 0] = hextets(p.ip);
  return a === 0 && b === 0 && c === 0 ? '::' : `${a.toString(16)}:${b.toString(16)}:${c.toString(16)}::`;
}
