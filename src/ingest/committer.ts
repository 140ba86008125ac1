// Group commit: requests that arrive while a write is in flight are gathered into the next transaction,
// and each caller's promise settles only after that transaction is committed.
import { IntakeError } from '../http/errors.ts';
import type { Store, WriteBatch, WriteResult } from '../store/types.ts';

interface Pending {
  batch: WriteBatch;
  size: number;
  resolve(r: WriteResult): void;
  reject(e: unknown): void;
}

export interface CommitterOptions {
  /** Most events (plus rejections) in one transaction. Default 5000. */
  maxEvents: number;
  /** Most events waiting; past it submit() throws INTAKE_ERR_OVERLOADED. Default 50000. */
  queueLimit: number;
  /** Called between transactions when due: store maintenance that must not interleave with a write. */
  maintenance?: { everyMs: number; run(): Promise<void> };
  onError?(err: unknown): void;
}

export class GroupCommitter {
  private queue: Pending[] = [];
  private queued = 0;
  private running = false;
  private closed = false;
  private idle: Promise<void> = Promise.resolve();
  private nextMaintenance: number;

  constructor(
    private readonly store: Store,
    private readonly opts: CommitterOptions,
  ) {
    this.nextMaintenance = Date.now() + (opts.maintenance?.everyMs ?? 0);
  }

  /** Events waiting for a commit. */
  get pending(): number {
    return this.queued;
  }

  submit(batch: WriteBatch): Promise<WriteResult> {
    if (this.closed) throw new IntakeError('INTAKE_ERR_SHUTTING_DOWN', 'the server is shutting down; retry');
    const size = batch.events.length + batch.rejected.length;
    if (size === 0) return Promise.resolve({ duplicate: [] });
    if (this.queued > 0 && this.queued + size > this.opts.queueLimit) {
      throw new IntakeError(
        'INTAKE_ERR_OVERLOADED',
        `${this.queued} events are waiting to be committed (limit ${this.opts.queueLimit}); retry shortly`,
        undefined,
        { 'retry-after': '1' },
      );
    }
    return new Promise<WriteResult>((resolve, reject) => {
      this.queue.push({ batch, size, resolve, reject });
      this.queued += size;
      if (!this.running) {
        this.running = true;
        // Yield once so requests parsed in the same tick join this first transaction.
        this.idle = new Promise<void>((done) => setImmediate(() => this.loop().finally(done)));
      }
    });
  }

  private async loop(): Promise<void> {
    while (this.queue.length > 0) {
      const group: Pending[] = [];
      let size = 0;
      while (
        this.queue.length > 0 &&
        (group.length === 0 || size + (this.queue[0] as Pending).size <= this.opts.maxEvents)
      ) {
        const p = this.queue.shift() as Pending;
        group.push(p);
        size += p.size;
      }
      await this.commit(group);
      this.queued -= size;
      await this.maybeMaintain();
    }
    this.running = false;
  }

  private async commit(group: Pending[]): Promise<void> {
    const merged: WriteBatch =
      group.length === 1
        ? (group[0] as Pending).batch
        : { events: group.flatMap((p) => p.batch.events), rejected: group.flatMap((p) => p.batch.rejected) };
    try {
      const { duplicate } = await this.store.writeEvents(merged);
      let at = 0;
      for (const p of group) {
        const n = p.batch.events.length;
        p.resolve({ duplicate: duplicate.slice(at, at + n) });
        at += n;
      }
    } catch (err) {
      this.opts.onError?.(err);
      if (group.length > 1) {
        // One request's data may be what the database refused: retry each alone so the others still land.
        for (const p of group) await this.commit([p]);
        return;
      }
      (group[0] as Pending).reject(
        new IntakeError(
          'INTAKE_ERR_STORE_UNAVAILABLE',
          'the events could not be committed; nothing was stored, retry',
        ),
      );
    }
  }

  private async maybeMaintain(): Promise<void> {
    const m = this.opts.maintenance;
    if (!m || Date.now() < this.nextMaintenance) return;
    this.nextMaintenance = Date.now() + m.everyMs;
    await m.run().catch((err) => this.opts.onError?.(err));
  }

  /** Runs maintenance if it is due and no write is in flight (called from a timer). */
  tick(): void {
    if (this.running || this.closed) return;
    this.running = true;
    this.idle = this.maybeMaintain().then(() => this.loop());
  }

  /** Refuses new work and waits until everything queued is committed. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.running) await this.idle;
  }
}
