// The cluster engine's log: accepted entries are published to a replicated JetStream stream, partitioned by a
// hash of (workspace, messageId), and a request is answered only once JetStream acknowledged its messages. The
// loader (loader.ts) consumes the partitions into the store. One process may run both (ingest + loader + api);
// see docs/ENGINES.md for what holds when they run apart.
import { type Consumer, type JetStreamClient, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { dedupeKey } from '../../core/dedupe.ts';
import { IntakeError } from '../../core/errors.ts';
import { laneOf } from '../../store/lanes.ts';
import type { EventSink } from '../../store/types.ts';
import { FOREVER, KeySet } from '../file/keyset.ts';
import { eventLine, rejectionLine } from '../file/lines.ts';
import type { IngestBatch, IngestLog, IngestResult } from '../types.ts';
import { AckedWait } from './acked-wait.ts';
import { Claims, holderId, LeaseLock, Leases } from './lease.ts';
import { type Manifest, NatsLoader, type NatsLoaderOptions } from './loader.ts';
import {
  ackedSubject,
  ensureConsumer,
  ensureStreams,
  isNotFound,
  manifestStream,
  manifestSubject,
  messageId,
  partitionOf,
  publishError,
  type StreamNames,
  subject,
} from './stream.ts';

export interface NatsLogOptions extends NatsLoaderOptions {
  /** NATS servers, nats://host:port each. */
  servers: string[];
  /** Stream name. Default INTAKE. */
  stream: string;
  /** Subjects' prefix: `<prefix>.<partition>`. Default the stream name in lower case. */
  prefix?: string;
  /** Partitions (subjects, one consumer each). Fixed once the stream exists. Default 4. */
  partitions: number;
  /** Stream replicas: 3 on a 3-node cluster. Default 3. */
  replicas: number;
  /** Credentials: user and password, or a token. */
  user?: string;
  password?: string;
  token?: string;
  /** How long a publish waits for JetStream's acknowledgement before the request answers 503, in ms. */
  timeoutMs: number;
  /** Entries published here and not yet loaded before submit answers OVERLOADED. */
  queueLimit: number;
  /** How long an accepted messageId is remembered, in hours. Default 48. */
  dedupeWindowHours?: number;
  /**
   * Whether this node consumes the stream into the store (the loader role). Default true. A node that does not
   * only publishes, and its reads (an API node's) wait until the loaders of other nodes have acknowledged every
   * message in the stream when the read began (acked-wait.ts).
   */
  consume?: boolean;
  /**
   * The partitions this node loads (the loader role), each claimed in JetStream while it runs so that no other
   * loader loads it. Default all. Several loaders, each with its own, load one store at the same time when the
   * store takes lanes (ClickHouse: store/lanes.ts).
   */
  loaderPartitions?: number[];
}

const HOUR = 3_600_000;

interface Group {
  partition: number;
  text: string;
  /** What the message's Nats-Msg-Id is made of: its events' keys, or its rejections' ids. */
  ids: string[];
  /** Indexes of the batch's events it holds. */
  events: number[];
  entries: number;
}

export class NatsLog implements IngestLog {
  private closed = false;
  /**
   * Mixed into every Nats-Msg-Id: the `before` of the last purge that forgot keys, so a key it forgot can be
   * accepted again at once, not refused by JetStream's duplicate window. (A resend through another node in the
   * minutes after an hourly purge then gets past the window too, and the loader drops it.)
   */
  private purgeEpoch = 0;
  private readonly inflight = new Set<Promise<unknown>>();

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly names: StreamNames,
    private readonly loader: NatsLoader,
    /** Keys accepted here or seen stored: what submit reports as duplicates. */
    private readonly seen: KeySet,
    /** Keys stored (the loader's memory). */
    private readonly stored: KeySet,
    private readonly sink: EventSink,
    private readonly opts: NatsLogOptions,
    /** Largest message payload, in characters (a UTF-8 character is at most 3 bytes). */
    private readonly chunkChars: number,
    /** What a read waits for on a node that does not load: the loaders' acks of the stream's messages. */
    private readonly acked: AckedWait | null,
    /** This loader's claims on its partitions, given back at close. */
    private readonly claims: Claims | null,
  ) {
    // A node that does not load has no loads to run the window's purge between: a timer runs it.
    const m = opts.maintenance;
    if (opts.consume === false && m) {
      this.maintenance = setInterval(() => void m.run().catch(() => {}), m.everyMs);
      this.maintenance.unref();
    }
  }

  private maintenance: NodeJS.Timeout | null = null;

  static async open(sink: EventSink, opts: NatsLogOptions): Promise<NatsLog> {
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: opts.servers,
        user: opts.user,
        pass: opts.password,
        token: opts.token,
        name: 'intake',
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        timeout: opts.timeoutMs,
      });
    } catch (err) {
      throw new Error(`cannot connect to NATS at ${opts.servers.join(',')}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    try {
      const names: StreamNames = {
        stream: opts.stream,
        prefix: opts.prefix ?? opts.stream.toLowerCase(),
        partitions: opts.partitions,
        replicas: opts.replicas,
      };
      // Setup and the loader's calls get a generous timeout; a publish for a request has its own (publish()).
      const apiTimeout = Math.max(opts.timeoutMs, 10_000);
      const jsm = await jetstreamManager(nc, { timeout: apiTimeout });
      const js = jetstream(nc, { timeout: apiTimeout });
      await ensureStreams(jsm, names);
      const all = Array.from({ length: names.partitions }, (_, p) => p);
      const owned = [...new Set(opts.loaderPartitions ?? all)].sort((a, b) => a - b);
      for (const p of owned)
        if (!Number.isInteger(p) || p < 0 || p >= names.partitions)
          throw new Error(
            `--loader-partitions names partition ${p}, but the stream ${names.stream} has ${names.partitions} (0-${names.partitions - 1})`,
          );
      const lanes = sink.lanes;
      if (!lanes && owned.length < names.partitions && opts.consume !== false)
        throw new Error(
          '--loader-partitions: this store takes one loader, which loads every partition (several loaders need --store clickhouse)',
        );
      // The cluster's store: its profile step (and deletions) hold a lock shared by every node.
      const leases = lanes ? new Leases(js, jsm, names, holderId()) : null;
      if (lanes && leases) lanes.useLock(new LeaseLock(leases));
      const claims = leases && opts.consume !== false ? new Claims(leases) : null;
      // Taken before the lane's state is read: a loader that had these partitions has stopped writing to it.
      await claims?.take(owned);
      const consumers: Array<Consumer | null> = [];
      const inStream: number[] = [];
      for (let p = 0; p < names.partitions; p++) {
        await ensureConsumer(jsm, names, p);
        const mine = owned.includes(p);
        consumers.push(mine ? await js.consumers.get(names.stream, `${names.stream}_p${p}`) : null);
        inStream.push(mine ? await lastSeq(jsm, names.stream, subject(names, p)) : 0);
      }
      const seen = new KeySet();
      const stored = new KeySet();
      const since = new Date(Date.now() - (opts.dedupeWindowHours ?? 48) * HOUR);
      await sink.dedupeKeys(since, (key, seconds) => {
        seen.addSeconds(key, seconds);
        stored.addSeconds(key, seconds);
      });
      // Every lane's last manifest: its messages are in the store if the lane's checkpoint reached it, and any
      // of them may come back to this loader (the partitions of a loader that stopped are another's now).
      const loadedBefore: number[] = [];
      for (let lane = 0; lane <= (lanes ? names.partitions : 0); lane++) {
        let m: Manifest | null = null;
        try {
          const msg = await jsm.streams.getMessage(manifestStream(names), {
            last_by_subj: manifestSubject(names, lane),
          });
          m = msg ? msg.json<Manifest>() : null;
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
        if (m === null) continue;
        const cp = lanes ? await lanes.checkpoint(laneOf(m.seq)) : await sink.checkpoint();
        if (m.seq <= cp) loadedBefore.push(...m.msgs);
        loadedBefore.push(...(m.loaded ?? []));
      }
      const announce = {
        ...opts,
        onAcked: () => {
          try {
            nc.publish(ackedSubject(names));
          } catch {
            // closing: nobody waits on this node's loads any more
          }
        },
      };
      const lane = lanes ? 1 + (owned[0] ?? 0) : 0;
      const loader = new NatsLoader(js, names, consumers, sink, stored, announce, {
        lane,
        checkpoint: lanes ? await lanes.checkpoint(lane) : await sink.checkpoint(),
        loadedBefore,
        inStream,
        onStored: (key, at) => seen.add(key, at),
        // A loader whose claims ran out (a long stall) must not load: another may have its partitions now.
        mayLoad: () => claims?.fresh() ?? true,
      });
      if (opts.consume !== false) {
        claims?.keep((_p, err) => {
          opts.onError?.(err);
          loader.abandon();
        });
        loader.start();
      }
      const chunkChars = Math.max(1024, Math.floor((nc.info?.max_payload ?? 1_048_576) / 3) - 1024);
      const acked =
        opts.consume === false
          ? new AckedWait(jsm, names.stream, {
              readWaitMs: opts.readWaitMs,
              storeCheck: () => sink.checkpoint(),
            })
          : null;
      acked?.listen(nc, ackedSubject(names));
      return new NatsLog(nc, js, names, loader, seen, stored, sink, opts, chunkChars, acked, claims);
    } catch (err) {
      await nc.close().catch(() => {});
      throw err;
    }
  }

  submit(batch: IngestBatch): Promise<IngestResult> {
    if (this.closed)
      return Promise.reject(
        new IntakeError('INTAKE_ERR_SHUTTING_DOWN', 'the server is shutting down; retry'),
      );
    const size = batch.events.length + batch.rejected.length;
    if (size === 0) return Promise.resolve({ duplicate: [] });
    const pending = this.loader.pending;
    if (pending > 0 && pending + size > this.opts.queueLimit) {
      return Promise.reject(
        new IntakeError(
          'INTAKE_ERR_OVERLOADED',
          `${pending} events are waiting to be loaded (limit ${this.opts.queueLimit}); retry shortly`,
          undefined,
          { 'retry-after': '1' },
        ),
      );
    }
    const p = this.publish(batch);
    this.inflight.add(p);
    p.then(
      () => this.inflight.delete(p),
      () => this.inflight.delete(p),
    );
    return p;
  }

  /**
   * One message per partition the batch's new events fall in (two or more only past the largest payload), one
   * more for its rejections, published together; resolves once JetStream acknowledged every one. A message
   * JetStream had already (same Nats-Msg-Id within its two-minute window: a resend through any node) counts
   * its events as duplicates. Keys join the memory only once acknowledged, so a failed publish leaves nothing
   * behind that would make its retry look like a duplicate.
   */
  private async publish(batch: IngestBatch): Promise<IngestResult> {
    const duplicate = new Array<boolean>(batch.events.length).fill(false);
    const keys = new Array<string>(batch.events.length);
    const byPartition = new Map<number, Group>();
    const groups: Group[] = [];
    const inBatch = new Set<string>();
    const open = (partition: number): Group => {
      const g = { partition, text: '', ids: [], events: [], entries: 0 };
      groups.push(g);
      return g;
    };
    for (let i = 0; i < batch.events.length; i++) {
      const rec = batch.events[i] as IngestBatch['events'][number];
      const key = dedupeKey(rec.event.workspaceId, rec.event.messageId);
      keys[i] = key;
      if (this.seen.has(key) || inBatch.has(key)) {
        duplicate[i] = true;
        continue;
      }
      inBatch.add(key);
      const partition = partitionOf(key, this.names.partitions);
      const line = `${eventLine(rec, key)}\n`;
      let g = byPartition.get(partition);
      if (!g || (g.entries > 0 && g.text.length + line.length > this.chunkChars)) {
        g = open(partition);
        byPartition.set(partition, g);
      }
      g.text += line;
      g.ids.push(key);
      g.events.push(i);
      g.entries++;
    }
    let rg: Group | null = null;
    for (const r of batch.rejected) {
      const line = `${rejectionLine(r)}\n`;
      if (!rg || (rg.entries > 0 && rg.text.length + line.length > this.chunkChars))
        rg = open(partitionOf(dedupeKey(r.workspaceId, r.id), this.names.partitions));
      rg.text += line;
      rg.ids.push(r.id);
      rg.entries++;
    }
    const acks = await Promise.allSettled(
      groups.map((g) =>
        this.js.publish(subject(this.names, g.partition), g.text, {
          msgID: messageId(this.purgeEpoch === 0 ? g.ids : [...g.ids, `purge ${this.purgeEpoch}`]),
          timeout: this.opts.timeoutMs,
        }),
      ),
    );
    let failure: unknown = null;
    acks.forEach((a, n) => {
      const g = groups[n] as Group;
      if (a.status === 'rejected') {
        failure ??= a.reason;
        return;
      }
      // What JetStream acknowledged is durable, even when another message of the batch failed.
      for (const i of g.events) {
        const rec = batch.events[i] as IngestBatch['events'][number];
        this.seen.add(keys[i] as string, rec.event.receivedAt);
        if (a.value.duplicate) duplicate[i] = true;
      }
      if (this.opts.consume !== false)
        this.loader.publishedTo(g.partition, a.value.seq, a.value.duplicate ? 0 : g.entries);
    });
    if (failure !== null) throw this.closed ? shuttingDown() : publishError(failure);
    return { duplicate };
  }

  get pending(): number {
    return this.opts.consume === false ? 0 : this.loader.pending;
  }

  /**
   * Read-your-writes. A node that loads waits for each message it published, by its exact seq (loader.ts); one
   * that does not waits until the loaders acknowledged every message in the stream when the read began.
   */
  settled(): Promise<void> {
    if (this.acked !== null) return this.acked.settled();
    return this.loader.settled();
  }

  forbid(keys: readonly string[]): void {
    for (const key of keys) {
      this.seen.addSeconds(key, FOREVER);
      this.stored.addSeconds(key, FOREVER);
    }
  }

  /** Loads what was published first, so an entry loaded after the purge cannot bring back a key it forgot. */
  async purge(before: Date): Promise<number> {
    await this.settled().catch(() => {});
    return this.purgeNow(before);
  }

  /** The purge itself, run by the loader's maintenance between loads (where settled() would wait on itself). */
  async purgeNow(before: Date): Promise<number> {
    this.loader.forgetBefore(before);
    await this.sink.purgeKeys(before);
    await this.stored.purge(before);
    const forgotten = await this.seen.purge(before);
    if (forgotten > 0) this.purgeEpoch = before.getTime();
    return forgotten;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.inflight]);
    if (this.maintenance) clearInterval(this.maintenance);
    this.acked?.close();
    if (this.opts.consume !== false) await this.loader.close();
    await this.claims?.release();
    await this.nc.close();
  }
}

const shuttingDown = () => new IntakeError('INTAKE_ERR_SHUTTING_DOWN', 'the server is shutting down; retry');

/** The stream seq of the last message on `subj`, 0 when there is none. */
async function lastSeq(
  jsm: Awaited<ReturnType<typeof jetstreamManager>>,
  stream: string,
  subj: string,
): Promise<number> {
  try {
    const m = await jsm.streams.getMessage(stream, { last_by_subj: subj });
    return m?.seq ?? 0;
  } catch (err) {
    if (isNotFound(err)) return 0;
    throw err;
  }
}
