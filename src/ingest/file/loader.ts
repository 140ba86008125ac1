// The loader: has the store's sink load the log's segments, one after another, off the request path. The log closes a
// segment when it is full (IngestLog segmentLines); the loader closes the open one when its first line is
// `delayMs` old, or at once when a read asks for everything acknowledged (settled()). While a load runs, the
// next segment fills, so under load the batches grow by themselves, up to a full segment. A failed load is retried with backoff; its lines stay durable in
// the log meanwhile, and past the log's queue limit ingest answers 503. A read waits at most `readWaitMs` for
// the loads it needs, then answers 503 + Retry-After: a request must not hang on a backlog or a stuck load.
import { Alarm } from '../../core/alarm.ts';
import { DEFAULT_READ_WAIT_MS } from '../../core/config.ts';
import { IntakeError } from '../../core/errors.ts';
import type { EventSink } from '../../store/types.ts';
import type { Segment, SegmentLog } from './segments.ts';

export interface LoaderOptions {
  /** How long the first line of a segment waits for others before the segment is loaded. */
  delayMs: number;
  /** Store maintenance run between loads when due (it must not interleave with one). */
  maintenance?: { everyMs: number; run(): Promise<void> };
  onError?(err: unknown): void;
  /** After each load: the segment, and how long its load took in ms. */
  onLoaded?(seg: Segment, ms: number): void;
  /** Longest a read waits for the loads it needs before it answers 503 READ_TIMEOUT, in ms. Default 30000. */
  readWaitMs?: number;
}

interface Waiter {
  seq: number;
  resolve(): void;
  reject(err: unknown): void;
  timer: NodeJS.Timeout;
}

const MAX_BACKOFF_MS = 5_000;

export class Loader {
  private readonly queue: Segment[];
  private loadedThrough: number;
  private waiters: Waiter[] = [];
  private readonly alarm = new Alarm();
  /** Close the open segment without waiting for delayMs. */
  private urgent = false;
  private stopping = false;
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private done: Promise<void> = Promise.resolve();
  private nextMaintenance: number;
  /**
   * Segments loaded that the store does not yet hold durably (sink.durableThrough: a store without a log of its
   * own, until its next checkpoint), oldest first: their files stay, and a restart loads them again.
   */
  private covering: Array<{ seq: number; path: string }> = [];

  constructor(
    private readonly log: SegmentLog,
    private readonly sink: EventSink,
    private readonly opts: LoaderOptions,
    /** Segments a previous run left unloaded (IngestLog.open), and the seq loaded before them. */
    recovered: { unloaded: Segment[]; loadedThrough: number },
  ) {
    this.queue = [...recovered.unloaded];
    this.loadedThrough = recovered.loadedThrough;
    this.nextMaintenance = Date.now() + (opts.maintenance?.everyMs ?? 0);
  }

  start(): void {
    this.done = this.loop();
  }

  /** Told by the log after each write. */
  written(): void {
    if (this.log.full > 0) this.poke(true);
    else if (this.timer === null) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.poke(false);
      }, this.opts.delayMs);
      this.timer.unref();
    }
  }

  /**
   * Resolves when every line acknowledged before the call is loaded: reads call it first, so a client sees its
   * own writes. Rejects with STORE_UNAVAILABLE if a load fails meanwhile, and with READ_TIMEOUT after
   * `readWaitMs` (both with Retry-After); the loads go on either way.
   */
  settled(): Promise<void> {
    const open = this.log.open;
    const seq = open.lines > 0 ? open.seq : open.seq - 1;
    if (this.loadedThrough >= seq) return Promise.resolve();
    const waitMs = this.opts.readWaitMs ?? DEFAULT_READ_WAIT_MS;
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = {
        seq,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((x) => x !== w);
          reject(
            new IntakeError(
              'INTAKE_ERR_READ_TIMEOUT',
              `the events acknowledged before this read are still being loaded after ${waitMs} ms (${this.log.pending} waiting); retry`,
              undefined,
              { 'retry-after': '1' },
            ),
          );
        }, waitMs),
      };
      this.waiters.push(w);
      this.poke(true);
    });
  }

  /** Loads everything the (closed) log holds, then stops. */
  async close(): Promise<void> {
    this.stopping = true;
    this.poke(true);
    await this.done;
    if (this.timer) clearTimeout(this.timer);
  }

  private poke(urgent: boolean): void {
    if (urgent) this.urgent = true;
    this.alarm.wake();
  }

  private async loop(): Promise<void> {
    for (;;) {
      if (this.queue.length === 0) {
        await this.maybeMaintain();
        this.discardCovered(); // a checkpoint meanwhile (an admin write's, a purge's) covers the loads before it
        const open = this.log.open;
        const due = open.lines === 0 ? Number.POSITIVE_INFINITY : open.firstAt + this.opts.delayMs;
        if (open.lines === 0 && this.log.full === 0 && this.stopping) return;
        if (!this.urgent && !this.stopping && this.log.full === 0 && Date.now() < due) {
          await this.alarm.sleep(Number.isFinite(due) ? due - Date.now() : 60_000);
          continue;
        }
        this.urgent = false;
        const seg = await this.log.next();
        if (seg) this.queue.push(seg);
      }
      const seg = this.queue[0];
      if (!seg) continue;
      const started = performance.now();
      try {
        await this.sink.load(seg);
      } catch (err) {
        this.failures++;
        this.opts.onError?.(err);
        this.settle(err);
        // At shutdown the segment stays in the log and the next start loads it.
        if (this.stopping) return;
        await this.alarm.sleep(Math.min(MAX_BACKOFF_MS, 50 * 2 ** this.failures));
        continue;
      }
      this.opts.onLoaded?.(seg, performance.now() - started);
      this.failures = 0;
      this.queue.shift();
      this.loadedThrough = seg.seq;
      this.log.loaded(seg);
      this.covering.push({ seq: seg.seq, path: seg.path });
      this.discardCovered();
      this.settle(null);
    }
  }

  /** Deletes the files of the loaded segments the store now holds durably. */
  private discardCovered(): void {
    const through = this.sink.durableThrough?.() ?? this.loadedThrough;
    let n = 0;
    while (n < this.covering.length && (this.covering[n]?.seq ?? 0) <= through) {
      this.log.discard((this.covering[n] as { path: string }).path);
      n++;
    }
    if (n > 0) this.covering.splice(0, n);
  }

  /** Resolves the readers now satisfied; after a failed load, rejects those still waiting. */
  private settle(failure: unknown): void {
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (w.seq <= this.loadedThrough) {
        clearTimeout(w.timer);
        w.resolve();
      } else if (failure !== null) {
        clearTimeout(w.timer);
        w.reject(
          new IntakeError(
            'INTAKE_ERR_STORE_UNAVAILABLE',
            'accepted events could not be loaded into the store yet (they are kept in the ingest log); retry',
            undefined,
            { 'retry-after': '1' },
          ),
        );
      } else still.push(w);
    }
    this.waiters = still;
  }

  private async maybeMaintain(): Promise<void> {
    const m = this.opts.maintenance;
    if (!m || Date.now() < this.nextMaintenance) return;
    this.nextMaintenance = Date.now() + m.everyMs;
    await m.run().catch((err) => this.opts.onError?.(err));
  }
}
