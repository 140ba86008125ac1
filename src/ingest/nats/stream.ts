// The JetStream side of the cluster log: the stream's and consumers' names and settings, which partition a key
// belongs to, and how JetStream's failures become Intake's coded errors. The stream is created (or its settings
// checked) at open, so a node needs no setup beyond the servers' addresses.
import { createHash } from 'node:crypto';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import { IntakeError } from '../../core/errors.ts';

export interface StreamNames {
  /**
   * The stream of accepted entries; `<stream>_LOADS` holds each loader's last load manifest, `<stream>_LOCKS`
   * the loaders' leases (lease.ts).
   */
  stream: string;
  /** Subjects are `<prefix>.<partition>`. */
  prefix: string;
  partitions: number;
  replicas: number;
}

/** Partition of a dedupe key (32 hex digits of md5, core/dedupe.ts): its first 32 bits, modulo the count. */
export function partitionOf(key: string, partitions: number): number {
  return Number.parseInt(key.slice(0, 8), 16) % partitions;
}

export const subject = (n: StreamNames, p: number) => `${n.prefix}.${p}`;
export const consumerName = (n: StreamNames, p: number) => `${n.stream}_p${p}`;
export const manifestStream = (n: StreamNames) => `${n.stream}_LOADS`;
/** A lane's manifest (store/lanes.ts): `all` for lane 0 (the single loader's, as before lanes), else `lane<N>`. */
export const manifestSubject = (n: StreamNames, lane: number) =>
  `${n.prefix}-loads.${lane === 0 ? 'all' : `lane${lane}`}`;
export const lockStream = (n: StreamNames) => `${n.stream}_LOCKS`;
export const lockSubject = (n: StreamNames, name: string) => `${n.prefix}-locks.${name}`;
/** Core NATS (no stream): a loader says here that it acknowledged a load's messages; waiting reads look again. */
export const ackedSubject = (n: StreamNames) => `${n.prefix}-acked`;

/** Nats-Msg-Id of a message: md5 of what identifies its entries (sorted keys), so a resend is the same id. */
export function messageId(parts: string[]): string {
  const h = createHash('md5');
  for (const p of [...parts].sort()) h.update(p).update('\n');
  return h.digest('hex');
}

const NS = 1_000_000;
/** How long JetStream waits for a held message's ack or progress before it hands the message out again. */
export const ACK_WAIT_MS = 10_000;

/**
 * Creates the stream and the manifests' stream when missing. The entries' stream is a work queue (an entry
 * acknowledged by its loader is deleted) that refuses new messages when full (discard new: a full stream must
 * answer 503, never drop unloaded entries); its duplicate window is JetStream's default two minutes.
 */
export async function ensureStreams(jsm: JetStreamManager, n: StreamNames): Promise<void> {
  const want = {
    name: n.stream,
    subjects: [`${n.prefix}.*`],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    discard: DiscardPolicy.New,
    num_replicas: n.replicas,
    duplicate_window: 120_000 * NS,
  };
  try {
    const info = await jsm.streams.info(n.stream);
    const have = info.config;
    if (have.num_replicas !== n.replicas || have.subjects.join() !== want.subjects.join())
      throw new Error(
        `stream ${n.stream} exists with replicas ${have.num_replicas} and subjects ${have.subjects.join()}, not ${n.replicas} and ${want.subjects.join()}`,
      );
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await placed(() => jsm.streams.add(want));
  }
  try {
    await jsm.streams.info(manifestStream(n));
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await placed(() =>
      jsm.streams.add({
        name: manifestStream(n),
        subjects: [`${n.prefix}-loads.*`],
        storage: StorageType.File,
        num_replicas: n.replicas,
        max_msgs_per_subject: 1,
      }),
    );
  }
  try {
    await jsm.streams.info(lockStream(n));
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await placed(() =>
      jsm.streams.add({
        name: lockStream(n),
        subjects: [`${n.prefix}-locks.*`],
        storage: StorageType.File,
        num_replicas: n.replicas,
        max_msgs_per_subject: 1,
      }),
    );
  }
}

/**
 * Runs a stream creation, again while JetStream says it has "no suitable peers for placement": a cluster that
 * just started may not know all its peers yet (seen in CI right after the nodes answered). At most 30 s.
 */
async function placed<T>(add: () => Promise<T>): Promise<T> {
  const until = Date.now() + 30_000;
  for (;;) {
    try {
      return await add();
    } catch (err) {
      if (!/no suitable peers/i.test(String((err as Error).message)) || Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** The durable pull consumer of one partition, created when missing. */
export async function ensureConsumer(jsm: JetStreamManager, n: StreamNames, p: number): Promise<void> {
  const name = consumerName(n, p);
  try {
    await jsm.consumers.info(n.stream, name);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await jsm.consumers.add(n.stream, {
      durable_name: name,
      filter_subject: subject(n, p),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      // A loader holding messages (waiting for more, or retrying a failing store) tells JetStream it is working
      // on them every ACK_WAIT_MS / 3 (loader.ts); a loader that died has its messages handed out again after it.
      ack_wait: ACK_WAIT_MS * NS,
      max_ack_pending: 100_000,
    });
  }
}

export function isNotFound(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamNotFound ||
      err.code === JetStreamApiCodes.ConsumerNotFound ||
      err.code === JetStreamApiCodes.NoMessageFound)
  );
}

/** A publish JetStream did not acknowledge, as the coded 503 every dialect answers. */
export function publishError(err: unknown): IntakeError {
  const msg = (err as Error)?.message ?? String(err);
  if (/maximum (messages|bytes)|resource limits|insufficient resources|storage/i.test(msg))
    return new IntakeError(
      'INTAKE_ERR_OVERLOADED',
      `the JetStream stream is full (${msg}); retry shortly`,
      undefined,
      { 'retry-after': '5' },
    );
  return new IntakeError(
    'INTAKE_ERR_STORE_UNAVAILABLE',
    `JetStream did not acknowledge the events (${msg}); nothing was accepted, retry`,
    undefined,
    { 'retry-after': '1' },
  );
}
