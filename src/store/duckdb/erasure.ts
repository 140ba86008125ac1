// When deleted rows' bytes leave the file: one purge (purge.ts) for every deletion done since the last, at the
// latest the purge interval after the oldest of them was done, or earlier on demand; never one per deletion,
// and none when no deletion found anything to delete.
import type { PurgeResult, PurgeStatus } from '../types.ts';
import { fileBytes } from './compact.ts';
import type { Db } from './db.ts';
import { markErased, unerased } from './deletions.ts';
import { type PurgeHost, purgeFile } from './purge.ts';

/** Calls `fire` after `ms`; returns a function that cancels it. */
export type Timer = (ms: number, fire: () => void) => () => void;

/** setTimeout, unref'd, in steps a timeout can hold (at most 2^31-1 ms, under 25 days). */
export const realTimer: Timer = (ms, fire) => {
  const end = Date.now() + ms;
  let t: NodeJS.Timeout;
  const arm = (left: number) => {
    t = setTimeout(
      () => {
        const rest = end - Date.now();
        if (rest > 0) arm(rest);
        else fire();
      },
      Math.min(left, 2 ** 31 - 1),
    );
    t.unref();
  };
  arm(ms);
  return () => clearTimeout(t);
};

const HOUR = 3_600_000;
/** After a scheduled purge failed (a full disk, say): the next try. */
const RETRY_MS = 15 * 60_000;

export interface ErasureHost {
  /** The database file, or ':memory:'. */
  readonly path: string;
  /** The connection for reads (it changes when the file is swapped). */
  db(): Db;
  /** Runs fn after the deletion jobs and purges queued before it. */
  enqueue<T>(fn: () => Promise<T>): Promise<T>;
  purgeHost(): PurgeHost;
}

export class PurgeSchedule {
  private running = false;
  private last: PurgeResult | null = null;
  private lastError: string | null = null;
  private cancel: (() => void) | null = null;
  private closed = false;

  constructor(
    private readonly host: ErasureHost,
    /** Hours; 0 purges right after each deletion. */
    private readonly intervalHours: number,
    private readonly timer: Timer = realTimer,
  ) {}

  /** One rewrite for every deletion done and not yet erased, after the jobs queued before it. */
  purge(): Promise<PurgeResult> {
    return this.host.enqueue(() =>
      this.run().catch((err: unknown) => {
        this.lastError = String(err);
        throw err;
      }),
    );
  }

  async status(): Promise<PurgeStatus> {
    const { count, oldest } = await unerased(this.host.db());
    return {
      waiting: count,
      oldestDeletedAt: oldest,
      dueBy: oldest && new Date(oldest.getTime() + this.intervalHours * HOUR),
      intervalHours: this.intervalHours,
      running: this.running,
      last: this.last,
      lastError: this.lastError,
    };
  }

  /** Sets the timer for the oldest deletion not yet erased, or clears it when there is none. */
  async arm(): Promise<void> {
    const { oldest } = await unerased(this.host.db());
    this.cancel?.();
    this.cancel = null;
    if (!oldest || this.closed) return;
    const fire = () => {
      this.cancel = null;
      this.purge().catch(() => {
        if (!this.closed) this.cancel = this.timer(RETRY_MS, fire);
      });
    };
    this.cancel = this.timer(Math.max(0, oldest.getTime() + this.intervalHours * HOUR - Date.now()), fire);
  }

  close(): void {
    this.closed = true;
    this.cancel?.();
  }

  private async run(): Promise<PurgeResult> {
    const startedAt = new Date();
    const t0 = performance.now();
    const bytesBefore = fileBytes(this.host.path);
    const result = (rewritten: boolean, deletions: number, held = { writesHeldMs: 0, readsHeldMs: 0 }) => ({
      rewritten,
      deletions,
      startedAt,
      durationMs: Math.round(performance.now() - t0),
      writesHeldMs: Math.round(held.writesHeldMs),
      readsHeldMs: Math.round(held.readsHeldMs),
      bytesBefore,
      bytesAfter: fileBytes(this.host.path),
    });
    if ((await unerased(this.host.db())).count === 0) return result(false, 0);
    // Nothing on disk to rewrite.
    if (this.host.path === ':memory:') return result(false, await markErased(this.host.db(), new Date()));
    this.running = true;
    let done: PurgeResult;
    try {
      const file = await purgeFile(this.host.purgeHost());
      done = result(true, file.erased, file);
    } finally {
      this.running = false;
    }
    this.last = done;
    this.lastError = null;
    await this.arm().catch(() => {});
    return done;
  }
}
