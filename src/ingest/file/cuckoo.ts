// The filter over sealed dedupe keys (dedupe.ts): a cuckoo filter of 12-bit fingerprints, 4 to a bucket, in 256
// shards that each grow or shrink alone. A key is looked up in two buckets (two cache lines at most), whatever
// the number of sealed runs, and a key can be deleted again (a run past the window), which a static xor or
// binary-fuse filter cannot do. 4 fingerprints of 12 bits are 6 bytes a bucket; shards are kept 70-94% full (rebuilt at
// 84%), so 1.6-2.1 bytes a key, 1.8 after a rebuild. False positives: at most 2 buckets x 4 slots / 4096 = 0.2% of absent keys, each then
// confirmed on disk (key-runs.ts).
//
// A key is the low 64 bits of its md5 as two words (hi, lo), as keyset.ts holds it. The shard is hi's top 8 bits,
// the fingerprint hi's low 12, the first bucket comes from lo: three independent parts of a uniform hash. The
// other bucket is (h(fp) - i) mod n, its own inverse for any n, so a shard's size need not be a power of two.
// An insert that fails (a cycle of evictions) loses a fingerprint: the caller then rebuilds the shard, larger,
// from the runs on disk, which hold every key; so the filter never answers "absent" for a key it was given.

export const SHARD_COUNT = 256;
const SLOTS = 4;
/** Most fingerprints per slot before a shard must grow; insertion stays short below about 0.95. */
const MAX_FILL = 0.94;
/** The fill a shard is rebuilt at (1.8 bytes a key). */
const TARGET_FILL = 0.84;
/** Below this fill (2.1 bytes a key) a purge rebuilds the shard smaller. */
const MIN_FILL = 0.7;
const MAX_KICKS = 500;
const TWO_32 = 2 ** 32;
/** xorshift32 state: which slot an insert evicts. */
let rng = 0x2545f491;

export const shardOf = (hi: number): number => hi >>> 24;

/** The 12-bit fingerprint (never 0: 0 marks an empty slot). */
const fingerprint = (hi: number): number => hi & 0xfff || 0xfff;

export class CuckooShard {
  /** 3 words of 16 bits a bucket: slot k holds bits 12k..12k+11 of the 48. */
  words: Uint16Array;
  buckets: number;
  count = 0;

  constructor(keys: number) {
    this.buckets = Math.max(1, Math.ceil(keys / (SLOTS * TARGET_FILL)));
    this.words = new Uint16Array(this.buckets * 3);
  }

  /** True when `more` keys fit without growing. */
  fits(more: number): boolean {
    return this.count + more <= this.buckets * SLOTS * MAX_FILL;
  }

  /** Too empty for its memory: rebuild it smaller. */
  get sparse(): boolean {
    return this.buckets > 16 && this.count < this.buckets * SLOTS * MIN_FILL;
  }

  private get(b: number, k: number): number {
    const w = this.words;
    const at = b * 3;
    switch (k) {
      case 0:
        return (w[at] as number) & 0xfff;
      case 1:
        return ((w[at] as number) >>> 12) | (((w[at + 1] as number) & 0xff) << 4);
      case 2:
        return ((w[at + 1] as number) >>> 8) | (((w[at + 2] as number) & 0xf) << 8);
      default:
        return (w[at + 2] as number) >>> 4;
    }
  }

  private set(b: number, k: number, fp: number): void {
    const w = this.words;
    const at = b * 3;
    switch (k) {
      case 0:
        w[at] = ((w[at] as number) & 0xf000) | fp;
        break;
      case 1:
        w[at] = ((w[at] as number) & 0x0fff) | ((fp & 0xf) << 12);
        w[at + 1] = ((w[at + 1] as number) & 0xff00) | (fp >>> 4);
        break;
      case 2:
        w[at + 1] = ((w[at + 1] as number) & 0x00ff) | ((fp & 0xff) << 8);
        w[at + 2] = ((w[at + 2] as number) & 0xfff0) | (fp >>> 8);
        break;
      default:
        w[at + 2] = ((w[at + 2] as number) & 0x000f) | (fp << 4);
    }
  }

  private alt(b: number, fp: number): number {
    const n = this.buckets;
    const h = (Math.imul(fp, 0x9e3779b1) >>> 0) % n;
    return (h - b + n) % n;
  }

  private first(lo: number): number {
    return Math.floor((lo / TWO_32) * this.buckets);
  }

  private slotOf(b: number, fp: number): number {
    for (let k = 0; k < SLOTS; k++) if (this.get(b, k) === fp) return k;
    return -1;
  }

  has(hi: number, lo: number): boolean {
    if (this.count === 0) return false;
    const fp = fingerprint(hi);
    const b = this.first(lo);
    return this.slotOf(b, fp) >= 0 || this.slotOf(this.alt(b, fp), fp) >= 0;
  }

  /** Adds a key's fingerprint; false when it could not be placed (the shard has lost one: rebuild it). */
  add(hi: number, lo: number): boolean {
    let fp = fingerprint(hi);
    let b = this.first(lo);
    let k = this.slotOf(b, 0);
    if (k < 0) {
      b = this.alt(b, fp);
      k = this.slotOf(b, 0);
    }
    this.count++;
    if (k >= 0) {
      this.set(b, k, fp);
      return true;
    }
    for (let n = 0; n < MAX_KICKS; n++) {
      rng ^= rng << 13;
      rng ^= rng >>> 17;
      rng ^= rng << 5;
      const victim = rng & 3;
      const out = this.get(b, victim);
      this.set(b, victim, fp);
      fp = out;
      b = this.alt(b, fp);
      k = this.slotOf(b, 0);
      if (k >= 0) {
        this.set(b, k, fp);
        return true;
      }
    }
    return false;
  }

  /** Removes one copy of a key's fingerprint (the key must have been added); false if none was there. */
  delete(hi: number, lo: number): boolean {
    const fp = fingerprint(hi);
    const b = this.first(lo);
    let k = this.slotOf(b, fp);
    let at = b;
    if (k < 0) {
      at = this.alt(b, fp);
      k = this.slotOf(at, fp);
    }
    if (k < 0) return false;
    this.set(at, k, 0);
    this.count--;
    return true;
  }
}
