// Leases in JetStream, for loaders that share a store: a subject per lease in `<stream>_LOCKS` (the last message
// kept, replicated like the stream), taken, renewed and given back by publishing with the last message's seq
// expected (JetStream's compare-and-set, as its KV buckets do), so two processes never both think they hold one.
// A lease runs out `ttlMs` after its last renewal was sent, by the holder's clock; the holder counts on it for
// `ttlMs - CLOCK_SKEW_MS` only, so clocks must agree within CLOCK_SKEW_MS.
// Two uses: a loader's claim on each partition it loads, held while it runs (Claims), and the profile lock, held
// for one load's profile step (LeaseLock, the store's StoreLock).
import { hostname } from 'node:os';
import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { Serial } from '../../core/serial.ts';
import type { StoreLock } from '../../store/lanes.ts';
import { isNotFound, lockStream, lockSubject, type StreamNames } from './stream.ts';

export interface LeaseValue {
  holder: string;
  /** Epoch ms the lease runs out at, unless renewed. */
  until: number;
  /** free: given back; dirty: given back (or lost) by a holder that failed holding it. */
  state: 'held' | 'free' | 'dirty';
}

interface Last {
  seq: number;
  value: LeaseValue | null;
}

/** How long a lease lasts without renewal, in ms; renewed every third of it. */
export const LEASE_TTL_MS = 15_000;
/** How far the nodes' clocks may disagree, in ms. */
export const CLOCK_SKEW_MS = 5_000;

export const holderId = (): string =>
  `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;

export class Leases {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly names: StreamNames,
    readonly holder: string,
    readonly ttlMs = LEASE_TTL_MS,
  ) {}

  async read(name: string): Promise<Last> {
    try {
      const m = await this.jsm.streams.getMessage(lockStream(this.names), {
        last_by_subj: lockSubject(this.names, name),
      });
      return m ? { seq: m.seq, value: m.json<LeaseValue>() } : { seq: 0, value: null };
    } catch (err) {
      if (isNotFound(err)) return { seq: 0, value: null };
      throw err;
    }
  }

  /** Publishes `value` if the lease's last message is still `expect` (0: none); its seq, or null if it was not. */
  async cas(name: string, expect: number, value: LeaseValue): Promise<number | null> {
    try {
      const ack = await this.js.publish(lockSubject(this.names, name), JSON.stringify(value), {
        expect: { lastSubjectSequence: expect },
      });
      return ack.seq;
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamWrongLastSequence)
        return null;
      if (/wrong last sequence/i.test(String((err as Error)?.message))) return null;
      throw err;
    }
  }

  /**
   * Renews a lease held at `seq`; its new seq, or null when another holder has it. A compare-and-set that fails
   * because the last message is our own (a renewal whose answer was lost, or one that overtook this one) is not
   * a loss: it renews from that message.
   */
  async renew(name: string, seq: number): Promise<number | null> {
    const next = await this.cas(name, seq, this.held());
    if (next !== null) return next;
    const last = await this.read(name);
    if (last.value?.holder !== this.holder || last.value.state !== 'held') return null;
    return this.cas(name, last.seq, this.held());
  }

  /** How long after sending a renewal the holder counts on the lease (no other holder can see it run out). */
  get safeMs(): number {
    return Math.max(this.ttlMs / 2, this.ttlMs - CLOCK_SKEW_MS);
  }

  /** Whether `v` is held by someone else and not run out. */
  heldByOther(v: LeaseValue | null): boolean {
    return v !== null && v.state === 'held' && v.holder !== this.holder && v.until > Date.now();
  }

  held(): LeaseValue {
    return { holder: this.holder, until: Date.now() + this.ttlMs, state: 'held' };
  }
}

/**
 * A loader's claims on the partitions it loads: taken at start (waiting up to a lease's length for the claims of
 * a loader that died), renewed while it runs, given back at close. A claim another loader keeps renewing is a
 * configuration error, reported with what holds it.
 */
export class Claims {
  private readonly seqs = new Map<number, number>();
  /** When each claim was last taken or renewed (performance.now()). */
  private readonly renewed = new Map<number, number>();
  private timer: NodeJS.Timeout | null = null;
  /** Claims being renewed: a renewal slower than the interval is not overtaken by the next. */
  private readonly renewing = new Set<number>();

  constructor(private readonly leases: Leases) {}

  async take(partitions: readonly number[]): Promise<void> {
    const deadline = Date.now() + this.leases.ttlMs + 2_000;
    for (const p of partitions) {
      for (;;) {
        const last = await this.leases.read(`p${p}`);
        if (this.leases.heldByOther(last.value)) {
          if (Date.now() > deadline)
            throw new Error(
              `partition ${p} is being loaded by another loader (${last.value?.holder}, which keeps its claim); ` +
                'give each loader its own partitions with --loader-partitions (e.g. 0-1 and 2-3)',
            );
          await new Promise((r) => setTimeout(r, 500));
          continue;
        }
        const sent = performance.now();
        const seq = await this.leases.cas(`p${p}`, last.seq, this.leases.held());
        if (seq !== null) {
          this.seqs.set(p, seq);
          this.renewed.set(p, sent);
          break;
        }
      }
    }
  }

  /** Renews every claim each third of a lease; `onLost` when one is found taken by another loader. */
  keep(onLost: (partition: number, err: Error) => void): void {
    this.timer = setInterval(() => {
      for (const [p, seq] of this.seqs) {
        if (this.renewing.has(p)) continue;
        this.renewing.add(p);
        const sent = performance.now();
        this.leases
          .renew(`p${p}`, seq)
          .then(
            (next) => {
              if (next !== null) {
                this.seqs.set(p, next);
                this.renewed.set(p, sent);
              } else if (this.seqs.has(p)) {
                this.seqs.delete(p);
                onLost(p, new Error(`the claim on partition ${p} was taken by another loader`));
              }
            },
            () => {}, // NATS unreachable for a moment: the next renewal tries again
          )
          .finally(() => this.renewing.delete(p));
      }
    }, this.leases.ttlMs / 3);
    this.timer.unref();
  }

  /** Every claim renewed lately enough that no other loader can have taken one (Leases.safeMs). */
  fresh(): boolean {
    const now = performance.now();
    for (const p of this.seqs.keys()) if (now - (this.renewed.get(p) ?? 0) > this.leases.safeMs) return false;
    return this.seqs.size > 0;
  }

  async release(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (let i = 0; i < 100 && this.renewing.size > 0; i++) await new Promise((r) => setTimeout(r, 50));
    await Promise.all(
      [...this.seqs].map(([p, seq]) =>
        this.leases
          .cas(`p${p}`, seq, { holder: this.leases.holder, until: 0, state: 'free' })
          .catch(() => null),
      ),
    );
    this.seqs.clear();
  }
}

/**
 * The profile lock: one holder across the loaders, taken for one load's profile step and given back at once.
 * Uncontended it costs two publishes a load (take, give back: the seq of our own last give-back is the expected
 * one, so no read first). Renewed while held, so a long hold (a deletion's mutations) keeps it.
 */
export class LeaseLock implements StoreLock {
  private readonly local = new Serial();
  /** The lease's last message as we left it, when we were the last to write it. */
  private known: Last | null = null;

  constructor(
    private readonly leases: Leases,
    private readonly name = 'profiles',
  ) {}

  hold<T>(fn: (held: { dirty: boolean; check(): Promise<void> }) => Promise<T>): Promise<T> {
    return this.local.run(async () => {
      const { dirty, seq, sent } = await this.acquire();
      let mine = seq;
      let renewedAt = sent;
      let lost: Error | null = null;
      let renewing: Promise<void> = Promise.resolve();
      const renew = () => {
        renewing = renewing.then(async () => {
          if (lost) return;
          const at = performance.now();
          const next = await this.leases.renew(this.name, mine).catch(() => mine);
          if (next === null) lost = new Error('the profile lock ran out and was taken by another loader');
          else if (next !== mine) {
            mine = next;
            renewedAt = at;
          }
        });
        return renewing;
      };
      const timer = setInterval(() => void renew(), this.leases.ttlMs / 3);
      timer.unref();
      const check = async () => {
        // Ours while no one else can see it run out (Leases.safeMs after the renewal was sent).
        const safe = this.leases.safeMs;
        if (!lost && performance.now() - renewedAt > safe / 2) await renew();
        if (!lost && performance.now() - renewedAt > safe)
          lost = new Error('the profile lock could not be renewed in time');
        if (lost) throw lost;
      };
      let result: T;
      try {
        result = await fn({ dirty, check });
      } catch (err) {
        clearInterval(timer);
        await renewing;
        if (!lost) await this.release(mine, 'dirty').catch(() => {});
        throw err;
      }
      clearInterval(timer);
      await renewing;
      if (!lost) await this.release(mine, 'free').catch(() => {});
      return result;
    });
  }

  private async acquire(): Promise<{ dirty: boolean; seq: number; sent: number }> {
    for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
      const last = this.known ?? (await this.leases.read(this.name));
      this.known = null;
      const v = last.value;
      if (v !== null && v.state === 'held' && v.until > Date.now()) {
        await new Promise((r) => setTimeout(r, wait));
        continue;
      }
      const sent = performance.now();
      const seq = await this.leases.cas(this.name, last.seq, this.leases.held());
      if (seq === null) continue; // another loader took it first: read again
      // Given back dirty, or held by a holder that ran out (died or stalled): its writes are not committed.
      return { dirty: v !== null && v.state !== 'free', seq, sent };
    }
  }

  private async release(seq: number, state: 'free' | 'dirty'): Promise<void> {
    const value: LeaseValue = { holder: this.leases.holder, until: 0, state };
    const next = await this.leases.cas(this.name, seq, value);
    if (next !== null) this.known = { seq: next, value };
  }
}
