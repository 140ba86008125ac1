// Server-assigned ids: UUIDv7 (time-ordered, RFC 9562) for events, random tokens for keys.
import { randomBytes, randomUUID } from 'node:crypto';

let pool = Buffer.alloc(0);
let poolOffset = 0;
let lastMs = 0;
let seq = 0;

function random(n: number): Buffer {
  if (poolOffset + n > pool.length) {
    pool = randomBytes(4096);
    poolOffset = 0;
  }
  const out = pool.subarray(poolOffset, poolOffset + n);
  poolOffset += n;
  return out;
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

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
  const ms = lastMs;
  const r = random(8);
  const b = new Uint8Array(16);
  b[0] = (ms / 2 ** 40) & 0xff;
  b[1] = (ms / 2 ** 32) & 0xff;
  b[2] = (ms >>> 24) & 0xff;
  b[3] = (ms >>> 16) & 0xff;
  b[4] = (ms >>> 8) & 0xff;
  b[5] = ms & 0xff;
  b[6] = 0x70 | ((seq >>> 8) & 0x0f);
  b[7] = seq & 0xff;
  b[8] = 0x80 | ((r[0] ?? 0) & 0x3f);
  for (let i = 1; i < 8; i++) b[8 + i] = r[i] ?? 0;
  let s = '';
  for (let i = 0; i < 16; i++) {
    s += HEX[b[i] ?? 0];
    if (i === 3 || i === 5 || i === 7 || i === 9) s += '-';
  }
  return s;
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
