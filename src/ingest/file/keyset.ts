// The dedupe memory: every (workspace, messageId) key accepted within the window, in typed arrays (12 bytes a
// slot, open addressing, 65-80% full, so 15-18 bytes a key), split into 64 shards so a growing shard rehashes
// alone, by a quarter, and the memory never holds two copies of the whole table. The ingest log decides duplicates against it when a request arrives.
// Nothing keeps a copy of every key: at start the store recomputes them from the events of the window
// (store/duckdb/load.ts loadKeys), and the log from its unloaded segments; only deleted users' keys
// (tombstones) are stored as such. A primary-key index once did this job, and every checkpoint rewrote it.
//
// The table holds 64 of the key's 128 bits. Two different messageIds are taken for one another only if
// those 64 bits match: with a billion keys in the window, a new event has a 5e-11 chance of it.

/** What the segment log asks of the dedupe memory: KeySet alone (tests), or DedupeMemory (dedupe.ts). */
export interface DedupeSet {
  has(key: string): boolean;
  add(key: string, at: Date): void;
  /** add() unless the key is held: true if it was new, false for a duplicate (has() and add() in one lookup). */
  addNew(key: string, at: Date): boolean;
}

/** seen value of a key never to be forgotten (a deleted user's messageId). */
export const FOREVER = 0xffffffff;

const seconds = (d: Date): number => Math.min(FOREVER - 1, Math.max(0, Math.floor(d.getTime() / 1000)));

/** Words of a slot: the low 64 bits of the key, then the second it was first seen (0: empty slot). */
const STRIDE = 3;
const SEEN = 2;
const SHARD_BITS = 6;
const SHARDS = 1 << SHARD_BITS;
/** Most used slots per 16 in a shard before it grows by a quarter (linear probing stays short below 0.8). */
const FILL = 13;
const TWO_32 = 2 ** 32;

class Shard {
  slots: Uint32Array;
  capacity: number;
  count = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.slots = new Uint32Array(capacity * STRIDE);
  }

  /** The slot offset holding (hi, lo), or the empty slot where it would go. md5 bits are uniform. */
  find(hi: number, lo: number): number {
    const s = this.slots;
    const cap = this.capacity;
    let i = Math.floor((lo / TWO_32) * cap); // any capacity, not only powers of two
    for (;;) {
      const at = i * STRIDE;
      if (s[at + SEEN] === 0 || (s[at] === hi && s[at + 1] === lo)) return at;
      if (++i === cap) i = 0;
    }
  }

  /** Puts (hi, lo) with `mark` unless it is there (false then, its mark left as it is); grows first when full. */
  placeNew(hi: number, lo: number, mark: number): boolean {
    let at = this.find(hi, lo);
    const s = this.slots;
    if (s[at + SEEN] !== 0) return false;
    if ((this.count + 1) * 16 > this.capacity * FILL) {
      this.rebuild(Math.ceil(this.capacity * 1.25), 1);
      at = this.find(hi, lo);
    }
    const t = this.slots;
    t[at] = hi;
    t[at + 1] = lo;
    t[at + SEEN] = mark;
    this.count++;
    return true;
  }

  /** Puts (hi, lo) with `mark`, or raises the mark of the key already there. */
  place(hi: number, lo: number, mark: number): void {
    if (this.placeNew(hi, lo, mark)) return;
    const at = this.find(hi, lo) + SEEN;
    if ((this.slots[at] as number) < mark) this.slots[at] = mark;
  }

  /** Rebuilds at `capacity` slots (or more, if the kept keys need it), keeping marks of at least `keep`. */
  rebuild(capacity: number, keep: number): void {
    const old = this.slots;
    let live = 0;
    for (let at = SEEN; at < old.length; at += STRIDE) if ((old[at] as number) >= keep) live++;
    let size = Math.max(16, capacity);
    while (live * 16 > size * FILL) size = Math.ceil(size * 1.25);
    this.capacity = size;
    this.slots = new Uint32Array(size * STRIDE);
    this.count = 0;
    for (let at = 0; at < old.length; at += STRIDE) {
      const mark = old[at + SEEN] as number;
      if (mark >= keep) this.place(old[at] as number, old[at + 1] as number, mark);
    }
  }
}

export class KeySet implements DedupeSet {
  private shards: Shard[] = [];
  /** The low 64 bits of the key last located (no allocation per lookup). */
  private hi = 0;
  private lo = 0;

  constructor(capacity = 1 << 16) {
    this.allocate(capacity);
  }

  private allocate(capacity: number): void {
    const per = Math.max(16, Math.ceil(capacity / SHARDS));
    this.shards = Array.from({ length: SHARDS }, () => new Shard(per));
  }

  get size(): number {
    let n = 0;
    for (const s of this.shards) n += s.count;
    return n;
  }

  /** Bytes the table holds. */
  get bytes(): number {
    let n = 0;
    for (const s of this.shards) n += s.slots.byteLength;
    return n;
  }

  /** The shard of a key (by its first hex digits); sets hi and lo to the words of its low 64 bits. */
  private locate(key: string): Shard {
    this.hi = Number.parseInt(key.slice(16, 24), 16);
    this.lo = Number.parseInt(key.slice(24, 32), 16);
    return this.shards[Number.parseInt(key.slice(0, 2), 16) >>> (8 - SHARD_BITS)] as Shard;
  }

  has(key: string): boolean {
    const shard = this.locate(key);
    return shard.slots[shard.find(this.hi, this.lo) + SEEN] !== 0;
  }

  /** has() for a key already split: `top` its first byte, (hi, lo) its low 64 bits (dedupe.ts parses once). */
  hasWords(top: number, hi: number, lo: number): boolean {
    const shard = this.shards[top >>> (8 - SHARD_BITS)] as Shard;
    return shard.slots[shard.find(hi, lo) + SEEN] !== 0;
  }

  /** Calls `fn` with the words of every key and the second it was first seen (FOREVER for tombstones). */
  forEach(fn: (hi: number, lo: number, seen: number) => void): void {
    for (const shard of this.shards) {
      const s = shard.slots;
      for (let at = 0; at < s.length; at += STRIDE) {
        const mark = s[at + SEEN] as number;
        if (mark !== 0) fn(s[at] as number, s[at + 1] as number, mark);
      }
    }
  }

  /** forEach() in steps: yields after every `every` shards (a seal runs with the event loop free between them). */
  *forEachSteps(fn: (hi: number, lo: number, seen: number) => void, every = 8): Generator<void> {
    for (let i = 0; i < this.shards.length; i++) {
      const s = (this.shards[i] as Shard).slots;
      for (let at = 0; at < s.length; at += STRIDE) {
        const mark = s[at + SEEN] as number;
        if (mark !== 0) fn(s[at] as number, s[at + 1] as number, mark);
      }
      if (i % every === every - 1) yield;
    }
  }

  /** Forgets every key, keeping the memory for the next ones (dedupe.ts reuses a sealed table so). */
  empty(): void {
    for (const _ of this.emptySteps(SHARDS));
  }

  /** empty() in steps of `every` shards. */
  *emptySteps(every = 16): Generator<void> {
    for (let i = 0; i < this.shards.length; i++) {
      const shard = this.shards[i] as Shard;
      shard.slots.fill(0);
      shard.count = 0;
      if (i % every === every - 1) yield;
    }
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
    this.locate(key).place(this.hi, this.lo, Math.max(1, Math.min(FOREVER, sec)));
  }

  addNew(key: string, at: Date): boolean {
    return this.locate(key).placeNew(this.hi, this.lo, Math.max(1, seconds(at)));
  }

  /** addNew() for a key already split (see hasWords), first seen at second `sec` (below FOREVER). */
  addNewWords(top: number, hi: number, lo: number, sec: number): boolean {
    return (this.shards[top >>> (8 - SHARD_BITS)] as Shard).placeNew(hi, lo, Math.max(1, sec));
  }

  /**
   * Forgets keys first seen before `before` (never FOREVER ones); returns how many. One shard at a time, with
   * the event loop free in between: a window of tens of millions of keys is rebuilt without one long stall.
   */
  async purge(before: Date): Promise<number> {
    const keep = Math.max(1, seconds(before));
    let forgotten = 0;
    for (const s of this.shards) {
      const n = s.count;
      s.rebuild(16, keep); // shrinks to what is kept
      forgotten += n - s.count;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return forgotten;
  }
}
