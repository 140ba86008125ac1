// A sealed run of dedupe keys on disk (dedupe.ts): the keys of one sealed exact table, sorted, 12 bytes each
// (the key's low 64 bits as two words, then the second it was first seen), in the log's `dedupe/` folder. The
// filter (cuckoo.ts) says a key may be here; the run says whether it is, with one pread of a 3 KB page found by
// an in-memory index of each page's first key (8 bytes per 256 keys, 0.03 B a key). The files are scratch: a
// start rebuilds them from the store, so they are written without fsync.
import { closeSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { SHARD_COUNT, shardOf } from './cuckoo.ts';

const RECORD = 12;
export const PAGE_KEYS = 256;
const PAGE = PAGE_KEYS * RECORD;

/** Keys to seal, in arrays of the same length n (any order). */
export interface KeyBatch {
  hi: Uint32Array;
  lo: Uint32Array;
  sec: Uint32Array;
  n: number;
}

/**
 * The order that sorts a batch by (hi, lo). The keys are uniform hashes, so one counting pass on hi's top 16 bits
 * puts them in 65,536 buckets of n / 65,536 keys each, and an insertion sort orders each bucket: O(n), with no
 * comparator calls (a radix sort with a digit function per pass cost 6 times more, 360 ms for 1M keys).
 */
export function* sortOrder(b: KeyBatch, into?: Uint32Array): Generator<void, Uint32Array> {
  const { hi, lo, n } = b;
  const start = new Uint32Array(65_537);
  // Steps of ~2-3 ms at most on this machine (bench/seal-steps.ts): the count's 256k keys read in order, the
  // scatter's 64k keys and the insertion sort's 512 buckets (~8k keys) written out of order.
  for (let i = 0; i < n; i++) {
    (start[((hi[i] as number) >>> 16) + 1] as number)++;
    if ((i & 0x3ffff) === 0x3ffff) yield;
  }
  for (let v = 1; v < start.length; v++) start[v] = (start[v] as number) + (start[v - 1] as number);
  const fill = start.slice(0, 65_536);
  const order = into && into.length >= n ? into : new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const v = (hi[i] as number) >>> 16;
    order[fill[v] as number] = i;
    fill[v] = (fill[v] as number) + 1;
    if ((i & 0xffff) === 0xffff) yield;
  }
  yield;
  for (let v = 0; v < 65_536; v++) {
    if ((v & 511) === 511) yield;
    const to = start[v + 1] as number;
    for (let i = (start[v] as number) + 1; i < to; i++) {
      const x = order[i] as number;
      const xh = hi[x] as number;
      const xl = lo[x] as number;
      let j = i - 1;
      for (; j >= (start[v] as number); j--) {
        const y = order[j] as number;
        const yh = hi[y] as number;
        if (yh < xh || (yh === xh && (lo[y] as number) <= xl)) break;
        order[j + 1] = y;
      }
      order[j + 1] = x;
    }
  }
  return order;
}

export class KeyRun {
  private readonly page = Buffer.alloc(PAGE);
  /** The page's words: records are written and read in the machine's byte order (the files never travel). */
  private readonly words = new Uint32Array(this.page.buffer, this.page.byteOffset, PAGE / 4);

  private constructor(
    readonly path: string,
    private readonly fd: number,
    readonly count: number,
    readonly minSec: number,
    readonly maxSec: number,
    /** Index of each filter shard's first key (SHARD_COUNT + 1 entries). */
    readonly shardStart: Uint32Array,
    private readonly pageHi: Uint32Array,
    private readonly pageLo: Uint32Array,
  ) {}

  /** Writes the batch, sorted by `order`, to `path` and opens it for reading; yields after each 16k keys written. */
  static *write(path: string, b: KeyBatch, order: Uint32Array): Generator<void, KeyRun> {
    const pages = Math.ceil(b.n / PAGE_KEYS);
    const pageHi = new Uint32Array(pages);
    const pageLo = new Uint32Array(pages);
    const shardStart = new Uint32Array(SHARD_COUNT + 1);
    let minSec = Number.MAX_SAFE_INTEGER;
    let maxSec = 0;
    const chunk = Buffer.alloc(PAGE * 64);
    const words = new Uint32Array(chunk.buffer, chunk.byteOffset, chunk.length / 4);
    const fd = openSync(path, 'w+');
    try {
      let used = 0;
      let shard = 0;
      for (let i = 0; i < b.n; i++) {
        const at = order[i] as number;
        const hi = b.hi[at] as number;
        const lo = b.lo[at] as number;
        const sec = b.sec[at] as number;
        if (i % PAGE_KEYS === 0) {
          pageHi[i / PAGE_KEYS] = hi;
          pageLo[i / PAGE_KEYS] = lo;
        }
        for (const s = shardOf(hi); shard < s; ) shardStart[++shard] = i;
        if (sec < minSec) minSec = sec;
        if (sec > maxSec) maxSec = sec;
        const w = used / 4;
        words[w] = hi;
        words[w + 1] = lo;
        words[w + 2] = sec;
        used += RECORD;
        if (used === chunk.length) {
          writeAll(fd, chunk, used);
          used = 0;
          yield;
        }
      }
      writeAll(fd, chunk, used);
      while (shard < SHARD_COUNT) shardStart[++shard] = b.n;
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    return new KeyRun(path, fd, b.n, minSec, maxSec, shardStart, pageHi, pageLo);
  }

  /** Bytes of memory the run holds (its page index and shard offsets). */
  get bytes(): number {
    return this.pageHi.byteLength + this.pageLo.byteLength + this.shardStart.byteLength;
  }

  /** The second the key was first seen, or -1 when the run does not hold it: one pread. */
  find(hi: number, lo: number): number {
    // The last page whose first key is at most (hi, lo).
    let a = 0;
    let z = this.pageHi.length - 1;
    if (z < 0 || before(hi, lo, this.pageHi[0] as number, this.pageLo[0] as number)) return -1;
    while (a < z) {
      const m = (a + z + 1) >>> 1;
      if (before(hi, lo, this.pageHi[m] as number, this.pageLo[m] as number)) z = m - 1;
      else a = m;
    }
    const keys = Math.min(PAGE_KEYS, this.count - a * PAGE_KEYS);
    readAll(this.fd, this.page, keys * RECORD, a * PAGE);
    let l = 0;
    let r = keys - 1;
    while (l <= r) {
      const m = (l + r) >>> 1;
      const mh = this.words[m * 3] as number;
      const ml = this.words[m * 3 + 1] as number;
      if (mh === hi && ml === lo) return this.words[m * 3 + 2] as number;
      if (before(hi, lo, mh, ml)) r = m - 1;
      else l = m + 1;
    }
    return -1;
  }

  /** Calls `fn` with every key of a filter shard (a contiguous range of the sorted run). */
  eachInShard(shard: number, fn: (hi: number, lo: number) => void): void {
    const from = this.shardStart[shard] as number;
    const to = this.shardStart[shard + 1] as number;
    const buf = Buffer.alloc(Math.min(to - from, 65_536) * RECORD);
    const words = new Uint32Array(buf.buffer, buf.byteOffset, buf.length / 4);
    for (let at = from; at < to; ) {
      const n = Math.min(to - at, buf.length / RECORD);
      readAll(this.fd, buf, n * RECORD, at * RECORD);
      for (let i = 0; i < n; i++) fn(words[i * 3] as number, words[i * 3 + 1] as number);
      at += n;
    }
  }

  /** Closes and deletes the file. */
  drop(): void {
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    rmSync(this.path, { force: true });
  }
}

const before = (hi: number, lo: number, h2: number, l2: number): boolean => hi < h2 || (hi === h2 && lo < l2);

function writeAll(fd: number, buf: Buffer, length: number): void {
  for (let off = 0; off < length; ) off += writeSync(fd, buf, off, length - off);
}

function readAll(fd: number, buf: Buffer, length: number, position: number): void {
  for (let off = 0; off < length; ) {
    const n = readSync(fd, buf, off, length - off, position + off);
    if (n === 0) throw new Error(`dedupe run: short read at ${position + off}`);
    off += n;
  }
}
