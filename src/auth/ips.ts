// IP allow-lists of keys: IPs and CIDRs, IPv4 and IPv6, compiled into masked 32-bit words when the key ring
// changes; a request costs a one-pass parse of its IP and a scan of the rules (bench/limits-micro.ts measures it).
import { isIP } from 'node:net';

// Every address is four 32-bit words of the IPv6 space, an IPv4 one as ::ffff:a.b.c.d: one rule format serves
// both, and an IPv4 client seen on a dual-stack socket (::ffff:1.2.3.4) matches IPv4 rules.

/** The IPv4 address in s[from, end) as a 32-bit number, or -1. */
function parse4(s: string, from: number, end: number): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = from; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return -1; // a leading zero (octal in some parsers)
      part = part * 10 + (c - 48);
      if (part > 255) return -1;
      digits++;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + part;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

// The groups of the IPv6 address being parsed (one pass, no allocation: a request's IP is parsed each time).
const groups = new Uint16Array(8);

/** Parses an IPv6 address (`::` once, an IPv4 tail allowed) into `groups`; false when malformed. */
function parse6(s: string, end: number): boolean {
  let n = 0;
  let gapAt = -1;
  let i = 0;
  if (s.charCodeAt(0) === 58) {
    if (s.charCodeAt(1) !== 58) return false;
    gapAt = 0;
    i = 2;
  }
  while (i < end) {
    let j = i;
    let v = 0;
    for (let d = hexDigit(s.charCodeAt(j)); d >= 0 && j - i < 4 && j < end; d = hexDigit(s.charCodeAt(j))) {
      v = v * 16 + d;
      j++;
    }
    if (j < end && s.charCodeAt(j) === 46) {
      const v4 = parse4(s, i, end);
      if (v4 < 0 || n > 6) return false;
      groups[n++] = v4 >>> 16;
      groups[n++] = v4 & 0xffff;
      break;
    }
    if (j === i || n === 8) return false;
    groups[n++] = v;
    if (j === end) break;
    if (s.charCodeAt(j) !== 58) return false;
    j++;
    if (j < end && s.charCodeAt(j) === 58) {
      if (gapAt >= 0) return false;
      gapAt = n;
      j++;
    } else if (j === end) return false;
    i = j;
  }
  if (gapAt < 0) return n === 8;
  if (n > 7) return false;
  // Move the groups after `::` to the end, zeros in between.
  const shift = 8 - n;
  for (let k = n - 1; k >= gapAt; k--) groups[k + shift] = groups[k] as number;
  for (let k = gapAt; k < gapAt + shift; k++) groups[k] = 0;
  return true;
}

/** Writes the address into `out` (four words); false when it is not an IP address. A zone (%eth0) is ignored. */
export function addressWords(ip: string, out: Uint32Array): boolean {
  if (!ip.includes(':')) {
    const v4 = parse4(ip, 0, ip.length);
    if (v4 < 0) return false;
    out[0] = 0;
    out[1] = 0;
    out[2] = 0xffff;
    out[3] = v4;
    return true;
  }
  const pct = ip.indexOf('%');
  if (!parse6(ip, pct >= 0 ? pct : ip.length)) return false;
  for (let w = 0; w < 4; w++)
    out[w] = (((groups[2 * w] as number) << 16) | (groups[2 * w + 1] as number)) >>> 0;
  return true;
}

/**
 * An IP or CIDR in its stored form (`203.0.113.7`, `10.0.0.0/8`, `2001:db8::/32`); throws an Error saying why
 * when it is not one.
 */
export function normalizeIp(pattern: string): string {
  const t = pattern.trim().toLowerCase();
  const slash = t.indexOf('/');
  const addr = slash >= 0 ? t.slice(0, slash) : t;
  const family = isIP(addr);
  if (family === 0 || addr.includes('%')) {
    throw new Error('is not an IP address or CIDR (203.0.113.7, 10.0.0.0/8, 2001:db8::/32)');
  }
  if (slash < 0) return addr;
  const prefix = t.slice(slash + 1);
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max) {
    throw new Error(`has a prefix length outside 0-${max}`);
  }
  return `${addr}/${Number(prefix)}`;
}

const scratch = new Uint32Array(4);

/** Normalized IPs and CIDRs, compiled into masked words: 8 per rule (address, then mask). */
export class IpList {
  private readonly rules: Uint32Array;

  constructor(patterns: string[]) {
    const rules: number[] = [];
    const words = new Uint32Array(4);
    for (const p of patterns) {
      const slash = p.indexOf('/');
      const addr = slash >= 0 ? p.slice(0, slash) : p;
      if (!addressWords(addr, words)) continue; // stored patterns were normalized on the way in
      // An IPv4 prefix counts from bit 96 of the IPv6 space; a lone address is all 128 bits.
      const bits = slash < 0 ? 128 : Number(p.slice(slash + 1)) + (addr.includes(':') ? 0 : 96);
      const mask = [0, 0, 0, 0].map((_, w) => {
        const b = Math.max(0, Math.min(32, bits - 32 * w));
        return b === 0 ? 0 : (0xffffffff << (32 - b)) >>> 0;
      });
      rules.push(...mask.map((m, w) => ((words[w] as number) & m) >>> 0), ...mask);
    }
    this.rules = Uint32Array.from(rules);
  }

  allows(ip: string): boolean {
    if (!addressWords(ip, scratch)) return false;
    const r = this.rules;
    for (let i = 0; i < r.length; i += 8) {
      if (
        ((scratch[0] as number) & (r[i + 4] as number)) >>> 0 === r[i] &&
        ((scratch[1] as number) & (r[i + 5] as number)) >>> 0 === r[i + 1] &&
        ((scratch[2] as number) & (r[i + 6] as number)) >>> 0 === r[i + 2] &&
        ((scratch[3] as number) & (r[i + 7] as number)) >>> 0 === r[i + 3]
      ) {
        return true;
      }
    }
    return false;
  }
}
