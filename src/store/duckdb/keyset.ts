// The dedupe memory: every 128-bit (workspace, messageId) key accepted within the window, in typed arrays
// (20 bytes a slot, open addressing). The dedupe_keys table is its durable copy, append-only and without an
// index: a primary-key index made every checkpoint rewrite an index that grows with the window.
import { type Db, ts } from './db.ts';

/** seen value of a key never to be forgotten (a deleted user's messageId). */
export const FOREVER = 0xffffffff;
const MASK64 = (1n << 64n) - 1n;

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

  /** Adds a key first seen at `at` (or FOREVER); a key already there keeps the later of the two marks. */
  add(key: bigint, at: Date | typeof FOREVER): void {
    if ((this.count + 1) * 10 > this.seen.length * 7) this.rehash(this.seen.length * 2, 0);
    const hi = key >> 64n;
    const lo = key & MASK64;
    const i = this.slot(hi, lo);
    const mark = at === FOREVER ? FOREVER : Math.max(1, seconds(at));
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

  /** Reads the durable copy, chunk by chunk: every key seen since `since`, and every tombstone. */
  async load(db: Db, since: Date): Promise<void> {
    this.allocate(1 << 16);
    const result = await db.conn.stream(
      'SELECT key, epoch(seen_at)::BIGINT AS s FROM dedupe_keys WHERE seen_at >= ?',
      [ts(since)],
    );
    for (
      let chunk = await result.fetchChunk();
      chunk && chunk.rowCount > 0;
      chunk = await result.fetchChunk()
    ) {
      const keys = chunk.getColumnValues(0) as bigint[];
      const secs = chunk.getColumnValues(1) as bigint[];
      for (let i = 0; i < keys.length; i++) {
        const sec = Number(secs[i]);
        this.add(keys[i] as bigint, sec >= FOREVER ? FOREVER : new Date(sec * 1000));
      }
    }
  }
}
