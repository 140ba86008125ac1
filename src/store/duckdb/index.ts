// The embedded store: one DuckDB file in the data directory.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { FOREVER, KeySet } from '../../ingest/keyset.ts';
import type {
  ApiKey,
  EventQuery,
  LogSegment,
  Store,
  UserQuery,
  Workspace,
  WorkspaceSettings,
} from '../types.ts';
import { Db, ts } from './db.ts';
import * as del from './deletions.ts';
import { Erasure, type Timer } from './erasure.ts';
import { listEvents, listRejected } from './events.ts';
import { Gate, gateMethods, Serial } from './gate.ts';
import { loadedSegment, loadKeys, loadSegment } from './load.ts';
import { ProfileCaches } from './profile-cache.ts';
import { clearPurge, type PurgeHost, type Replay } from './purge.ts';
import { MIGRATIONS } from './schema.ts';
import * as users from './users.ts';
import * as ws from './workspaces.ts';

export interface DuckDBStoreOptions {
  /** Directory for intake.duckdb; ':memory:' for a throwaway database. */
  dataDir: string;
  /** DuckDB checkpoint_threshold: WAL size that triggers a checkpoint. Default 4MB. */
  checkpointThreshold?: string;
  /** DuckDB memory_limit, e.g. 512MB. */
  memoryLimit?: string;
  threads?: number;
  /** How long accepted messageIds are remembered, in hours; keys older than this are not loaded at open. Default 48. */
  dedupeWindowHours?: number;
  /** Most ids (userIds, anonymousIds) one person may have; a link beyond it is refused. Default 100. */
  maxIdsPerPerson?: number;
  /**
   * Hours a deletion's bytes may stay in the file: one purge rewrites it this long after the oldest deletion
   * not yet erased, for every deletion done by then. Default 24; 0 purges right after each deletion.
   */
  purgeIntervalHours?: number;
  /** Arms the purge timer: calls `fire` after `ms`, returns a cancel function. Tests fire it themselves. */
  timer?: Timer;
  /** For tests: runs once a purge's copy is written, before the purge catches up with the loads since. */
  afterPurgeCopy?: () => Promise<void>;
}

/**
 * The calls that go on while a purge copies the database: reads, and segment loads (loaded into the copy too).
 * The dedupe window purge only forgets keys kept by old versions, which its next run forgets in the copy.
 * Every other call waits for the purge, so nothing it writes is left out of the copy.
 */
const DURING_PURGE = [
  'loadSegment',
  'loadedSegment',
  'purgeDedupe',
  'listEvents',
  'listRejected',
  'listWorkspaces',
  'listKeys',
  'getUser',
  'listUsers',
  'listUserEvents',
  'getGroup',
  'listGroupUsers',
  'getDeletion',
  'purgeStatus',
] as const satisfies ReadonlyArray<keyof DuckDBStore>;

type Page = { limit: number; offset: number };

export class DuckDBStore implements Store {
  /** Every call runs inside it (gate.ts): a purge (purge.ts) holds writes back, and the file swap everything. */
  private readonly gate = new Gate();
  /** The writer connection's transactions (segment loads, deletions), one at a time. */
  private readonly writes = new Serial();
  /** Identities and trait states in memory, for the ingest write; a purge hands over the copy's. */
  private caches = new ProfileCaches();
  /** Dedupe keys accepted within the window, in memory; filled at open from the window's events and tombstones. */
  readonly dedupe = new KeySet();

  private windowStart(): Date {
    return new Date(Date.now() - (this.opts.dedupeWindowHours ?? 48) * 3_600_000);
  }
  /** Deletion jobs and purges, one after another. */
  private jobs: Promise<void> = Promise.resolve();
  /** While a purge copies the database: the segments loaded meanwhile, for the copy. */
  private replay: Replay | null = null;
  private readonly erasure: Erasure;

  private constructor(
    private instance: DuckDBInstance,
    /** Used by segment loads and the jobs that change what they touch (deletions). */
    private writer: Db,
    /** Queries and admin changes. */
    private db: Db,
    private readonly path: string,
    private readonly opts: DuckDBStoreOptions,
  ) {
    this.erasure = new Erasure(
      {
        path,
        db: () => this.db,
        enqueue: (fn) => {
          const run = this.jobs.then(fn);
          this.jobs = run.then(
            () => {},
            () => {},
          );
          return run;
        },
        purgeHost: () => this.purgeHost(),
      },
      opts.purgeIntervalHours ?? 24,
      opts.timer,
    );
    // purgeDeleted takes the gate itself (purge.ts).
    gateMethods(this, this.gate, { duringPurge: DURING_PURGE, skip: ['purgeDeleted'] });
  }

  private static async connect(path: string, opts: DuckDBStoreOptions) {
    const instance = await DuckDBInstance.create(path, {
      memory_limit: opts.memoryLimit ?? '256MB',
      checkpoint_threshold: opts.checkpointThreshold ?? '4MB',
      threads: String(opts.threads ?? 2),
      // Hand memory back to the system after a task instead of keeping up to 128MB of freed pages: with it,
      // the server's RSS under the ingest benchmark peaked at 492 MB instead of 631 MB.
      allocator_flush_threshold: '16MB',
      allocator_background_threads: 'true',
    });
    const writer = new Db(await instance.connect());
    const db = new Db(await instance.connect());
    return { instance, writer, db };
  }

  static async open(opts: DuckDBStoreOptions): Promise<DuckDBStore> {
    let path = ':memory:';
    if (opts.dataDir !== ':memory:') {
      mkdirSync(opts.dataDir, { recursive: true });
      path = join(opts.dataDir, 'intake.duckdb');
      clearPurge(path);
    }
    const { instance, writer, db } = await DuckDBStore.connect(path, opts);
    for (const sql of MIGRATIONS) await db.run(sql);
    await migrateDedupe(db);
    await del.migrateErasure(db);
    const store = new DuckDBStore(instance, writer, db, path, opts);
    await store.caches.load(db);
    await loadKeys(db, store.dedupe, store.windowStart());
    for (const id of await del.unfinishedDeletions(db)) store.schedule(id); // interrupted by a restart
    await store.erasure.arm(); // deletions a previous run did not erase
    return store;
  }

  loadSegment = (segment: LogSegment) =>
    this.writes.run(async () => {
      await loadSegment(this.writer, segment, {
        maxIdsPerPerson: this.opts.maxIdsPerPerson ?? 100,
        caches: this.caches,
      });
      this.replay?.record(segment); // before the log deletes the file
    });
  loadedSegment = () => loadedSegment(this.db);
  // Deleted users' keys are tombstones dated 9999-12-31 (deletions.ts), so the window purge never forgets them.
  purgeDedupe = (before: Date) =>
    this.writes.run(async () => {
      await this.writer.run('DELETE FROM dedupe_keys WHERE seen_at < ?', [ts(before)]);
      return this.dedupe.purge(before);
    });
  listEvents = (workspaceId: string, q: EventQuery) => listEvents(this.db, workspaceId, q);
  listRejected = (workspaceId: string, page: { limit: number; offset: number }) =>
    listRejected(this.db, workspaceId, page);

  createWorkspace = (w: Workspace) => ws.createWorkspace(this.db, w);
  listWorkspaces = () => ws.listWorkspaces(this.db);
  updateWorkspaceSettings = (id: string, s: WorkspaceSettings) => ws.updateWorkspaceSettings(this.db, id, s);
  // On the writer, between segment loads: no ingest transaction may touch the rows while the caches reload.
  deleteWorkspace = (id: string) =>
    this.writes.run(async () => {
      const found = await ws.deleteWorkspace(this.writer, id);
      await this.caches.load(this.writer);
      return found;
    });
  createKey = (k: ApiKey) => ws.createKey(this.db, k);
  listKeys = (workspaceId?: string) => ws.listKeys(this.db, workspaceId);
  revokeKey = (workspaceId: string, id: string, at: Date) => ws.revokeKey(this.db, workspaceId, id, at);

  getUser = (workspaceId: string, id: string) => users.getUser(this.db, workspaceId, id);
  listUsers = (workspaceId: string, q: UserQuery) => users.listUsers(this.db, workspaceId, q);
  listUserEvents = (workspaceId: string, id: string, page: Page) =>
    users.listUserEvents(this.db, workspaceId, id, page);
  getGroup = (workspaceId: string, groupId: string) => users.getGroup(this.db, workspaceId, groupId);
  listGroupUsers = (workspaceId: string, groupId: string, page: Page) =>
    users.listGroupUsers(this.db, workspaceId, groupId, page);
  getDeletion = (workspaceId: string, jobId: string) => del.getDeletion(this.db, workspaceId, jobId);
  requestDeletion = async (workspaceId: string, id: string) => {
    const job = await del.createDeletion(this.db, workspaceId, id, new Date());
    this.schedule(job.id);
    return job;
  };

  /**
   * Runs a deletion job after the jobs and purges before it, on the writer between segment loads; reads go on
   * and see the rows until it commits. Its bytes leave the file at the next purge.
   */
  private schedule(jobId: string): void {
    this.jobs = this.jobs.then(() =>
      this.gate
        .mutating(() =>
          this.writes.run(async () => {
            await del.markDeletion(this.writer, jobId, 'running');
            const tombstones = await del.runDeletion(this.writer, jobId);
            await this.caches.load(this.writer);
            // Added, not reloaded: the memory also holds keys the log accepted that no segment has loaded yet.
            for (const key of tombstones) this.dedupe.add(key, FOREVER);
          }),
        )
        .then(
          () => this.erasure.arm().catch(() => {}),
          (err: unknown) => del.markDeletion(this.db, jobId, 'failed', String(err)).catch(() => {}),
        ),
    );
  }

  purgeDeleted = () => this.erasure.purge();
  purgeStatus = () => this.erasure.status();

  private purgeHost(): PurgeHost {
    return {
      gate: this.gate,
      path: this.path,
      maxIdsPerPerson: this.opts.maxIdsPerPerson ?? 100,
      connect: async () => new Db(await this.instance.connect()),
      recordLoads: (replay) => {
        this.replay = replay;
      },
      reopen: async (swap, caches) => {
        await this.writer.run('CHECKPOINT'); // the WAL must be empty: the copy replaces the file it belongs to
        this.closeConnections();
        try {
          swap();
          this.caches = caches;
        } finally {
          // Whatever is there: the copy, or the original if the swap failed.
          ({
            instance: this.instance,
            writer: this.writer,
            db: this.db,
          } = await DuckDBStore.connect(this.path, this.opts));
        }
      },
      afterCopy: this.opts.afterPurgeCopy,
    };
  }

  private closeConnections(): void {
    this.writer.conn.closeSync();
    this.db.conn.closeSync();
    this.instance.closeSync();
  }

  async close(): Promise<void> {
    this.erasure.close();
    await this.jobs;
    await this.db.run('CHECKPOINT').catch(() => {});
    this.writer.conn.closeSync();
    this.db.conn.closeSync();
    this.instance.closeSync();
  }
}

/** Databases made before dedupe_keys kept the keys in `dedupe`, behind a primary key: move them over once. */
async function migrateDedupe(db: Db): Promise<void> {
  const old = await db.all(
    "SELECT 1 FROM information_schema.tables WHERE table_name = 'dedupe' AND table_schema = 'main'",
  );
  if (old.length === 0) return;
  await db.run('BEGIN TRANSACTION');
  await db.run('INSERT INTO dedupe_keys SELECT key, seen_at FROM dedupe');
  await db.run('DROP TABLE dedupe');
  await db.run('COMMIT');
}
