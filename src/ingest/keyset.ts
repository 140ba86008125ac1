// The dedupe memory: every 128-bit (workspace, messageId) key accepted within the window, in typed arrays
// (20 bytes a slot, open addressing). The ingest log decides duplicates against it when a request arrives;
// the store keeps its durable copy (the dedupe_keys table, append-only and without an index: a primary-key
// index made every checkpoint rewrite an index that grows with the window) and fills it at start.
import { createHash } from 'node:crypto';

/** seen value of a key never to be forgotten (a deleted user's messageId). */
export const FOREVER = 0xffffffff;
const MASK64 = (1n << 64n) - 1n;

/**
 * The key of (workspace, messageId), as 32 hex digits (the form the log lines carry). md5 is fine here: it
 * only has to spread keys evenly, the inputs are not adversarial across tenants.
 */
export function dedupeKeyHex(workspaceId: string, messageId: string): string {
  return createHash('md5').update(workspaceId).update('\0').update(messageId).digest('hex');
}

export const keyOfHex = (hex: string): bigint => BigInt(`0x${hex}`);

export const dedupeKey = (workspaceId: string, messageId: string): bigint =>
  keyOfHex(dedupeKeyHex(workspaceId, messageId));

const seconds = (d: Date): number => Math.min(FOREVER - 1, Math.max(0, Math.floor(d.getTime() / 1000)));

export class KeySet {
  private hi = new BigUint64Array(0);
  private lo = new BigUint64Array(0);
  /** Seconds since the epoch the key was first seen; 0 marks an empty slot. */
  private seen = new Uint32Array(0);
  private count = 0;

  constructor(capacity = 1 << 16) {
    this.allocate(capacity);
  }

  get size(): number {
    return this.count;
  }

  private allocate(capacity: number): void {
    this.hi = new BigUint64Array(capacity);
    this.lo = new BigUint64Array(capacity);
    this.seen = new Uint32Array(capacity);
    this.count = 0;
  }

  /** The slot holding `key`, or the empty slot where it would go. md5 bits are uniform: the low word is the hash. */
  private slot(hi: bigint, lo: bigint): number {
    const mask = this.seen.length - 1;
    let i = Number(lo & BigInt(mask));
    while (this.seen[i] !== 0 && (this.lo[i] !== lo || this.hi[i] !== hi)) i = (i + 1) & mask;
    return i;
  }

  has(key: bigint): boolean {
    return this.seen[this.slot(key >> 64n, key & MASK64)] !== 0;
  }

  /** Forgets every key. */
  clear(): void {
    this.allocate(1 << 16);
  }

  /** Adds a key first seen at `at` (or FOREVER); a key already there keeps the later of the two marks. */
  add(key: bigint, at: Date | typeof FOREVER): void {
    this.addSeconds(key, at === FOREVER ? FOREVER : seconds(at));
  }

  /** add() with the time in seconds since the epoch (FOREVER or more: never forgotten). */
  addSeconds(key: bigint, sec: number): void {
    if ((this.count + 1) * 10 > this.seen.length * 7) this.rehash(this.seen.length * 2, 0);
    const hi = key >> 64n;
    const lo = key & MASK64;
    const i = this.slot(hi, lo);
    const mark = Math.max(1, Math.min(FOREVER, sec));
    if (this.seen[i] === 0) {
      this.hi[i] = hi;
      this.lo[i] = lo;
      this.count++;
      this.seen[i] = mark;
    } else if ((this.seen[i] as number) < mark) this.seen[i] = mark;
  }

  /** Forgets keys first seen before `before` (never FOREVER ones); returns how many. */
  purge(before: Date): number {
    const n = this.count;
    this.rehash(this.seen.length, seconds(before));
    return n - this.count;
  }

  /** Rebuilds the table at `capacity` slots, keeping keys seen at or after `keepFrom` seconds. */
  private rehash(capacity: number, keepFrom: number): void {
    const { hi, lo, seen } = this;
    let size = capacity;
    let live = 0;
    for (let i = 0; i < seen.length; i++) if ((seen[i] as number) >= Math.max(1, keepFrom)) live++;
    while (live * 10 > size * 7) size *= 2;
    this.allocate(size);
    for (let i = 0; i < seen.length; i++) {
      const s = seen[i] as number;
      if (s === 0 || s < keepFrom) continue;
      const j = this.slot(hi[i] as bigint, lo[i] as bigint);
      this.hi[j] = hi[i] as bigint;
      this.lo[j] = lo[i] as bigint;
      this.seen[j] = s;
      this.count++;
    }
  }
}
