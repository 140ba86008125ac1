// The cluster log's loader: one durable pull consumer per partition of the stream, its messages gathered and
// handed to the store's sink in large batches, and acknowledged to JetStream only once the store has them.
//
// Exactly once, through any crash:
// - Events: the loader's own dedupe memory of stored keys (rebuilt from the store at start, `dedupeKeys`) drops
//   an event already stored before the batch reaches the store. Every key reaches the same partition (hash of
//   workspace + messageId), so with partitions split between loaders each key still meets one memory.
// - Whole messages (rejections included): before each load the loader writes a manifest, the stream seqs of
//   the batch's messages and the batch's sink seq, to `<stream>_LOADS` (replicated like the stream, one message
//   per lane). The sink stores the batch with that seq as its lane's checkpoint, atomically; then the messages
//   are acknowledged and the next manifest is written only once every ack is confirmed. At start every lane's
//   last manifest is read: if the store's checkpoint of its lane reached its seq, its messages are in the store,
//   and when JetStream hands them back (their acks never arrived) they are acknowledged without loading;
//   otherwise they load as new.
// Several loaders: each loads the partitions it claimed (lease.ts), in its own lane of the store (store/lanes.ts:
// lane 1 + its lowest partition, so two loaders never share one), with its own seqs, checkpoint and cleanup.

import type { Consumer, ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { Alarm } from '../../core/alarm.ts';
import { DEFAULT_READ_WAIT_MS } from '../../core/config.ts';
import { IntakeError } from '../../core/errors.ts';
import type { EventSink } from '../../store/types.ts';
import type { KeySet } from '../file/keyset.ts';
import { NatsBatch } from './batch.ts';
import { ACK_WAIT_MS, manifestSubject, type StreamNames } from './stream.ts';

export interface NatsLoaderOptions {
  /** How long the first message held waits for others before a load, in ms. */
  delayMs: number;
  /** Most entries in one load (a load is at least one message). */
  maxEntries: number;
  /** Longest a read waits for the loads it needs before READ_TIMEOUT, in ms. Default 30000. */
  readWaitMs?: number;
  /** Store maintenance run between loads when due. */
  maintenance?: { everyMs: number; run(): Promise<void> };
  onError?(err: unknown): void;
  onLoaded?(batch: { seq: number; events: number; rejected: number }, ms: number): void;
  /** Called once a load's messages are acknowledged (API nodes' waiting reads are told: acked-wait.ts). */
  onAcked?(): void;
}

/** The last load's manifest: its sink seq and the stream seqs of its messages. */
export interface Manifest {
  seq: number;
  msgs: number[];
  /** Stream seqs of earlier loads whose acks JetStream never confirmed: loaded, whatever the checkpoint says. */
  loaded?: number[];
}

interface Held {
  partition: number;
  seq: number;
  msg: JsMsg;
  entries: number;
  at: number;
}

interface Waiter {
  target: number[];
  resolve(): void;
  reject(err: unknown): void;
  timer: NodeJS.Timeout;
}

const MAX_BACKOFF_MS = 5_000;
const ACK_ATTEMPTS = 3;
const ACK_TIMEOUT_MS = 5_000;
/** Messages asked for in one pull; a pull also ends after FETCH_EXPIRES_MS, and a new one starts. */
const FETCH_MAX = 1_000;
const FETCH_EXPIRES_MS = 5_000;
/** Loaded seqs remembered (publishedTo of an already loaded message comes within seconds, not this many loads). */
const RECENT = 100_000;
/** Pulls pause while this many entries are held: a load takes at most maxEntries of them. */
const HOLD_FACTOR = 4;

const countLines = (data: Uint8Array): number => {
  let n = 0;
  for (let i = 0; i < data.length; i++) if (data[i] === 10) n++;
  return n;
};

export class NatsLoader {
  /** Per partition, the highest stream seq loaded (messages come in stream order per partition). */
  readonly loadedThrough: number[];
  /** Per partition, what a read must wait for: the last seq published here, or found in the stream at start. */
  private readonly target: number[];
  /**
   * Messages published here and not yet loaded, by stream seq (unique across partitions): [partition, entries].
   * Reads wait for each by its exact seq, not by a partition's high-water mark: a failover can skip a delivery
   * (it comes back later, below the mark), and a read waiting by the mark alone resolved with it unloaded.
   */
  private readonly published = new Map<number, [number, number]>();
  /** The entries `published` holds, summed (pending, which the HTTP layer reads on every ingest request). */
  private publishedEntries = 0;
  /** Seqs loaded lately (RECENT of them), so a publish acknowledged after its message was loaded is not awaited. */
  private readonly recent = new Set<number>();
  private readonly recentOrder: number[] = [];
  /** The largest seq dropped from `recent`: an older one reported as published counts as loaded. */
  private forgottenThrough = 0;
  private readonly held = new Map<number, Held>();
  private heldEntries = 0;
  private waiters: Waiter[] = [];
  private readonly alarm = new Alarm();
  private pullWake: (() => void) | null = null;
  private urgent = false;
  private stopping = false;
  private stopBy = Number.POSITIVE_INFINITY;
  /** The messages of a load that failed, to be retried as they were. */
  private retry: Held[] | null = null;
  private stopped = false;
  private failures = 0;
  private pulls: Array<ConsumerMessages | null>;
  private done: Promise<void> = Promise.resolve();
  private pulling: Promise<void>[] = [];
  private nextMaintenance: number;
  /** The stream seqs of the previous run's last load when the store has it (its acks may not have arrived). */
  private readonly alreadyLoaded: Set<number>;
  /** Stream seqs loaded whose acks JetStream has not confirmed yet (or never will: a node died): in every manifest. */
  private readonly unconfirmed: Set<number>;

  constructor(
    private readonly js: JetStreamClient,
    private readonly names: StreamNames,
    /** Per partition, its consumer when this loader loads it, else null. */
    private readonly consumers: Array<Consumer | null>,
    private readonly sink: EventSink,
    /** Keys stored (the loader's memory): an event whose key is here is dropped. */
    private readonly stored: KeySet,
    private readonly opts: NatsLoaderOptions,
    private readonly state: {
      /** The lane this loader loads in (store/lanes.ts); its manifest's. */
      lane: number;
      /** The sink's checkpoint of the lane: the next load is seq + 1. */
      checkpoint: number;
      /** Stream seqs the store has from earlier runs (any lane's last manifest) whose acks may not have arrived. */
      loadedBefore: number[];
      /** Per partition, the last stream seq in the stream at start (reads wait for it). */
      inStream: number[];
      /** Each key loaded, told to the ingest side's memory (one process: its duplicates answer knows them). */
      onStored(key: string, receivedAt: Date): void;
      /** False while this loader may not load (its claims on its partitions are not known to be held). */
      mayLoad(): boolean;
    },
  ) {
    const n = names.partitions;
    this.loadedThrough = new Array<number>(n).fill(0);
    this.target = [...state.inStream];
    this.pulls = new Array<ConsumerMessages | null>(n).fill(null);
    this.nextMaintenance = Date.now() + (opts.maintenance?.everyMs ?? 0);
    this.alreadyLoaded = new Set(state.loadedBefore);
    // Carried into the next manifests until JetStream confirms their acks.
    this.unconfirmed = new Set(this.alreadyLoaded);
  }

  private progress: NodeJS.Timeout | null = null;

  start(): void {
    // Held messages stay ours while we hold them (JetStream would hand them out again after ACK_WAIT_MS).
    this.progress = setInterval(() => {
      for (const h of this.held.values()) h.msg.working();
    }, ACK_WAIT_MS / 3);
    this.progress.unref();
    this.pulling = this.consumers.flatMap((c, p) => (c ? [this.pull(c, p)] : []));
    this.done = this.loop();
  }

  /** Keys of events received before this (ms) are not remembered: a purge forgot them. */
  private forgottenBefore = 0;

  forgetBefore(before: Date): void {
    this.forgottenBefore = Math.max(this.forgottenBefore, before.getTime());
  }

  /** Entries published here and not yet loaded. */
  get pending(): number {
    return this.publishedEntries;
  }

  /** Told by the ingest side after JetStream acknowledged a message of `entries` entries. */
  publishedTo(partition: number, seq: number, entries: number): void {
    // Another loader's partition: reads here see it when that loader has loaded it, and do not wait for it.
    if (!this.consumers[partition]) return;
    if (seq > (this.target[partition] as number)) this.target[partition] = seq;
    // A duplicate publish (entries 0) names the first one's seq: awaited too, unless it is loaded.
    if (!this.recent.has(seq) && seq > this.forgottenThrough) {
      this.publishedEntries += entries - (this.published.get(seq)?.[1] ?? 0);
      this.published.set(seq, [partition, entries]);
    }
  }

  /** Records `seq` as loaded (by this process or, found in the manifest, by the previous one). */
  private loaded(seq: number): void {
    this.publishedEntries -= this.published.get(seq)?.[1] ?? 0;
    this.published.delete(seq);
    if (this.recent.has(seq)) return;
    this.recent.add(seq);
    this.recentOrder.push(seq);
    if (this.recentOrder.length > RECENT) {
      const old = this.recentOrder.shift() as number;
      this.recent.delete(old);
      if (old > this.forgottenThrough) this.forgottenThrough = old;
    }
  }

  settled(): Promise<void> {
    const target = [...this.target];
    if (this.reached(target)) return Promise.resolve();
    const waitMs = this.opts.readWaitMs ?? DEFAULT_READ_WAIT_MS;
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = {
        target,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((x) => x !== w);
          reject(
            new IntakeError(
              'INTAKE_ERR_READ_TIMEOUT',
              `the events acknowledged before this read are still being loaded after ${waitMs} ms (${this.pending} waiting); retry`,
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

  /** Loads everything published here and everything held, stops pulling, and ends. */
  async close(): Promise<void> {
    this.stopBy = Date.now() + (this.opts.readWaitMs ?? DEFAULT_READ_WAIT_MS);
    this.stopping = true;
    this.poke(true);
    await this.done;
    this.stopped = true;
    if (this.progress) clearInterval(this.progress);
    for (const p of this.pulls) p?.stop();
    this.pullWake?.();
    await Promise.all(this.pulling);
  }

  /**
   * Stops for good without loading what it holds (its claims were taken by another loader, which loads those
   * messages once JetStream hands them out again, ACK_WAIT_MS after our last progress report).
   */
  abandon(): void {
    this.stopped = true;
    this.stopping = true;
    this.stopBy = 0;
    this.retry = null;
    this.held.clear();
    this.heldEntries = 0;
    if (this.progress) clearInterval(this.progress);
    for (const p of this.pulls) p?.stop();
    this.pullWake?.();
    this.poke(true);
  }

  private reached(target: number[]): boolean {
    if (!target.every((seq, p) => (this.loadedThrough[p] as number) >= seq)) return false;
    for (const [seq, [p]] of this.published) if (seq <= (target[p] as number)) return false;
    return true;
  }

  private poke(urgent: boolean): void {
    if (urgent) this.urgent = true;
    this.alarm.wake();
  }

  /** One partition's pulls, until close(); a failed pull (NATS unreachable) is retried after a pause. */
  private async pull(consumer: Consumer, p: number): Promise<void> {
    let failed = 0;
    while (!this.stopped) {
      if (this.heldEntries >= this.opts.maxEntries * HOLD_FACTOR) {
        await new Promise<void>((resolve) => {
          this.pullWake = resolve;
          setTimeout(resolve, 200);
        });
        continue;
      }
      try {
        const msgs = await consumer.fetch({ max_messages: FETCH_MAX, expires: FETCH_EXPIRES_MS });
        this.pulls[p] = msgs;
        for await (const m of msgs) this.receive(p, m);
        failed = 0;
      } catch (err) {
        if (this.stopped) return;
        // A leader change or a node's restart fails a pull or two on the way; only a lasting failure is news.
        if (++failed >= 3) this.opts.onError?.(err);
        await new Promise((r) => setTimeout(r, 500));
      } finally {
        this.pulls[p] = null;
      }
    }
  }

  private receive(p: number, m: JsMsg): void {
    const seq = m.seq;
    // Loaded already, by its exact seq: by this process (an ack not yet confirmed) or by the previous one (its
    // last manifest). Not by the partition's high-water mark: a failover can skip a delivery, and the message
    // skipped comes back later below the mark, unloaded.
    if (this.unconfirmed.has(seq) || this.alreadyLoaded.has(seq)) {
      if (seq > (this.loadedThrough[p] as number)) this.loadedThrough[p] = seq;
      this.loaded(seq);
      m.ackAck({ timeout: ACK_TIMEOUT_MS })
        .then((ok) => ok && this.unconfirmed.delete(seq))
        .catch(() => {});
      this.settle(null);
      return;
    }
    const had = this.held.get(seq);
    if (had) {
      had.msg = m; // redelivered while held: acknowledge the latest delivery
      return;
    }
    const entries = countLines(m.data);
    this.held.set(seq, { partition: p, seq, msg: m, entries, at: Date.now() });
    this.heldEntries += entries;
    if (this.heldEntries >= this.opts.maxEntries) this.poke(true);
    else this.poke(false);
  }

  private async loop(): Promise<void> {
    for (;;) {
      await this.maybeMaintain();
      if (this.held.size === 0) {
        // At shutdown, what JetStream has not handed out within readWaitMs (NATS unreachable) stays in the
        // stream for the next start: a stop must not hang on it.
        if (this.stopping && (this.reached(this.target) || Date.now() > this.stopBy)) return;
        await this.alarm.sleep(this.stopping ? 50 : 60_000);
        continue;
      }
      let oldest = Number.POSITIVE_INFINITY;
      for (const h of this.held.values()) if (h.at < oldest) oldest = h.at;
      const due = oldest + this.opts.delayMs;
      if (
        !this.urgent &&
        this.waiters.length === 0 &&
        !this.stopping &&
        this.heldEntries < this.opts.maxEntries &&
        Date.now() < due
      ) {
        await this.alarm.sleep(due - Date.now());
        continue;
      }
      // A failed load is retried with exactly its messages: had the store committed it before failing, the
      // retry with the same seq is skipped by the sink, and a message added to it would be acked unloaded.
      let take = this.retry;
      if (take === null) {
        take = [];
        let entries = 0;
        for (const h of [...this.held.values()].sort((a, b) => a.seq - b.seq)) {
          if (take.length > 0 && entries + h.entries > this.opts.maxEntries) break;
          take.push(h);
          entries += h.entries;
        }
      }
      this.urgent = false;
      const ok = await this.load(take);
      this.retry = ok ? null : take;
      if (!ok) {
        // At shutdown the messages stay unacknowledged in the stream, and the next start loads them.
        if (this.stopping) return;
        await this.alarm.sleep(Math.min(MAX_BACKOFF_MS, 50 * 2 ** this.failures));
      }
    }
  }

  /** One load: manifest, sink, acks. False when it failed (its messages stay held, to be retried). */
  private async load(take: Held[]): Promise<boolean> {
    const seq = this.state.checkpoint + 1;
    const started = performance.now();
    let batch: NatsBatch;
    try {
      batch = NatsBatch.decode(
        seq,
        take.map((h) => h.msg.string()),
        (k) => this.stored.has(k),
      );
      if (!this.state.mayLoad())
        throw new Error("the claims on this loader's partitions are not renewed: not loading until they are");
      const manifest: Manifest = { seq, msgs: take.map((h) => h.seq), loaded: [...this.unconfirmed] };
      await this.js.publish(manifestSubject(this.names, this.state.lane), JSON.stringify(manifest));
      await this.sink.load(batch);
    } catch (err) {
      this.failures++;
      this.opts.onError?.(err);
      this.settle(err);
      return false;
    }
    this.failures = 0;
    this.state.checkpoint = seq;
    batch.keys.forEach((k, i) => {
      const at = (batch.events[i] as (typeof batch.events)[number]).receivedAt;
      // A purge forgot keys first seen before its date, also those of entries loaded after it.
      if (at.getTime() < this.forgottenBefore) return;
      this.stored.add(k, at);
      this.state.onStored(k, at);
    });
    for (const h of take) {
      this.unconfirmed.add(h.seq); // until JetStream confirms its ack (acknowledge())
      this.held.delete(h.seq);
      this.heldEntries -= h.entries;
      if (h.seq > (this.loadedThrough[h.partition] as number)) this.loadedThrough[h.partition] = h.seq;
      this.loaded(h.seq);
    }
    this.pullWake?.();
    this.opts.onLoaded?.(
      { seq, events: batch.events.length, rejected: batch.rejected },
      performance.now() - started,
    );
    this.settle(null);
    await this.acknowledge(take);
    this.opts.onAcked?.();
    return true;
  }

  /**
   * Acknowledges loaded messages, a few times over. A message whose ack JetStream never confirms (the node
   * leading its consumer died: the new leader may not answer an ack of a delivery it never saw) is named in
   * every following manifest until a redelivery of it is acknowledged, so it is never loaded again.
   */
  private async acknowledge(take: Held[]): Promise<void> {
    let left = take;
    for (let attempt = 0; left.length > 0 && attempt < ACK_ATTEMPTS; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
      const confirmed = await Promise.all(
        left.map((h) => h.msg.ackAck({ timeout: ACK_TIMEOUT_MS }).catch(() => false)),
      );
      for (let i = 0; i < left.length; i++) if (confirmed[i]) this.unconfirmed.delete((left[i] as Held).seq);
      left = left.filter((_, i) => !confirmed[i]);
    }
  }

  /** Resolves the readers now satisfied; after a failed load, rejects those still waiting. */
  private settle(failure: unknown): void {
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (this.reached(w.target)) {
        clearTimeout(w.timer);
        w.resolve();
      } else if (failure !== null) {
        clearTimeout(w.timer);
        w.reject(
          new IntakeError(
            'INTAKE_ERR_STORE_UNAVAILABLE',
            'accepted events could not be loaded into the store yet (they are kept in JetStream); retry',
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
