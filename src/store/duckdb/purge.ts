// The purge: one rewrite of the database file (compact.ts) for every deletion done since the last, so their
// bytes leave the file. Reads and segment loads go on while the copy is written; the segments loaded meanwhile
// are loaded into the copy too (catch-up), and only the last catch-up and the swap of the file hold every call
// back. Other writes (admin changes, deletion jobs) wait for the whole purge, or the copy would miss them.
import { copyFileSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { CanonicalEvent, Rejection } from '../../core/event.ts';
import { ProfileCaches } from '../../profiles/cache.ts';
import type { LogBatch } from '../types.ts';
import {
  type Copy,
  checkpointCopy,
  dropCopy,
  finishCopy,
  removeCopy,
  replaceDatabase,
  startCopy,
} from './compact.ts';
import type { Db } from './db.ts';
import { markErased } from './deletions.ts';
import type { Gate } from './gate.ts';
import { checkpoint, type LoadOptions, loadBatch } from './load.ts';
import { DuckDBProfilePort } from './profile-port.ts';
import { rebuildUserIndex } from './user-index.ts';

/** Catch-up rounds outside the swap; loads faster than the replay would otherwise keep the swap waiting. */
const MAX_ROUNDS = 5;
/**
 * Most lines loaded into the copy in one transaction (the default segment size). Segments are merged up to it:
 * one transaction per segment cost ~70 ms each (1M-event bench set, 1,000 events/s of ingest cut into ~100
 * segments during the copy, busy machine), so the catch-up took 7 s.
 */
const MERGE_LINES = 10_000;

/**
 * Batches loaded while a purge copies the database, kept to be loaded into the copy too. A batch with a file
 * (the file log's segment) is kept by hard-linking the file (copied where links fail) as soon as its load ends,
 * since the log then deletes it; its events' profile fields stay in memory. Any other batch is kept as it is.
 */
export class Replay {
  private batches: Array<{ seq: number; path?: string; batch: LogBatch }> = [];
  /** A batch that could not be kept: the copy would miss it, so it must not be swapped in. */
  failure: unknown = null;

  constructor(private readonly dir: string) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
  }

  get waiting(): number {
    return this.batches.length;
  }

  record(batch: LogBatch): void {
    if (batch.file === undefined) {
      this.batches.push({ seq: batch.seq, batch });
      return;
    }
    const path = join(this.dir, basename(batch.file));
    try {
      try {
        linkSync(batch.file, path);
      } catch {
        copyFileSync(batch.file, path);
      }
      this.batches.push({ seq: batch.seq, path, batch });
    } catch (err) {
      this.failure ??= err;
    }
  }

  /**
   * Loads the batches waiting (at most `most`, those recorded meanwhile included) into `db`, the copy; file
   * batches in a row are merged into one transaction; those its snapshot already holds are skipped.
   */
  async into(db: Db, opts: LoadOptions, most = Number.POSITIVE_INFINITY): Promise<void> {
    const loaded = await checkpoint(db);
    const merged = join(this.dir, 'merged.ndjson');
    let n = 0;
    while (n < most && this.batches.length > 0) {
      const texts: string[] = [];
      const events: CanonicalEvent[] = [];
      let rejected = 0;
      let seq = 0;
      let lines = 0;
      while (n < most && lines < MERGE_LINES && this.batches[0]?.path !== undefined) {
        const b = this.batches.shift() as { seq: number; path: string; batch: LogBatch };
        n++;
        if (b.seq > loaded) {
          texts.push(readFileSync(b.path, 'utf8'));
          for (const e of b.batch.events) events.push(e);
          rejected += b.batch.rejected;
          lines += b.batch.events.length + b.batch.rejected;
          seq = b.seq;
        }
        rmSync(b.path, { force: true });
      }
      if (texts.length > 0) {
        writeFileSync(merged, texts.join(''));
        await loadBatch(db, fileBatch(merged, seq, events, rejected), opts);
        continue;
      }
      const b = this.batches.shift();
      if (!b) break;
      n++;
      if (b.seq > loaded) await loadBatch(db, b.batch, opts);
    }
    rmSync(merged, { force: true });
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Kept segments merged into one file: loadBatch reads its rows from the file (the engine's fast path). */
function fileBatch(path: string, seq: number, events: CanonicalEvent[], rejected: number): LogBatch {
  return {
    seq,
    events,
    rejected,
    file: path,
    entries: (): Promise<{ events: CanonicalEvent[]; rejected: Rejection[] }> => {
      throw new Error('a replayed file batch is loaded from its file');
    },
  };
}

const replayDir = (path: string) => `${path}.replay`;

/** Removes what a purge interrupted by a stop left beside the database file (it was not swapped in). */
export function clearPurge(path: string): void {
  removeCopy(path);
  rmSync(replayDir(path), { recursive: true, force: true });
}

/** What the purge needs of the store. */
export interface PurgeHost {
  readonly gate: Gate;
  /** The database file. */
  readonly path: string;
  readonly maxIdsPerPerson: number;
  /** A new connection on the open database, for the copy; the purge closes it. */
  connect(): Promise<Db>;
  /** Keeps the segments loaded from now on in `replay`, or stops (null). */
  recordLoads(replay: Replay | null): void;
  /**
   * Called with every other call held back: checkpoints and closes the database, runs `swap`, and opens the
   * file again; after a successful swap the store uses `caches` (the copy's, caught up).
   */
  reopen(swap: () => void, caches: ProfileCaches): Promise<void>;
  /** For tests: runs once the copy is written, before the catch-up. */
  afterCopy?: () => Promise<void>;
}

export interface FilePurge {
  /** Deletion jobs marked erased. */
  erased: number;
  writesHeldMs: number;
  readsHeldMs: number;
}

/** Rewrites the database file without the deleted rows and marks the deletions done so far erased. */
export function purgeFile(host: PurgeHost): Promise<FilePurge> {
  return host.gate.freeze(async () => {
    const frozenAt = performance.now();
    const replay = new Replay(replayDir(host.path));
    host.recordLoads(replay);
    const db = await host.connect();
    let copy: Copy | null = null;
    let swapped = false;
    try {
      copy = await startCopy(db, host.path);
      await host.afterCopy?.();
      // The copy's own caches, as of its snapshot: the store's already hold the loads to replay.
      const caches = new ProfileCaches();
      await caches.load(new DuckDBProfilePort(db));
      const opts = { maxIdsPerPerson: host.maxIdsPerPerson, caches };
      for (let round = 0; round < MAX_ROUNDS && replay.waiting > 1; round++) {
        await replay.into(db, opts, replay.waiting);
      }
      // The copy's user index without the deleted events' rows, sorted (the rows of the last catch-up follow).
      await rebuildUserIndex(db);
      await checkpointCopy(db, copy);
      const done = copy;
      let erased = 0;
      let readsHeldMs = 0;
      const closedAt = performance.now(); // new calls wait from here, while those in flight end
      await host.gate.exclusive(async () => {
        host.recordLoads(null);
        if (replay.failure) throw replay.failure;
        await replay.into(db, opts);
        erased = await markErased(db, new Date());
        await finishCopy(db, done);
        db.conn.closeSync();
        await host.reopen(() => replaceDatabase(done.path, host.path), caches);
        swapped = true;
        readsHeldMs = performance.now() - closedAt;
      });
      return { erased, writesHeldMs: performance.now() - frozenAt, readsHeldMs };
    } finally {
      host.recordLoads(null);
      replay.dispose();
      if (!swapped) {
        if (copy) await dropCopy(db, copy);
        try {
          db.conn.closeSync();
        } catch {
          // closed before the swap failed
        }
      }
    }
  });
}
