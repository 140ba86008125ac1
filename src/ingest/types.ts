// The log contract: where an accepted event becomes durable, before any engine has loaded it. The embedded
// engine's log is a folder of files (file/); the cluster's is a JetStream stream. Both pass the log contract
// suite (test/ingest/contract.ts) on their real engine.
import type { EventRecord, Rejection } from '../core/event.ts';

export interface IngestBatch {
  events: EventRecord[];
  rejected: Rejection[];
}

export interface IngestResult {
  /**
   * duplicate[i] is true when events[i] has a messageId the log already accepted in its workspace: it is
   * acknowledged and not stored again. The log decides it against the keys it can see: every key of the dedupe
   * window (48 h by default) for the file log. A log that cannot see every key of the window at submit time (a
   * cluster ingest node) reports only the duplicates it knows of, and the loader drops the others before they
   * are stored: then `duplicate` is a lower bound, and "stored exactly once" is what holds.
   */
  duplicate: boolean[];
}

export interface IngestLog {
  /**
   * Makes the batch's new events and its rejections durable; resolves once they are (a 2xx may be sent then).
   * Throws IntakeError OVERLOADED (retry later), STORE_UNAVAILABLE or SHUTTING_DOWN instead of accepting.
   */
  submit(batch: IngestBatch): Promise<IngestResult>;
  /** Entries accepted and not yet loaded into the store. */
  readonly pending: number;
  /**
   * Resolves once everything acknowledged before the call is loaded into the store: every read waits for it, so
   * a client reads its own writes. Rejects with STORE_UNAVAILABLE when loads are failing.
   */
  settled(): Promise<void>;
  /** Keys (core/dedupe.ts) never to accept again: the messageIds of a deleted person's events. */
  forbid(keys: readonly string[]): void;
  /** Forgets the keys of events first seen before `before`, in the log and in the store; returns how many. */
  purge(before: Date): Promise<number>;
  /** Stops accepting, makes durable what was accepted, loads what the log holds, and closes. */
  close(): Promise<void>;
}
