// The dedupe memory of the file log, exact, with memory that does not grow at 17.5 bytes a key for the whole
// window. Recent keys sit in an exact table (keyset.ts, ~17.5 B a key). Once it holds `sealKeys` keys, or is
// an hour old, it is sealed: its keys are sorted into a run file in the log's `dedupe/` folder (key-runs.ts,
// 12 B a key on disk) and their 12-bit fingerprints go into one cuckoo filter over every sealed key
// (cuckoo.ts, 1.6-2.1 B a key, plus 0.03 B of page index). A lookup asks the exact tables, then the filter
// (two buckets, no I/O); only a filter hit (an old duplicate, or a false positive for 0.17% of new keys) reads
// the runs, one 3 KB pread each, newest first, so the answer stays exact. Runs whose newest key is past the
// window are dropped whole: their fingerprints are deleted from the filter and the file removed. Tombstones
// (deleted users' messageIds) stay in a small exact table of their own, forever.
//
// Measured (bench/dedupe-micro.ts, 50M keys in 48 runs, 2 busy cores): memory grew 1.86 B of RSS a key from
// 10M to 50M keys; a lookup of a new key cost 1.2 us of CPU (0.55 at 2M keys: the filter then fits the
// caches); an old duplicate 69 us (27 run pages read on average); a seal 0.45-0.5 us a key. The run count is
// what an old duplicate or a false positive pays for: at 1k events/s and 1M keys a seal, a 48 h window holds
// ~170 runs, so a false positive (1.7 a second) reads ~170 pages and an old duplicate ~85. Merging runs
// (a larger sealKeys costs ~36 B a key of exact memory instead) is the next step if that ever shows.
//
// A start rebuilds it all from the store (sink.dedupeKeys) and the unloaded segments; the run files of the
// previous run are deleted first, so they never need to agree with the store after a crash.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { makeDir } from '../../core/fs.ts';
import { nextTurn } from '../../core/turns.ts';
import { CuckooShard, SHARD_COUNT, shardOf } from './cuckoo.ts';
import { type KeyBatch, KeyRun, sortOrder } from './key-runs.ts';
import { type DedupeSet, FOREVER, KeySet } from './keyset.ts';

export interface DedupeOptions {
  /** The folder of run files (emptied at open). */
  dir: string;
  /** Keys in the exact table before it is sealed. Default 1M (~18 MB, plus ~24 MB while it is sealed). */
  sealKeys?: number;
  /** Age of the exact table (ms since the last seal) after which it is sealed, whatever its size. Default 1 h. */
  sealAfterMs?: number;
}

const HOUR = 3_600_000;
const seconds = (d: Date): number => Math.min(FOREVER - 1, Math.max(0, Math.floor(d.getTime() / 1000)));
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

export class DedupeMemory implements DedupeSet {
  private current = new KeySet();
  /** The last sealed table, emptied, to be the next current one. */
  private spare: KeySet | null = null;
  private keys: KeyBatch | null = null;
  private order: Uint32Array | undefined;
  /** The table being sealed: still answers until its keys are all in the filter. */
  private sealing: KeySet | null = null;
  private readonly forever = new KeySet(64);
  private shards = Array.from({ length: SHARD_COUNT }, () => new CuckooShard(0));
  private runs: KeyRun[] = [];
  private runSeq = 0;
  /** Keys first seen before this second are forgotten (a run may still hold them until it is dropped). */
  private forgetBefore = 0;
  private sealedAt = Date.now();
  private added = 0;
  private sealQueued = false;
  /** Seals and purges, one at a time. */
  private work: Promise<unknown> = Promise.resolve();
  /** While true (the start's rebuild), a full table is sealed at once, synchronously. */
  private bulk = false;
  private readonly sealKeys: number;
  private readonly sealAfterMs: number;
  /** Adds between two looks at the table's size (a sum over its shards). */
  private readonly checkEvery: number;
  /** Run pages read to confirm filter hits, and the hits that were not in any run (false positives). */
  reads = 0;
  falseHits = 0;

  constructor(private readonly opts: DedupeOptions) {
    this.sealKeys = opts.sealKeys ?? 1 << 20;
    this.sealAfterMs = opts.sealAfterMs ?? HOUR;
    this.checkEvery = Math.min(256, Math.max(1, Math.floor(this.sealKeys / 8)));
    // The previous run's files: the rebuild writes its own. The folder is made at the first seal.
    if (existsSync(opts.dir))
      for (const f of readdirSync(opts.dir)) rmSync(join(opts.dir, f), { force: true });
  }

  /** Runs `fill` (the start's rebuild) with tables sealed as they fill, so it holds ~sealKeys keys exactly. */
  async rebuild(fill: () => Promise<void> | void): Promise<void> {
    this.bulk = true;
    try {
      await fill();
    } finally {
      this.bulk = false;
    }
  }

  /** The words of the key last split (no allocation per lookup): its first byte, and its low 64 bits. */
  private top = 0;
  private hi = 0;
  private lo = 0;

  private split(key: string): void {
    this.top = Number.parseInt(key.slice(0, 2), 16);
    this.hi = Number.parseInt(key.slice(16, 24), 16);
    this.lo = Number.parseInt(key.slice(24, 32), 16);
  }

  has(key: string): boolean {
    this.split(key);
    const { top, hi, lo } = this;
    return this.current.hasWords(top, hi, lo) || this.older(top, hi, lo);
  }

  /** Whether a key not in the current table is held: a tombstone, in the table being sealed, or in a run. */
  private older(top: number, hi: number, lo: number): boolean {
    if (this.forever.hasWords(top, hi, lo) || this.sealing?.hasWords(top, hi, lo)) return true;
    if (!(this.shards[shardOf(hi)] as CuckooShard).has(hi, lo)) return false;
    return this.confirm(hi, lo);
  }

  /** has() then add(), with the key parsed once and the current table probed once (every accepted event). */
  addNew(key: string, at: Date): boolean {
    this.split(key);
    const { top, hi, lo } = this;
    // Older keys first: a key is only placed in the current table once it is known to be new.
    if (this.older(top, hi, lo)) return false;
    if (!this.current.addNewWords(top, hi, lo, seconds(at))) return false;
    if (++this.added % this.checkEvery === 0 && !this.sealQueued) this.checkSeal();
    return true;
  }

  /** A filter hit: looks the key up in the runs, newest first. */
  private confirm(hi: number, lo: number): boolean {
    for (let i = this.runs.length - 1; i >= 0; i--) {
      const run = this.runs[i] as KeyRun;
      if (run.maxSec < this.forgetBefore) continue;
      this.reads++;
      if (run.find(hi, lo) >= this.forgetBefore) return true;
    }
    this.falseHits++;
    return false;
  }

  add(key: string, at: Date | typeof FOREVER): void {
    this.addSeconds(key, at === FOREVER ? FOREVER : seconds(at));
  }

  /** add() with the time in seconds since the epoch (FOREVER or more: a tombstone, never forgotten). */
  addSeconds(key: string, sec: number): void {
    if (sec >= FOREVER) {
      this.forever.addSeconds(key, FOREVER);
      return;
    }
    this.current.addSeconds(key, sec);
    if (++this.added % this.checkEvery === 0 && !this.sealQueued) this.checkSeal();
  }

  private checkSeal(): void {
    const size = this.current.size;
    if (size < this.sealKeys && !(size > 0 && Date.now() - this.sealedAt >= this.sealAfterMs)) return;
    if (this.bulk) {
      for (const _ of this.sealSteps());
      return;
    }
    this.sealQueued = true;
    this.seal().catch(() => {});
  }

  /** Seals the exact table (after the seal or purge in progress). */
  seal(): Promise<void> {
    return this.queue(async () => {
      this.sealQueued = false;
      // Each step takes a turn of the event loop's (core/turns.ts), as requests do: run back to back while the
      // turn has time, else after the requests waiting before it. With an immediate of its own, a step ran on top
      // of a turn's 8 ms of requests in the same iteration: the full run's on-CPU stalls of 20-25 ms each held
      // 12-16 ms of requests and a 4-8 ms seal step (bench/stalls.ts on `--stall-prof`).
      for (const _ of this.sealSteps()) {
        const turn = nextTurn();
        if (turn) await turn;
      }
    });
  }

  private queue<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.work.then(fn);
    this.work = p.catch(() => {});
    return p;
  }

  /**
   * One seal, in steps the caller runs at once (the start) or with the event loop free between them. At 1M keys
   * the longest step holds the loop 2-8 ms (bench/seal-steps.ts, 3 runs: 4.3-11.5 ms with steps four times as
   * large, and 17-28 ms when the collection, the counting sort and eight filter shards were a step each); the
   * seal's whole CPU is the same (~0.3-0.45 s). The longest are now the first seal's allocations.
   */
  private *sealSteps(): Generator<void> {
    const table = this.current;
    this.sealedAt = Date.now();
    if (table.size === 0) return;
    this.sealing = table;
    // The table sealed last time, emptied: its memory is reused rather than grown again from 64k slots.
    this.current = this.spare ?? new KeySet();
    this.spare = null;
    const n = table.size;
    const batch = this.batch(n);
    yield* table.forEachSteps((hi, lo, sec) => {
      batch.hi[batch.n] = hi;
      batch.lo[batch.n] = lo;
      batch.sec[batch.n++] = sec;
    }, 2);
    const order = yield* sortOrder(batch, this.order);
    this.order = order;
    yield;
    if (this.runSeq === 0) makeDir(this.opts.dir);
    const path = join(this.opts.dir, `${String(++this.runSeq).padStart(8, '0')}.keys`);
    const run = yield* KeyRun.write(path, batch, order);
    this.runs.push(run);
    yield;
    for (let s = 0; s < SHARD_COUNT; s++) {
      const from = run.shardStart[s] as number;
      const to = run.shardStart[s + 1] as number;
      let shard = this.shards[s] as CuckooShard;
      // An empty shard too small for these keys is replaced without reading the disk.
      if (shard.count === 0 && !shard.fits(to - from)) {
        shard = new CuckooShard(to - from);
        this.shards[s] = shard;
      }
      if (!shard.fits(to - from)) this.rebuildShard(s);
      else {
        for (let i = from; i < to; i++) {
          const at = order[i] as number;
          if (!shard.add(batch.hi[at] as number, batch.lo[at] as number)) {
            this.rebuildShard(s); // from the runs, this one included: the rest of its keys too
            break;
          }
        }
      }
      yield;
    }
    this.sealing = null;
    yield* table.emptySteps();
    this.spare = table;
  }

  /**
   * The seal's arrays, kept from one seal to the next: allocated anew each time, glibc kept the freed blocks
   * and RSS rose ~13 B a key in bench/dedupe-micro.ts where the live memory was 1.8.
   */
  private batch(n: number): KeyBatch {
    const b = this.keys;
    if (b !== null && b.hi.length >= n) {
      b.n = 0;
      return b;
    }
    const size = Math.ceil(n * 1.25);
    this.keys = { hi: new Uint32Array(size), lo: new Uint32Array(size), sec: new Uint32Array(size), n: 0 };
    this.order = undefined;
    return this.keys;
  }

  /** Builds a shard anew from every run's keys, sized for them (larger again if an insert fails). */
  private rebuildShard(s: number): void {
    let keys = 0;
    for (const run of this.runs) keys += (run.shardStart[s + 1] as number) - (run.shardStart[s] as number);
    for (let size = keys; ; size = Math.ceil(size * 1.1) + 16) {
      const shard = new CuckooShard(size);
      let ok = true;
      for (const run of this.runs) {
        run.eachInShard(s, (hi, lo) => {
          if (ok && !shard.add(hi, lo)) ok = false;
        });
      }
      if (ok) {
        this.shards[s] = shard;
        return;
      }
    }
  }

  /**
   * Forgets keys first seen before `before` (never tombstones): at once for lookups, and in memory for the
   * exact table and for every run whose newest key is older; returns how many keys left memory.
   */
  purge(before: Date): Promise<number> {
    const cut = Math.max(1, seconds(before));
    return this.queue(async () => {
      this.forgetBefore = Math.max(this.forgetBefore, cut);
      let forgotten = await this.current.purge(before);
      const expired = this.runs.filter((r) => r.maxSec < cut);
      this.runs = this.runs.filter((r) => r.maxSec >= cut);
      for (const old of expired) {
        for (let s = 0; s < SHARD_COUNT; s++) {
          const shard = this.shards[s] as CuckooShard;
          const n = (old.shardStart[s + 1] as number) - (old.shardStart[s] as number);
          if (n > 0) old.eachInShard(s, (hi, lo) => shard.delete(hi, lo));
          if (shard.sparse) this.rebuildShard(s);
          if ((s & 15) === 15) await tick();
        }
        forgotten += old.count;
        old.drop();
      }
      return forgotten;
    });
  }

  /** Keys held: exact (recent and tombstones) and sealed. */
  get size(): { exact: number; sealed: number; forever: number } {
    let sealed = 0;
    for (const r of this.runs) sealed += r.count;
    return {
      exact: this.current.size + (this.sealing?.size ?? 0),
      sealed,
      forever: this.forever.size,
    };
  }

  /** Bytes of memory: the exact tables, and the filter with the runs' page indexes. */
  get bytes(): { exact: number; sealed: number } {
    let sealed = 0;
    for (const s of this.shards) sealed += s.words.byteLength;
    for (const r of this.runs) sealed += r.bytes;
    return {
      exact: this.current.bytes + (this.sealing?.bytes ?? 0) + this.forever.bytes,
      sealed,
    };
  }

  /** Waits for the seal or purge in progress. */
  async idle(): Promise<void> {
    await this.work;
  }

  /** Closes and deletes the run files once the seal or purge in progress is done. */
  async close(): Promise<void> {
    await this.work;
    for (const r of this.runs) r.drop();
    this.runs = [];
  }
}
