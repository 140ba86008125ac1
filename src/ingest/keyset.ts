// The dedupe memory: every 128-bit (workspace, messageId) key accepted within the window, in one typed array
// (20 bytes a slot, open addressing). The ingest log decides duplicates against it when a request arrives.
// Nothing keeps a copy of every key: at start the store recomputes them from the events of the window
// (store/duckdb/load.ts loadKeys), and the log from its unloaded segments; only deleted users' keys
// (tombstones) are stored as such. A primary-key index once did this job, and every checkpoint rewrote it.
import { hash } from 'node:crypto';

/** seen value of a key never to be forgotten (a deleted user's messageId). */
export const FOREVER = 0xffffffff;

/**
 * The key of (workspace, messageId): md5 as 32 hex digits (the form the log lines carry). md5 is fine here: it
 * only has to spread keys evenly, the inputs are not adversarial across tenants. One-shot crypto.hash costs a
 * third of a createHash chain (0.4 against 1.3 us).
 */
export function dedupeKey(workspaceId: string, messageId: string): string {
  return hash('md5', `${workspaceId}\0${messageId}`, 'hex');
}

/** A key as DuckDB's UHUGEINT returns it, back in hex. */
export const keyOfBigInt = (k: bigint): string => k.toString(16).padStart(32, '0');

const seconds = (d: Date): number => Math.min(FOREVER - 1, Math.max(0, Math.floor(d.getTime() / 1000)));

/** Words of a slot: the key's four 32-bit words, then the second it was first seen (0: empty slot). */
const STRIDE = 5;
const SEEN = 4;

export class KeySet {
  private slots = new Uint32Array(0);
  private capacity = 0;
  private count = 0;
  /** The key being looked up, as words (no allocation per lookup). */
  private readonly probe = new Uint32Array(4);

  constructor(capacity = 1 << 16) {
    this.allocate(capacity);
  }

  get size(): number {
    return this.count;
  }

  private allocate(capacity: number): void {
    this.slots = new Uint32Array(capacity * STRIDE);
    this.capacity = capacity;
    this.count = 0;
  }

  private parse(hex: string): void {
    const p = this.probe;
    p[0] = Number.parseInt(hex.slice(0, 8), 16);
    p[1] = Number.parseInt(hex.slice(8, 16), 16);
    p[2] = Number.parseInt(hex.slice(16, 24), 16);
    p[3] = Number.parseInt(hex.slice(24, 32), 16);
  }

  /** The slot index holding the probe's key, or the empty slot where it would go. md5 bits are uniform. */
  private slot(): number {
    const p = this.probe;
    const s = this.slots;
    const mask = this.capacity - 1;
    let i = (p[3] as number) & mask;
    for (;;) {
      const at = i * STRIDE;
      if (s[at + SEEN] === 0) return i;
      if (s[at] === p[0] && s[at + 1] === p[1] && s[at + 2] === p[2] && s[at + 3] === p[3]) return i;
      i = (i + 1) & mask;
    }
  }

  has(key: string): boolean {
    this.parse(key);
    return this.slots[this.slot() * STRIDE + SEEN] !== 0;
  }

  /** Forgets every key. */
  clear(): void {
    this.allocate(1 << 16);
  }

  /** Adds a key first seen at `at` (or FOREVER); a key already there keeps the later of the two marks. */
  add(key: string, at: Date | typeof FOREVER): void {
    this.addSeconds(key, at === FOREVER ? FOREVER : seconds(at));
  }

  /** add() with the time in seconds since the epoch (FOREVER or more: never forgotten). */
  addSeconds(key: string, sec: number): void {
    if ((this.count + 1) * 10 > this.capacity * 7) this.rehash(this.capacity * 2, 0);
    this.parse(key);
    this.place(Math.max(1, Math.min(FOREVER, sec)));
  }

  /** Puts the probe's key in its slot with `mark`, or raises the mark of the key already there. */
  private place(mark: number): void {
    const at = this.slot() * STRIDE;
    const s = this.slots;
    if (s[at + SEEN] === 0) {
      s.set(this.probe, at);
      s[at + SEEN] = mark;
      this.count++;
    } else if ((s[at + SEEN] as number) < mark) s[at + SEEN] = mark;
  }

  /** Forgets keys first seen before `before` (never FOREVER ones); returns how many. */
  purge(before: Date): number {
    const n = this.count;
    this.rehash(this.capacity, seconds(before));
    return n - this.count;
  }

  /** Rebuilds the table at `capacity` slots, keeping keys seen at or after `keepFrom` seconds. */
  private rehash(capacity: number, keepFrom: number): void {
    const old = this.slots;
    const oldCapacity = this.capacity;
    const keep = Math.max(1, keepFrom);
    let size = capacity;
    let live = 0;
    for (let i = 0; i < oldCapacity; i++) if ((old[i * STRIDE + SEEN] as number) >= keep) live++;
    while (live * 10 > size * 7) size *= 2;
    this.allocate(size);
    for (let i = 0; i < oldCapacity; i++) {
      const at = i * STRIDE;
      const mark = old[at + SEEN] as number;
      if (mark < keep) continue;
      this.probe.set(old.subarray(at, at + 4));
      this.place(mark);
    }
  }
}
