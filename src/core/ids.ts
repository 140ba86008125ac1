// Server-assigned ids: UUIDv7 (time-ordered, RFC 9562) for events, random tokens for keys.
import { randomBytes, randomFillSync, randomUUID } from 'node:crypto';

let lastMs = 0;
let seq = 0;

// Random bytes for the ids, drawn from the CSPRNG 8 KiB (1024 ids) at a time and read in place.
const pool = new Uint8Array(8192);
let poolOffset = pool.length;

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
// rand_a: the 12-bit counter after the version digit.
const SEQ_HEX: string[] = Array.from({ length: 4096 }, (_, i) => i.toString(16).padStart(3, '0'));

// The id's first 15 characters, `tttttttt-tttt-7` (48-bit milliseconds and the version), for the last
// millisecond: most ids of a batch share it.
let prefixMs = Number.NaN;
let prefix = '';

function timePrefix(ms: number): string {
  if (ms !== prefixMs) {
    prefixMs = ms;
    prefix = `${HEX[(ms / 2 ** 40) & 0xff]}${HEX[(ms / 2 ** 32) & 0xff]}${HEX[(ms >>> 24) & 0xff]}${
      HEX[(ms >>> 16) & 0xff]
    }-${HEX[(ms >>> 8) & 0xff]}${HEX[ms & 0xff]}-7`;
  }
  return prefix;
}

/** A UUIDv7; ids made in the same millisecond by this process stay in order (12-bit counter in rand_a). */
export function uuidv7(now = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    seq = 0;
  } else {
    seq++;
    if (seq > 0xfff) {
      lastMs++;
      seq = 0;
    }
  }
  if (poolOffset + 8 > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const o = poolOffset;
  poolOffset += 8;
  // rand_b: the RFC 9562 variant (10) and 62 random bits.
  return `${timePrefix(lastMs)}${SEQ_HEX[seq]}-${HEX[0x80 | ((pool[o] as number) & 0x3f)]}${HEX[pool[o + 1] as number]}-${
    HEX[pool[o + 2] as number]
  }${HEX[pool[o + 3] as number]}${HEX[pool[o + 4] as number]}${HEX[pool[o + 5] as number]}${
    HEX[pool[o + 6] as number]
  }${HEX[pool[o + 7] as number]}`;
}

export const uuidv4 = (): string => randomUUID();

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** A random base62 token of `length` characters (about 5.95 bits each). */
export function token(length: number): string {
  const bytes = randomBytes(length * 2);
  let s = '';
  for (let i = 0; s.length < length && i < bytes.length; i++) {
    const v = bytes[i] ?? 0;
    if (v < 248) s += ALPHABET[v % 62];
  }
  return s.length === length ? s : s + token(length - s.length);
}
