// The purge: one rewrite of the database file (compact.ts) for every deletion done since the last, so their
// bytes leave the file. Reads and segment loads go on while the copy is written; the segments loaded meanwhile
// are loaded into the copy too (catch-up), and only the last catch-up and the swap of the file hold every call
// back. Other writes (admin changes, deletion jobs) wait for the whole purge, or the copy would miss them.
import { copyFileSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { decodeLine } from '../../ingest/lines.ts';
import type { CanonicalEvent } from '../../pipeline/types.ts';
import type { LogSegment } from '../types.ts';
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
import { type LoadOptions, loadedSegment, loadSegment } from './load.ts';
import { ProfileCaches } from './profile-cache.ts';

/** Catch-up rounds outside the swap; loads faster than the replay would otherwise keep the swap waiting. */
const MAX_ROUNDS = 5;
/**
 * Most lines loaded into the copy in one transaction (the default segment size). Segments are merged up to it:
 * one transaction per segment cost ~70 ms each (1M-event bench set, 1,000 events/s of ingest cut into ~100
 * segments during the copy, busy machine), so the catch-up took 7 s.
 */
const MERGE_LINES = 10_000;

/**
 * Segments loaded while a purge copies the database, kept to be loaded into the copy too. The log deletes a
 * segment's file once it is loaded, so each is hard-linked (copied where links fail) as soon as its load ends.
 */
export class Replay {
  private segments: Array<{ seq: number; path: string }> = [];
  /** A segment that could not be kept: the copy would miss it, so it must not be swapped in. */
  failure: unknown = null;

  constructor(private readonly dir: string) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
  }

  get waiting(): number {
    return this.segments.length;
  }

  record(seg: LogSegment): void {
    const path = join(this.dir, basename(seg.path));
    try {
      try {
        linkSync(seg.path, path);
      } catch {
        copyFileSync(seg.path, path);
      }
      this.segments.push({ seq: seg.seq, path });
    } catch (err) {
      this.failure ??= err;
    }
  }

  /**
   * Loads the segments waiting (at most `most`, those recorded meanwhile included) into `db`, the copy, several
   * in one transaction; those its snapshot already holds are skipped.
   */
  async into(db: Db, opts: LoadOptions, most = Number.POSITIVE_INFINITY): Promise<void> {
    const loaded = await loadedSegment(db);
    const merged = join(this.dir, 'merged.ndjson');
    let n = 0;
    while (n < most && this.segments.length > 0) {
      const texts: string[] = [];
      let seq = 0;
      let lines = 0;
      while (n < most && lines < MERGE_LINES) {
        const s = this.segments.shift();
        if (!s) break;
        n++;
        if (s.seq > loaded) {
          const text = readFileSync(s.path, 'utf8');
          texts.push(text);
          lines += text.split('\n').length - 1;
          seq = s.seq;
        }
        rmSync(s.path, { force: true });
      }
      if (texts.length === 0) continue;
      writeFileSync(merged, texts.join(''));
      await loadSegment(db, readSegment(merged, seq), opts);
    }
    rmSync(merged, { force: true });
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A kept segment read back: loadSegment reads its rows from the file, and its events' profile fields from here. */
function readSegment(path: string, seq: number): LogSegment {
  const events: CanonicalEvent[] = [];
  let rejected = 0;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line === '') continue;
    const d = decodeLine(line);
    if (d.kind === 'rejected') rejected++;
    else events.push(d.event);
  }
  return { seq, path, events, rejected };
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
      await caches.load(db);
      const opts = { maxIdsPerPerson: host.maxIdsPerPerson, caches };
      for (let round = 0; round < MAX_ROUNDS && replay.waiting > 1; round++) {
        await replay.into(db, opts, replay.waiting);
      }
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
