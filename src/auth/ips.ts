// IP allow-lists of keys: IPs and CIDRs, IPv4 and IPv6, compiled into masked 32-bit words when the key ring
// changes; a request costs a parse of its IP (no allocation for IPv4) and a scan; bench/limits-micro.ts measures it.
import { isIP } from 'node:net';

// Every address is four 32-bit words of the IPv6 space, an IPv4 one as ::ffff:a.b.c.d: one rule format serves
// both, and an IPv4 client seen on a dual-stack socket (::ffff:1.2.3.4) matches IPv4 rules.

/** The IPv4 address as a 32-bit number, or -1. */
function parse4(s: string, from: number): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = from; i < s.length; i++) {
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

/** 16-bit groups of one side of `::`, with an IPv4 tail when allowed; null when malformed. */
function groups(side: string, v4Tail: boolean): number[] | null {
  if (side === '') return [];
  const parts = side.split(':');
  const out: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i] as string;
    if (v4Tail && i === parts.length - 1 && p.includes('.')) {
      const v4 = parse4(p, 0);
      if (v4 < 0) return null;
      out.push(v4 >>> 16, v4 & 0xffff);
    } else {
      if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return null;
      out.push(Number.parseInt(p, 16));
    }
  }
  return out;
}

/** Writes the address into `out` (four words); false when it is not an IP address. A zone (%eth0) is ignored. */
export function addressWords(ip: string, out: Uint32Array): boolean {
  if (!ip.includes(':')) {
    const v4 = parse4(ip, 0);
    if (v4 < 0) return false;
    out[0] = 0;
    out[1] = 0;
    out[2] = 0xffff;
    out[3] = v4;
    return true;
  }
  const pct = ip.indexOf('%');
  const s = pct >= 0 ? ip.slice(0, pct) : ip;
  const gap = s.indexOf('::');
  if (gap >= 0 && s.indexOf('::', gap + 1) >= 0) return false;
  const head = groups(gap >= 0 ? s.slice(0, gap) : s, gap < 0);
  const tail = gap >= 0 ? groups(s.slice(gap + 2), true) : [];
  if (!head || !tail) return false;
  const fill = 8 - head.length - tail.length;
  if (gap >= 0 ? fill < 1 : fill !== 0) return false;
  const g = [...head, ...new Array<number>(fill).fill(0), ...tail];
  for (let w = 0; w < 4; w++) out[w] = (((g[2 * w] as number) << 16) | (g[2 * w + 1] as number)) >>> 0;
  return true;
}

/** An IP or CIDR in its stored form (`203.0.113.7`, `10.0.0.0/8`, `2001:db8::/32`); throws an Error saying why when it is not one. */
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
