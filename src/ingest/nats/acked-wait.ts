// Read-your-writes on a node that does not load (an API node apart from the loaders): a read waits until every
// message in the stream when it began has been acknowledged by its loader. Loaders acknowledge a message only
// once the store committed its rows, and the stream is a work queue (stream.ts), so an acknowledged message is
// deleted from it: "every message up to the stream's last seq at the start of the read is gone" is "everything
// acknowledged to any client before the read is loaded", whichever loader process owns which partition.
//
// One JetStream request answers both halves: stream info's state (first_seq, last_seq, messages). A read's
// target is the last_seq of the first answer to a request sent after the read began; it is settled once an
// answer has first_seq past the target, or no message at all. Reads arriving together share requests (one in
// flight at a time; each answer serves every read waiting), and a read arriving while the poller sleeps wakes it.
// Loaders announce each load's acks on a core NATS subject (stream.ts ackedSubject): the poller asks again at
// once instead of at its next pause (1, 2, 4 ... ms up to 50), which stays as the fallback.
//
// Why not the consumers' ack floors (consumer info ack_floor.stream_seq per partition, against the partition's
// last seq by subject): measured on nats-server 2.9.10 (Debian's), a filtered consumer's ack floor counts seqs of
// other subjects (acking seqs 1, 3, 5 of its subject reported a floor of 6 while seq 6, another subject's, was
// unacknowledged), and an idle partition's floor stays 0 after the others moved on; it also takes 2 requests per
// partition a round where stream info takes one for all. The work queue's deletion is what the log relies on
// anyway (a full stream refuses new messages).
import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { Alarm } from '../../core/alarm.ts';
import { DEFAULT_READ_WAIT_MS } from '../../core/config.ts';
import { IntakeError } from '../../core/errors.ts';

export interface AckedWaitOptions {
  /** Longest a read waits before READ_TIMEOUT, in ms. Default 30000. */
  readWaitMs?: number;
  /** Longest pause between two requests while reads wait, in ms (the first pauses are shorter). Default 50. */
  maxPollMs?: number;
  /**
   * A cheap read of the store (its checkpoint), run while reads wait, at most once a second while it succeeds:
   * when it fails (the store is down, so loads fail and the stream does not drain), the waiting reads fail with
   * its error at once, as on a node that loads, instead of READ_TIMEOUT after the whole wait.
   */
  storeCheck?: () => Promise<unknown>;
}

interface Waiter {
  /** The stream's last seq in the first answer to a request sent after the read began; null until then. */
  target: number | null;
  resolve(): void;
  reject(err: unknown): void;
  timer: NodeJS.Timeout;
}

interface StreamState {
  first_seq: number;
  last_seq: number;
  messages: number;
}

/** Pauses between requests while reads wait: 1, 2, 4, ... ms up to maxPollMs. */
const FIRST_POLL_MS = 1;
/** Least time between two store checks (storeCheck). */
const STORE_CHECK_MS = 1_000;

export class AckedWait {
  private waiters: Waiter[] = [];
  private running = false;
  private readonly alarm = new Alarm();
  private closed = false;
  /** The last answer, and the last failure since it (for the READ_TIMEOUT message). */
  private last: StreamState | null = null;
  private failure: unknown = null;
  /** Counters, for measurement: reads waited for, stream info requests sent, acks announced. */
  readonly stats = { reads: 0, requests: 0, pokes: 0 };

  constructor(
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    private readonly opts: AckedWaitOptions = {},
  ) {}

  /** Resolves once every message in the stream when it was called has been acknowledged (so is loaded). */
  settled(): Promise<void> {
    if (this.closed)
      return Promise.reject(
        new IntakeError('INTAKE_ERR_SHUTTING_DOWN', 'the server is shutting down; retry'),
      );
    this.stats.reads++;
    const waitMs = this.opts.readWaitMs ?? DEFAULT_READ_WAIT_MS;
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = {
        target: null,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((x) => x !== w);
          reject(this.timeout(w, waitMs));
        }, waitMs),
      };
      this.waiters.push(w);
      if (this.running) {
        this.alarm.wake();
      } else void this.poll();
    });
  }

  private sub: Subscription | null = null;
  /** The next pause between requests while reads wait. */
  private pause = FIRST_POLL_MS;

  /** Wakes the poller on each message of `subj` (a loader's acks announced). */
  listen(nc: NatsConnection, subj: string): void {
    this.sub = nc.subscribe(subj, { callback: () => this.poke() });
  }

  /** Asks again now, when reads wait for their targets (a loader acknowledged messages). */
  poke(): void {
    this.stats.pokes++;
    if (this.waiters.length === 0) return;
    // JetStream deletes an acknowledged message a moment after the ack: look again soon, not 50 ms later.
    this.pause = FIRST_POLL_MS;
    this.alarm.wake();
  }

  /** Rejects the reads still waiting and stops polling. */
  close(): void {
    this.sub?.unsubscribe();
    this.closed = true;
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new IntakeError('INTAKE_ERR_SHUTTING_DOWN', 'the server is shutting down; retry'));
    }
    this.waiters = [];
    this.alarm.wake();
  }

  private async poll(): Promise<void> {
    this.running = true;
    this.pause = FIRST_POLL_MS;
    try {
      while (this.waiters.length > 0 && !this.closed) {
        // The reads registered before this request is sent take their target from its answer.
        const asking = this.waiters.filter((w) => w.target === null);
        let state: StreamState | null = null;
        try {
          this.stats.requests++;
          const info = await this.jsm.streams.info(this.stream);
          state = info.state;
          this.last = state;
          this.failure = null;
        } catch (err) {
          this.failure = err;
        }
        if (state !== null) {
          for (const w of asking) if (w.target === null) w.target = state.last_seq;
          const s = state;
          const still: Waiter[] = [];
          for (const w of this.waiters) {
            if (w.target !== null && (s.messages === 0 || s.first_seq > w.target)) {
              clearTimeout(w.timer);
              w.resolve();
            } else still.push(w);
          }
          // A read that timed out meanwhile was removed from this.waiters by its timer: keep it out.
          this.waiters = still;
        }
        if (this.waiters.length === 0) break;
        this.checkStore();
        // A read that has no target yet gets a request at once; otherwise wait a little longer each round.
        if (this.waiters.some((w) => w.target === null) && state !== null) continue;
        const pause = this.pause;
        this.pause = Math.min(pause * 2, this.opts.maxPollMs ?? 50);
        await this.alarm.sleep(pause);
      }
    } finally {
      this.running = false;
    }
  }

  private checking = false;
  private lastCheck = 0;
  private storeOk = true;

  /** Runs storeCheck (one at a time, at most once a second); its failure fails the reads waiting. */
  private checkStore(): void {
    const check = this.opts.storeCheck;
    // After a failure, every round checks again (a store that is down answers at once; one that is back, too).
    if (!check || this.checking || (this.storeOk && Date.now() - this.lastCheck < STORE_CHECK_MS)) return;
    this.checking = true;
    this.lastCheck = Date.now();
    check()
      .then(
        () => {
          this.storeOk = true;
        },
        (err: unknown) => {
          this.storeOk = false;
          const fail =
            err instanceof IntakeError
              ? err
              : new IntakeError(
                  'INTAKE_ERR_STORE_UNAVAILABLE',
                  `the store cannot be read, so accepted events cannot be loaded yet (${(err as Error)?.message ?? String(err)}); retry`,
                  undefined,
                  { 'retry-after': '1' },
                );
          const waiting = this.waiters;
          this.waiters = [];
          for (const w of waiting) {
            clearTimeout(w.timer);
            w.reject(fail);
          }
        },
      )
      .finally(() => {
        this.checking = false;
      });
  }

  private timeout(w: Waiter, waitMs: number): IntakeError {
    const s = this.last;
    const why =
      this.failure !== null
        ? `JetStream did not answer (${(this.failure as Error)?.message ?? String(this.failure)})`
        : s !== null && w.target !== null
          ? `messages from stream seq ${s.first_seq} through ${w.target} are not acknowledged by their loader yet`
          : 'the stream state could not be read';
    return new IntakeError(
      'INTAKE_ERR_READ_TIMEOUT',
      `the events acknowledged before this read are still being loaded after ${waitMs} ms (${why}); retry`,
      undefined,
      { 'retry-after': '1' },
    );
  }
}
