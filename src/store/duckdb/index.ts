// The embedded store: one DuckDB file in the data directory.
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type {
  Admin,
  Erasure,
  EventReads,
  EventSink,
  InsightReads,
  ProfileReads,
  SqlReads,
  Store,
} from '../types.ts';
import { copyDatabase, Gate, gateMethods, replaceDatabase } from './compact.ts';
import { Db, ts } from './db.ts';
import * as del from './deletions.ts';
import { listEvents, listRejected } from './events.ts';
import * as insights from './insights/index.ts';
import { checkpoint, dedupeKeys, loadBatch } from './load.ts';
import { ProfileCaches } from './profile-cache.ts';
import { MIGRATIONS } from './schema.ts';
import { querySql, runSql } from './sql/run.ts';
import * as users from './users.ts';
import * as ws from './workspaces.ts';

const quote = (s: string) => `'${s.replaceAll("'", "''")}'`;

export interface DuckDBStoreOptions {
  /** Directory for intake.duckdb; ':memory:' for a throwaway database. */
  dataDir: string;
  /** DuckDB checkpoint_threshold: WAL size that triggers a checkpoint. Default 4MB. */
  checkpointThreshold?: string;
  /** DuckDB memory_limit, e.g. 512MB. */
  memoryLimit?: string;
  threads?: number;
  /** Most ids (userIds, anonymousIds) one person may have; a link beyond it is refused. Default 100. */
  maxIdsPerPerson?: number;
}

export class DuckDBStore implements Store {
  /** Every call runs inside it; erasing a deleted user's bytes (compact.ts) swaps the file with it held alone. */
  private readonly gate = new Gate();
  /** Identities and trait states in memory, for the ingest write. */
  private readonly caches = new ProfileCaches();
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
    // Every call shares the gate; erasing a deleted user's bytes takes it alone, and so does deleteWorkspace.
    for (const part of [this.sink, this.events, this.profiles, this.sql, this.insights, this.admin])
      gateMethods(part, this.gate, []);
    gateMethods(this.erasure, this.gate, ['deleteWorkspace']);
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
      // No extension is installed or loaded behind our back (a query could otherwise pull in httpfs).
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
    });
    const writer = new Db(await instance.connect());
    const db = new Db(await instance.connect());
    // The engine itself refuses files outside the data directory (the log segments the loader reads and the
    // compaction copy live there), the network, and any later configuration change: the sandbox of POST /query
    // does not rest on the parse-tree checks alone.
    const dir = `${resolve(opts.dataDir === ':memory:' ? tmpdir() : opts.dataDir)}/`;
    await db.run(`SET allowed_directories = [${quote(dir)}]`);
    await db.run('SET enable_external_access = false');
    await db.run('SET lock_configuration = true');
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
    for (const id of await del.unfinishedDeletions(db)) store.schedule(id); // interrupted by a restart
    return store;
  }

  readonly sink: EventSink = {
    load: (batch) =>
      loadBatch(this.writer, batch, {
        maxIdsPerPerson: this.opts.maxIdsPerPerson ?? 100,
        caches: this.caches,
      }),
    checkpoint: () => checkpoint(this.db),
    dedupeKeys: (since, add) => dedupeKeys(this.db, since, add),
    // Deleted users' keys are tombstones dated 9999-12-31 (deletions.ts), so the window purge never forgets them.
    purgeKeys: (before) => this.writer.run('DELETE FROM dedupe_keys WHERE seen_at < ?', [ts(before)]),
  };

  readonly events: EventReads = {
    listEvents: (workspaceId, q) => listEvents(this.db, workspaceId, q),
    listRejected: (workspaceId, page) => listRejected(this.db, workspaceId, page),
  };

  readonly profiles: ProfileReads = {
    getUser: (workspaceId, id) => users.getUser(this.db, workspaceId, id),
    listUsers: (workspaceId, q) => users.listUsers(this.db, workspaceId, q),
    listUserEvents: (workspaceId, id, page) => users.listUserEvents(this.db, workspaceId, id, page),
    getGroup: (workspaceId, groupId) => users.getGroup(this.db, workspaceId, groupId),
    listGroupUsers: (workspaceId, groupId, page) => users.listGroupUsers(this.db, workspaceId, groupId, page),
    getDeletion: (workspaceId, jobId) => del.getDeletion(this.db, workspaceId, jobId),
  };

  readonly sql: SqlReads = {
    query: (workspaceId, q) => querySql(this.instance, workspaceId, q),
    stream: (workspaceId, q, out) => runSql(this.instance, workspaceId, q, out),
  };

  readonly insights: InsightReads = {
    trends: async (workspaceId, q, opts) => {
      const sql = insights.compileTrends(workspaceId, q);
      const rows = await insights.runInsight(this.instance, sql, opts.timeoutMs);
      return { result: insights.shapeTrends(q, rows as insights.TrendsRow[]), sql: [sql] };
    },
    funnels: async (workspaceId, q, opts) => {
      const sql = insights.compileFunnels(workspaceId, q);
      const rows = await insights.runInsight(this.instance, sql, opts.timeoutMs);
      return { result: insights.shapeFunnels(q, rows as insights.FunnelRow[]), sql: [sql] };
    },
    retention: async (workspaceId, q, opts) => {
      const sql = insights.compileRetention(workspaceId, q);
      const rows = await insights.runInsight(this.instance, sql, opts.timeoutMs);
      return { result: insights.shapeRetention(q, rows as insights.RetentionRow[]), sql: [sql] };
    },
  };

  readonly erasure: Erasure = {
    requestDeletion: async (workspaceId, id) => {
      const job = await del.createDeletion(this.db, workspaceId, id, new Date());
      this.schedule(job.id);
      return job;
    },
    // Alone, on the writer: no load may touch the rows, and the profile caches are reloaded.
    deleteWorkspace: (id) =>
      this.gate.exclusive(async () => {
        const found = await ws.deleteWorkspace(this.writer, id);
        await this.caches.load(this.writer);
        return found;
      }),
  };

  readonly admin: Admin = {
    createWorkspace: (w) => this.bumped(ws.createWorkspace(this.db, w)),
    listWorkspaces: () => ws.listWorkspaces(this.db),
    updateWorkspaceSettings: (id, s) => this.bumped(ws.updateWorkspaceSettings(this.db, id, s)),
    createKey: (k) => this.bumped(ws.createKey(this.db, k)),
    listKeys: (workspaceId) => ws.listKeys(this.db, workspaceId),
    revokeKey: (workspaceId, id, at) => this.bumped(ws.revokeKey(this.db, workspaceId, id, at)),
    // One process owns the file, so its counter sees every change.
    keysVersion: async () => this.version,
  };

  private version = 0;
  private async bumped<T>(p: Promise<T>): Promise<T> {
    const r = await p;
    this.version++;
    return r;
  }

  private tombstoneListeners: Array<(keys: string[]) => void> = [];
  onTombstones(listener: (keys: string[]) => void): void {
    this.tombstoneListeners.push(listener);
  }

  /** Runs a deletion job after those before it, with the store to itself (it swaps the database file). */
  private schedule(jobId: string): void {
    this.jobs = this.jobs.then(() =>
      this.gate
        .exclusive(async () => {
          await del.markDeletion(this.writer, jobId, 'running');
          const tombstones = await del.runDeletion(this.writer, jobId);
          await this.caches.load(this.writer);
          // Added, not reloaded: the log's memory also holds keys it accepted that no batch has loaded yet.
          for (const l of this.tombstoneListeners) l(tombstones);
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
