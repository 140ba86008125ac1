// The embedded store: one DuckDB file in the data directory.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { FOREVER, KeySet } from '../../ingest/keyset.ts';
import type {
  ApiKey,
  EventQuery,
  KeyAccess,
  LogSegment,
  Store,
  UserQuery,
  Workspace,
  WorkspaceSettings,
} from '../types.ts';
import { copyDatabase, Gate, gateMethods, replaceDatabase } from './compact.ts';
import { Db, ts } from './db.ts';
import * as del from './deletions.ts';
import { listEvents, listRejected } from './events.ts';
import { loadedSegment, loadKeys, loadSegment } from './load.ts';
import { ProfileCaches } from './profile-cache.ts';
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
}

type Page = { limit: number; offset: number };

export class DuckDBStore implements Store {
  /** Every call runs inside it; erasing a deleted user's bytes (compact.ts) swaps the file with it held alone. */
  private readonly gate = new Gate();
  /** Identities and trait states in memory, for the ingest write. */
  private readonly caches = new ProfileCaches();
  /** Dedupe keys accepted within the window, in memory; filled at open from the window's events and tombstones. */
  readonly dedupe = new KeySet();

  private windowStart(): Date {
    return new Date(Date.now() - (this.opts.dedupeWindowHours ?? 48) * 3_600_000);
  }
  /** Deletion jobs, one after another. */
  private jobs: Promise<void> = Promise.resolve();

  private constructor(
    private instance: DuckDBInstance,
    /** Used by segment loads and the jobs that change what they touch (deletions). */
    private writer: Db,
    /** Queries and admin changes. */
    private db: Db,
    private readonly path: string,
    private readonly opts: DuckDBStoreOptions,
  ) {
    gateMethods(this, this.gate, ['deleteWorkspace']);
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
    }
    const { instance, writer, db } = await DuckDBStore.connect(path, opts);
    for (const sql of MIGRATIONS) await db.run(sql);
    await migrateDedupe(db);
    const store = new DuckDBStore(instance, writer, db, path, opts);
    await store.caches.load(db);
    await loadKeys(db, store.dedupe, store.windowStart());
    for (const id of await del.unfinishedDeletions(db)) store.schedule(id); // interrupted by a restart
    return store;
  }

  loadSegment = (segment: LogSegment) =>
    loadSegment(this.writer, segment, {
      maxIdsPerPerson: this.opts.maxIdsPerPerson ?? 100,
      caches: this.caches,
    });
  loadedSegment = () => loadedSegment(this.db);
  // Deleted users' keys are tombstones dated 9999-12-31 (deletions.ts), so the window purge never forgets them.
  purgeDedupe = async (before: Date) => {
    await this.writer.run('DELETE FROM dedupe_keys WHERE seen_at < ?', [ts(before)]);
    return this.dedupe.purge(before);
  };
  listEvents = (workspaceId: string, q: EventQuery) => listEvents(this.db, workspaceId, q);
  listRejected = (workspaceId: string, page: { limit: number; offset: number }) =>
    listRejected(this.db, workspaceId, page);

  createWorkspace = (w: Workspace) => ws.createWorkspace(this.db, w);
  listWorkspaces = () => ws.listWorkspaces(this.db);
  updateWorkspaceSettings = (id: string, s: WorkspaceSettings) => ws.updateWorkspaceSettings(this.db, id, s);
  // Alone, on the writer: no ingest transaction may touch the rows, and the profile caches are reloaded.
  deleteWorkspace = (id: string) =>
    this.gate.exclusive(async () => {
      const found = await ws.deleteWorkspace(this.writer, id);
      await this.caches.load(this.writer);
      return found;
    });
  createKey = (k: ApiKey) => ws.createKey(this.db, k);
  listKeys = (workspaceId?: string) => ws.listKeys(this.db, workspaceId);
  revokeKey = (workspaceId: string, id: string, at: Date) => ws.revokeKey(this.db, workspaceId, id, at);
  updateKeyAccess = (workspaceId: string, id: string, a: KeyAccess) =>
    ws.updateKeyAccess(this.db, workspaceId, id, a);

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

  /** Runs a deletion job after those before it, with the store to itself (it swaps the database file). */
  private schedule(jobId: string): void {
    this.jobs = this.jobs.then(() =>
      this.gate
        .exclusive(async () => {
          await del.markDeletion(this.writer, jobId, 'running');
          const tombstones = await del.runDeletion(this.writer, jobId);
          await this.caches.load(this.writer);
          // Added, not reloaded: the memory also holds keys the log accepted that no segment has loaded yet.
          for (const key of tombstones) this.dedupe.add(key, FOREVER);
          await this.erase();
          await del.markDeletion(this.db, jobId, 'done');
        })
        .catch((err: unknown) => del.markDeletion(this.db, jobId, 'failed', String(err)).catch(() => {})),
    );
  }

  /** Rewrites the database file so deleted rows are gone from its bytes, not only from its tables. */
  private async erase(): Promise<void> {
    if (this.path === ':memory:') return;
    const copy = await copyDatabase(this.db, this.path);
    this.closeConnections();
    try {
      replaceDatabase(copy, this.path);
    } finally {
      // Reopen whatever is there: the compacted file, or the original if the swap failed.
      ({
        instance: this.instance,
        writer: this.writer,
        db: this.db,
      } = await DuckDBStore.connect(this.path, this.opts));
    }
  }

  private closeConnections(): void {
    this.writer.conn.closeSync();
    this.db.conn.closeSync();
    this.instance.closeSync();
  }

  async close(): Promise<void> {
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
