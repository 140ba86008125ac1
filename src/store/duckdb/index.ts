// The embedded store: one DuckDB file in the data directory.
import { channel } from 'node:diagnostics_channel';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { IntakeError } from '../../core/errors.ts';
import { makeDir } from '../../core/fs.ts';
import {
  type FunnelRow,
  type RetentionRow,
  shapeFunnels,
  shapeRetention,
  shapeTrends,
  type TrendsRow,
} from '../../core/insight-shapes.ts';
import { Serial } from '../../core/serial.ts';
import { ProfileCaches } from '../../profiles/cache.ts';
import { TombstoneListeners } from '../tombstones.ts';
import type {
  Admin,
  DeletionJob,
  Erasure,
  EventReads,
  EventSink,
  InsightReads,
  PlanStore,
  ProfileReads,
  SchemaReads,
  SqlReads,
  Store,
} from '../types.ts';
import { walBytes } from './compact.ts';
import { type Connector, Db, ts } from './db.ts';
import * as del from './deletions.ts';
import * as dict from './dictionary-reads.ts';
import { DURABLE_WAIT_MS, durableMethods } from './durable.ts';
import { PurgeSchedule, type Timer } from './erasure.ts';
import { listEvents, listRejected } from './events.ts';
import { exportEvents } from './export.ts';
import { Gate, gateMethods } from './gate.ts';
import * as insights from './insights/index.ts';
import { checkpoint, dedupeKeys, loadBatch } from './load.ts';
import { OrderValues } from './order-values.ts';
import * as plans from './plans.ts';
import { DuckDBProfilePort } from './profile-port.ts';
import { clearPurge, type PurgeHost, type Replay } from './purge.ts';
import { MIGRATIONS } from './schema.ts';
import { querySql, runSql } from './sql/run.ts';
import { UserIndex } from './user-index.ts';
import { checkUserKeys, fillIdentityKeys } from './user-key.ts';
import * as users from './users.ts';
import * as ws from './workspaces.ts';

/** Each opened store, for a benchmark's probe (bench/loop-probe.ts) when one subscribes. */
export const OPENED = channel('intake:duckdb-store');

const quote = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** The name the database file is attached under when DuckDB writes no WAL for it (walWrites false). */
const ATTACHED = 'intake';

/**
 * Half a DuckDB row group: the store checkpoints after this many rows (checkpointRows). The rows loaded since the
 * last checkpoint wait in memory uncompressed (~0.8 KB each with the benchmark's events): ~100 MB at a whole row
 * group (122,880), the largest part of DuckDB's memory at the server's peak. Since checkpoints stopped merging
 * row groups (max_vacuum_tasks, below) each checkpoint leaves its rows as a row group of their own, ~70,000 rows
 * with 10,000-event segments. Measured on 2M events loaded the server's way (bench/vacuum-queries.ts): the
 * reads of the query benchmark took the same or less CPU (0.89-0.98x) on those row groups than on 122,880 +
 * 7,120-row pairs, the file was 1% larger, the loads' CPU the same.
 */
export const DEFAULT_CHECKPOINT_ROWS = 61_440;
/**
 * Without DuckDB's WAL, the store also checkpoints once this many loads wait for one, whatever their rows: each
 * is a segment file the log keeps until then and a load a restart runs again (~16 ms of CPU each, whatever its
 * size). Under trickle traffic (a segment per --load-delay-ms) that is a checkpoint, and a row group, per ~2
 * minutes instead of per 61,440 rows.
 */
export const MAX_UNCOVERED_LOADS = 256;
/** A row group of the benchmark's events (~490 B each in the WAL) makes a ~60 MB WAL; twice that stops large ones. */
export const DEFAULT_CHECKPOINT_THRESHOLD = '128MB';

export interface DuckDBStoreOptions {
  /** Directory for intake.duckdb; ':memory:' for a throwaway database. */
  dataDir: string;
  /**
   * DuckDB checkpoint_threshold: WAL size at which a commit checkpoints. Default 128MB: a safety net for large
   * events, the store checkpoints itself every `checkpointRows` rows (with 4MB every segment's commit
   * checkpointed, and DuckDB rewrote the small trailing row groups 3-4 times: a third of the load's CPU).
   * Without walWrites it never fires: DuckDB 1.5.6 with no_wal_writes did not checkpoint at a commit past it
   * (five 1.1 MB commits with a 1MB threshold, then SIGKILL: none of the rows in the file).
   */
  checkpointThreshold?: string;
  /**
   * Rows (events and rejections) loaded after which the store runs CHECKPOINT between two loads. Default
   * 61440, half a row group (DEFAULT_CHECKPOINT_ROWS): each row is compressed and written once. 0 leaves it to the
   * threshold (with walWrites) or to MAX_UNCOVERED_LOADS (without).
   */
  checkpointRows?: number;
  /** Unsorted user index rows below which it is never rebuilt (user-index.ts). Default 250,000; tests lower it. */
  userIndexMinRows?: number;
  /** DuckDB memory_limit, e.g. 512MB. */
  memoryLimit?: string;
  /** DuckDB threads (for the whole instance: loads and queries). Default 2. */
  threads?: number;
  /** Most ids (userIds, anonymousIds) one person may have; a link beyond it is refused. Default 100. */
  maxIdsPerPerson?: number;
  /**
   * Hours a deletion's bytes may stay in the file: one purge rewrites it this long after the oldest deletion
   * not yet erased, for every deletion done by then. Default 24; 0 purges right after each deletion.
   */
  purgeIntervalHours?: number;
  /** Arms the purge timer: calls `fire` after `ms`, returns a cancel function. Tests fire it themselves. */
  timer?: Timer;
  /** For tests: runs once a user index rebuild has written its sorted copy, before it replaces the index. */
  afterUserIndexSort?: () => Promise<void>;
  /** For tests: runs once a purge's copy is written, before the purge catches up with the loads since. */
  afterPurgeCopy?: () => Promise<void>;
  /** For tests: runs once a deletion job has handed its keys to onTombstones, before the commit that marks it done. */
  beforeDeletionCommit?: () => Promise<void>;
  /** For tests: runs once a user's SQL (POST /query) is prepared, before it runs. */
  afterSqlPrepare?: () => Promise<void>;
  /** For tests: runs before each CHECKPOINT the store runs to make its writes durable (without the WAL). */
  beforeCheckpoint?: () => Promise<void>;
  /**
   * Whether DuckDB writes its WAL (every committed row, synced at COMMIT). Default false: the ingest log is the
   * WAL, and a load is durable once a checkpoint covers it (sink.durableThrough). ':memory:' has none either way.
   */
  walWrites?: boolean;
  /** For benchmarks: more DuckDB settings at open, over the store's own (bench/store-memory.ts compares them). */
  settings?: Record<string, string>;
}

/**
 * Per part of the store, the calls that go on while a purge copies the database: reads, and batch loads (loaded
 * into the copy too). Every other call waits for the purge (gate.ts), so nothing it writes is left out of the
 * copy; a method added later waits too unless someone decides it need not.
 */
const DURING_PURGE = {
  sink: ['load', 'checkpoint', 'dedupeKeys', 'purgeKeys'],
  // addTombstones writes outside a batch: it waits for a purge, as a deletion does.
  events: ['listEvents', 'listRejected'],
  profiles: ['getUser', 'listUsers', 'listUserEvents', 'getGroup', 'listGroupUsers', 'getDeletion'],
  sql: ['query', 'stream'],
  insights: ['trends', 'funnels', 'retention'],
  admin: ['listWorkspaces', 'listKeys', 'keysVersion', 'counts'],
  erasure: ['purgeStatus'],
  schema: ['listNames', 'getName', 'listTraits', 'seenSince', 'violations'],
  // savePlan writes: it waits for a purge, or the copy would miss the new version.
  plans: ['getPlan', 'listPlans', 'currentPlans', 'plansVersion'],
} as const;

/**
 * Mutating methods (not in DURING_PURGE) that write nothing: exportEvents reads, though it waits for a purge;
 * purgeDeleted's swap leaves the file checkpointed whole; durableThrough is the log's plain question.
 */
const NOT_WRITES = ['exportEvents', 'purgeDeleted', 'durableThrough'];
/** Not run through the gate: purgeDeleted takes it itself (purge.ts); durableThrough is synchronous. */
const NOT_GATED = ['purgeDeleted', 'durableThrough'];

/** The database file is locked by another process, most likely another Intake on the same data directory. */
export class StoreInUseError extends Error {
  constructor(
    readonly path: string,
    /** The holder as DuckDB names it (DuckDB's lock is the kernel's, so it goes with its process). */
    readonly pid: number | null,
    readonly program: string | null,
    options?: ErrorOptions,
  ) {
    super(`${path} is locked by another process${pid === null ? '' : ` (PID ${pid}, ${program})`}`, options);
  }
}

export class DuckDBStore implements Store {
  /** Every call runs through it (gate.ts): a purge (purge.ts) holds writes back, and the file swap everything. */
  private readonly gate = new Gate();
  /** The writer connection's transactions (batch loads, deletions), one at a time. */
  private readonly writes = new Serial();
  /** Identities and trait states in memory, for the ingest write; a purge hands over the copy's. */
  private caches = new ProfileCaches();
  /** Deletion jobs and purges, one after another. */
  private jobs: Promise<void> = Promise.resolve();
  /** While a purge copies the database: the batches loaded meanwhile, for the copy. */
  private replay: Replay | null = null;
  /** When the user index (user-index.ts) is rebuilt sorted. */
  private readonly userIndex: UserIndex;
  /** The values of event and type per workspace, for pages in their order (order-values.ts). */
  private readonly orderValues = new OrderValues();
  /** Rows loaded since the last CHECKPOINT (or since the store opened). */
  private uncheckpointed = 0;
  /** Loads since the last CHECKPOINT. */
  private uncoveredLoads = 0;
  /** The seq of the last batch loaded, and of the last one a checkpoint covers (sink.durableThrough). */
  private loadedSeq = 0;
  private checkpointedSeq = 0;
  /** Writes committed, and how many of them the last checkpoint covers (durable()). */
  private committedWrites = 0;
  private coveredWrites = 0;
  /**
   * Deletion jobs whose commit marked them done and that no checkpoint covers yet (without the WAL), with the
   * write number durable() gives that commit (Infinity until it is known). A crash now would bring the job and
   * the user's rows back, and the job would run again at the next start: until then a read shows it running,
   * so no client is told "done" about a deletion a crash can undo.
   */
  private readonly doneNotDurable = new Map<string, number>();
  private readonly purges: PurgeSchedule;

  /** Whether DuckDB's WAL holds every commit: walWrites, or nothing to lose (':memory:'). */
  private readonly wal: boolean;

  private constructor(
    private instance: DuckDBInstance,
    /** New connections on the store's database (db.ts Connector). */
    private connector: Connector,
    /** Used by segment loads and the jobs that change what they touch (deletions). */
    private writer: Db,
    /** Queries and admin changes. */
    private db: Db,
    private readonly path: string,
    private readonly opts: DuckDBStoreOptions,
    /** The seq loaded as of the open (all of it checkpointed). */
    loaded: number,
  ) {
    this.wal = path === ':memory:' || opts.walWrites === true;
    this.loadedSeq = loaded;
    this.checkpointedSeq = loaded;
    this.userIndex = new UserIndex(
      {
        connect: async () => new Db(await this.connector.connect()),
        betweenLoads: (fn) => this.writes.run(() => fn(this.writer)),
        asWrite: (fn) => this.gate.mutating(fn),
        onError: () => {
          // Tried again after the next load: the index stays exact meanwhile, only less sorted.
        },
        ...(opts.afterUserIndexSort ? { afterSort: opts.afterUserIndexSort } : {}),
      },
      opts.userIndexMinRows,
    );
    this.purges = new PurgeSchedule(
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
    for (const part of Object.keys(DURING_PURGE) as Array<keyof typeof DURING_PURGE>) {
      // Inside the gate's wrapper: a write's checkpoint waits for a purge as the write does.
      if (!this.wal) durableMethods(this[part], [...DURING_PURGE[part], ...NOT_WRITES], () => this.durable());
      // purgeDeleted takes the gate itself (purge.ts).
      gateMethods(this[part], this.gate, { duringPurge: DURING_PURGE[part], skip: NOT_GATED });
    }
  }

  private static async connect(path: string, opts: DuckDBStoreOptions) {
    // Without DuckDB's WAL the file is attached to an in-memory instance (RECOVERY_MODE is an ATTACH option
    // only, DuckDB 1.5): every connection then starts with USE (connector below).
    const attach = path !== ':memory:' && opts.walWrites !== true;
    const instance = await DuckDBInstance.create(attach ? ':memory:' : path, {
      memory_limit: opts.memoryLimit ?? '256MB',
      checkpoint_threshold: opts.checkpointThreshold ?? DEFAULT_CHECKPOINT_THRESHOLD,
      threads: String(opts.threads ?? 2),
      // Hand memory back to the system after a task instead of keeping up to 128MB of freed pages: with it,
      // the server's RSS under the ingest benchmark peaked at 492 MB instead of 631 MB.
      allocator_flush_threshold: '16MB',
      allocator_background_threads: 'true',
      // No row-group merging ("vacuum") at a checkpoint. Rows appended after a checkpoint start a new row group:
      // the partial one the checkpoint left (the rows past the last full 122,880) stays as it is. At the next
      // checkpoint DuckDB's vacuum then merged it with the new rows (three row groups into two: 2,120 + 122,880 +
      // 2,240 rows with 5,000-event segments) by copying every row of them into new in-memory row groups: the
      // in-memory table doubled (IN_MEMORY_TABLE 89 -> 173 MB) for the whole checkpoint, at every checkpoint but
      // the first of a process. Without it, a small row group is left per checkpoint (file size within 1%) and
      // deleted rows stay marked in their row group until the purge's copy (compact.ts) drops them, as they did
      // before; a row group whose rows are all deleted is still dropped. Measured: bench/checkpoint-memory.ts.
      max_vacuum_tasks: '0',
      // No extension is installed or loaded behind our back (a query could otherwise pull in httpfs).
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
      ...opts.settings,
    });
    if (attach) {
      const c = await instance.connect();
      try {
        // An existing WAL (a file written with walWrites, or by an earlier version) is replayed here.
        await c.run(`ATTACH ${quote(path)} AS ${ATTACHED} (RECOVERY_MODE no_wal_writes)`);
      } finally {
        c.closeSync();
      }
    }
    const connector: Connector = {
      connect: async () => {
        const c = await instance.connect();
        if (attach) await c.run(`USE ${ATTACHED}`);
        return c;
      },
    };
    // Loads leave their statements to DuckDB's threads (db.ts `watched`): the caller's busy wait cost more CPU
    // than the load itself. Queries keep working on their own tasks.
    const writer = new Db(await connector.connect(), { background: (opts.threads ?? 2) >= 2 });
    const db = new Db(await connector.connect());
    // The engine itself refuses files outside the data directory (the log segments the loader reads and the
    // compaction copy live there), the network, and any later configuration change: the sandbox of POST /query
    // does not rest on the parse-tree checks alone.
    const dir = `${resolve(opts.dataDir === ':memory:' ? tmpdir() : opts.dataDir)}/`;
    await db.run(`SET allowed_directories = [${quote(dir)}]`);
    await db.run('SET enable_external_access = false');
    await db.run('SET lock_configuration = true');
    return { instance, connector, writer, db };
  }

  static async open(opts: DuckDBStoreOptions): Promise<DuckDBStore> {
    let path = ':memory:';
    if (opts.dataDir !== ':memory:') {
      makeDir(opts.dataDir);
      path = join(opts.dataDir, 'intake.duckdb');
      clearPurge(path);
    }
    const { instance, connector, writer, db } = await DuckDBStore.connect(path, opts).catch(
      (err: unknown) => {
        const m = /Could not set lock on file .*Conflicting lock is held in (.*) \(PID (\d+)\)/.exec(
          String(err),
        );
        if (m) throw new StoreInUseError(path, Number(m[2]), m[1] ?? null, { cause: err });
        if (/Could not set lock on file/.test(String(err)))
          throw new StoreInUseError(path, null, null, { cause: err });
        throw err;
      },
    );
    for (const sql of MIGRATIONS) await db.run(sql);
    await migrateDedupe(db);
    const rekeyed = await checkUserKeys(db);
    await fillIdentityKeys(db);
    await del.migrateErasure(db);
    // Without the WAL, what the migrations above wrote is durable only once checkpointed.
    if (path !== ':memory:' && opts.walWrites !== true) await db.run('CHECKPOINT');
    const store = new DuckDBStore(instance, connector, writer, db, path, opts, await checkpoint(db));
    await store.userIndex.open(db, rekeyed > 0);
    await store.caches.load(new DuckDBProfilePort(db));
    for (const id of await del.unfinishedDeletions(db)) store.schedule(id); // interrupted by a restart
    await store.purges.arm(); // deletions a previous run did not erase
    // For a probe a benchmark preloads (bench/loop-probe.ts reads memory()); nothing is published without one.
    if (OPENED.hasSubscribers) OPENED.publish(store);
    return store;
  }

  readonly sink: EventSink = {
    load: (batch) =>
      this.writes.run(async () => {
        const indexed = await loadBatch(this.writer, batch, {
          maxIdsPerPerson: this.opts.maxIdsPerPerson ?? 100,
          caches: this.caches,
          orderValues: this.orderValues,
        });
        this.loadedSeq = Math.max(this.loadedSeq, batch.seq);
        this.replay?.record(batch); // before the log deletes its file
        this.userIndex.loaded(indexed);
        await this.checkpointWhenDue(batch.events.length + batch.rejected);
      }),
    checkpoint: () => checkpoint(this.db),
    // Without the WAL, the log keeps a segment until a checkpoint covers it; with it, once loaded.
    durableThrough: () => (this.wal ? this.loadedSeq : this.checkpointedSeq),
    // On a connection of its own: a stream on the shared one ends at the next read beside it (load.ts).
    dedupeKeys: (since, add) => dedupeKeys(this.connector, since, add),
    // Deleted users' keys are tombstones dated 9999-12-31 (deletions.ts), so the window purge never forgets them.
    purgeKeys: (before) =>
      this.writes.run(() => this.writer.run('DELETE FROM dedupe_keys WHERE seen_at < ?', [ts(before)])),
    addTombstones: (keys) => this.writes.run(() => del.addTombstones(this.writer, keys)),
  };

  readonly events: EventReads = {
    listEvents: (workspaceId, q) => listEvents(this.db, workspaceId, q, this.orderValues),
    listRejected: (workspaceId, page) => listRejected(this.db, workspaceId, page),
    exportEvents: (workspaceId, filter, onLines, timeoutMs, shape) =>
      exportEvents(this.connector, workspaceId, filter, onLines, timeoutMs, shape),
  };

  readonly profiles: ProfileReads = {
    getUser: (workspaceId, id) => users.getUser(this.db, workspaceId, id),
    listUsers: (workspaceId, q) => users.listUsers(this.db, workspaceId, q),
    listUserEvents: (workspaceId, id, page) => users.listUserEvents(this.db, workspaceId, id, page),
    getGroup: (workspaceId, groupId) => users.getGroup(this.db, workspaceId, groupId),
    listGroupUsers: (workspaceId, groupId, page) => users.listGroupUsers(this.db, workspaceId, groupId, page),
    getDeletion: async (workspaceId, jobId) =>
      this.durableStatus(await del.getDeletion(this.db, workspaceId, jobId)),
  };

  /** A deletion job as a client may see it: done only once a checkpoint covers its commit (doneNotDurable). */
  private durableStatus(job: DeletionJob | null): DeletionJob | null {
    const write = job ? this.doneNotDurable.get(job.id) : undefined;
    if (!job || write === undefined) return job;
    if (write <= this.coveredWrites) {
      this.doneNotDurable.delete(job.id);
      return job;
    }
    if (job.status !== 'done') return job;
    return { ...job, status: 'running', finishedAt: null, eventsDeleted: 0, idsDeleted: 0 };
  }

  readonly sql: SqlReads = {
    query: (workspaceId, q) => querySql(this.connector, workspaceId, q, this.opts.afterSqlPrepare),
    stream: (workspaceId, q, out) => runSql(this.connector, workspaceId, q, out, this.opts.afterSqlPrepare),
  };

  readonly insights: InsightReads = {
    trends: async (workspaceId, q, opts) => {
      const sql = insights.compileTrends(workspaceId, q);
      const rows = await insights.runInsight(this.connector, sql, opts.timeoutMs);
      return { result: shapeTrends(q, rows as TrendsRow[]), sql: [sql] };
    },
    funnels: async (workspaceId, q, opts) => {
      const sql = insights.compileFunnels(workspaceId, q);
      const rows = await insights.runInsight(this.connector, sql, opts.timeoutMs);
      return { result: shapeFunnels(q, rows as FunnelRow[]), sql: [sql] };
    },
    retention: async (workspaceId, q, opts) => {
      const sql = insights.compileRetention(workspaceId, q);
      const rows = await insights.runInsight(this.connector, sql, opts.timeoutMs);
      return { result: shapeRetention(q, rows as RetentionRow[]), sql: [sql] };
    },
  };

  readonly erasure: Erasure = {
    requestDeletion: async (workspaceId, id) => {
      const job = await del.createDeletion(this.db, workspaceId, id, new Date());
      this.schedule(job.id);
      return job;
    },
    // On the writer, between batch loads: no load may touch the rows while the caches reload. Its keys go
    // with it, so the keys version moves.
    deleteWorkspace: (id) =>
      this.writes.run(async () => {
        const found = await this.bumped(ws.deleteWorkspace(this.writer, id, new Date()));
        await this.caches.load(new DuckDBProfilePort(this.writer));
        if (found) await this.purges.arm(); // its bytes leave the file with the next purge
        return found;
      }),
    purgeDeleted: () => this.purges.purge(),
    purgeStatus: () => this.purges.status(),
  };

  readonly admin: Admin = {
    createWorkspace: (w) => this.bumped(ws.createWorkspace(this.db, w)),
    listWorkspaces: () => ws.listWorkspaces(this.db),
    updateWorkspaceSettings: (id, s) => this.bumped(ws.updateWorkspaceSettings(this.db, id, s)),
    updateWorkspace: (id, patch) => this.bumped(ws.updateWorkspace(this.db, id, patch)),
    createKey: (k) => this.bumped(ws.createKey(this.db, k)),
    listKeys: (workspaceId) => ws.listKeys(this.db, workspaceId),
    revokeKey: (workspaceId, id, at) => this.bumped(ws.revokeKey(this.db, workspaceId, id, at)),
    updateKeyAccess: (workspaceId, id, a) => this.bumped(ws.updateKeyAccess(this.db, workspaceId, id, a)),
    // One process owns the file, so its counter sees every change.
    keysVersion: async () => this.version,
    counts: () => ws.counts(this.db),
  };

  readonly schema: SchemaReads = {
    listNames: (workspaceId, q) => dict.listNames(this.db, workspaceId, q),
    getName: (workspaceId, kind, name, from) => dict.getName(this.db, workspaceId, kind, name, from),
    listTraits: (workspaceId, q) => dict.listTraits(this.db, workspaceId, q),
    seenSince: (workspaceId, since) => dict.seenSince(this.db, workspaceId, since),
    violations: (workspaceId, q) => dict.violations(this.db, workspaceId, q),
  };

  readonly plans: PlanStore = {
    savePlan: (workspaceId, plan, at) => plans.savePlan(this.db, workspaceId, plan, at),
    getPlan: (workspaceId, version) => plans.getPlan(this.db, workspaceId, version),
    listPlans: (workspaceId) => plans.listPlans(this.db, workspaceId),
    currentPlans: () => plans.currentPlans(this.db),
    plansVersion: () => plans.plansVersion(this.db),
  };

  /**
   * After a load, on the writer: CHECKPOINT once a row group's worth of rows waits in the WAL. The rows are then
   * compressed and written once, in full row groups; DuckDB's own threshold checkpoint at a commit would rewrite
   * a growing trailing row group again at each one. A failed checkpoint does not fail the load (its batch is
   * committed); it is tried again after the next one.
   */
  private async checkpointWhenDue(rows: number): Promise<void> {
    const every = this.opts.checkpointRows ?? DEFAULT_CHECKPOINT_ROWS;
    this.uncheckpointed += rows;
    this.uncoveredLoads++;
    const due =
      (every > 0 && this.uncheckpointed >= every) ||
      (!this.wal && this.uncoveredLoads >= MAX_UNCOVERED_LOADS);
    if (!due) return;
    const wal = this.path === ':memory:' ? 0 : walBytes(this.path);
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const rowsCovered = this.uncheckpointed;
    if (!(await this.checkpointNow())) {
      // The batch is committed (in DuckDB's WAL, or in the log's segments that wait for a checkpoint): the
      // load succeeded. Tried again after the next load.
      this.checkpoints.failed++;
      return;
    }
    const cpu = process.cpuUsage(cpu0);
    this.checkpoints.count++;
    this.checkpoints.rows += rowsCovered;
    this.checkpoints.ms += performance.now() - t0;
    this.checkpoints.cpuUs += cpu.user + cpu.system;
    this.checkpoints.maxWalBytes = Math.max(this.checkpoints.maxWalBytes, wal);
  }

  /**
   * CHECKPOINT on the writer; call it between loads (inside `writes`), so no load's transaction is open. False
   * when DuckDB refuses it: another connection has a write open that a checkpoint cannot run beside (the user
   * index's sorted copy, an UPDATE of an admin change in flight). What it covers: every load and every write
   * committed before it.
   */
  private async checkpointNow(): Promise<boolean> {
    // What it covers is taken before it starts (every caller holds the loads back meanwhile anyway).
    const writes = this.committedWrites;
    const loaded = this.loadedSeq;
    try {
      await this.opts.beforeCheckpoint?.();
      await this.writer.run('CHECKPOINT');
    } catch {
      return false;
    }
    this.coveredWrites = Math.max(this.coveredWrites, writes);
    this.checkpointedSeq = Math.max(this.checkpointedSeq, loaded);
    this.uncheckpointed = 0;
    this.uncoveredLoads = 0;
    return true;
  }

  /**
   * Makes a write committed before the call durable (without DuckDB's WAL): a checkpoint between loads, unless
   * one began after the write committed. Retried while DuckDB refuses it (see checkpointNow), with the writer
   * free for loads meanwhile; after DURABLE_WAIT_MS it gives up with a 503 (the write is committed, not yet
   * durable, and the next checkpoint will cover it).
   */
  private async durable(): Promise<void> {
    const mine = ++this.committedWrites;
    const until = Date.now() + DURABLE_WAIT_MS;
    for (let wait = 5; ; wait = Math.min(wait * 2, 200)) {
      const done = await this.writes.run(
        async () => this.coveredWrites >= mine || (await this.checkpointNow()),
      );
      if (done) return;
      if (this.closed || Date.now() > until) {
        throw new IntakeError(
          'INTAKE_ERR_STORE_UNAVAILABLE',
          'the change is saved but could not be made durable yet (the database refused a checkpoint); retry',
          undefined,
          { 'retry-after': '1' },
        );
      }
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  /**
   * The store's own checkpoints so far: how many, the rows they covered, wall ms and the process's CPU µs while
   * they ran (all threads: the bench's cost table reads it, where nothing else runs meanwhile), and the largest
   * WAL one found.
   */
  readonly checkpoints = { count: 0, failed: 0, rows: 0, ms: 0, cpuUs: 0, maxWalBytes: 0 };

  /**
   * DuckDB's memory, in bytes: its buffer manager's use by tag (`duckdb_memory()`) and its temporary files
   * (spilled). A diagnostic for benchmarks; behind the gate, so a close never ends a connection under it.
   */
  memory(): Promise<{ byTag: Record<string, number>; temporary: number }> {
    return this.gate.shared(async () => {
      if (this.closed) return { byTag: {}, temporary: 0 };
      const byTag: Record<string, number> = {};
      const rows = await this.db.all(
        'SELECT tag, memory_usage_bytes::BIGINT AS b FROM duckdb_memory() WHERE memory_usage_bytes > 0',
      );
      for (const r of rows) byTag[String(r.tag)] = Number(r.b);
      const [t] = await this.db.all(
        'SELECT coalesce(sum(size), 0)::BIGINT AS b FROM duckdb_temporary_files()',
      );
      return { byTag, temporary: Number(t?.b ?? 0) };
    });
  }

  private closed = false;
  private version = 0;
  private async bumped<T>(p: Promise<T>): Promise<T> {
    const r = await p;
    this.version++;
    return r;
  }

  private readonly tombstones = new TombstoneListeners();
  onTombstones(listener: (keys: string[]) => void): void {
    this.tombstones.add(listener);
  }

  /**
   * Runs a deletion job after the jobs and purges before it, on the writer between batch loads; reads go on
   * and see the rows until it commits. Its bytes leave the file at the next purge.
   */
  private schedule(jobId: string): void {
    this.jobs = this.jobs.then(() =>
      this.gate
        .mutating(() =>
          this.writes
            .run(async () => {
              // Without the WAL: the loads before the job are checkpointed first (best effort: it is retried after
              // the job), so a crash before the job's own checkpoint leaves none of them to replay after the job
              // that runs again at the next start.
              if (!this.wal) await this.checkpointNow();
              await del.markDeletion(this.writer, jobId, 'running');
              // Handed to the log (added to its memory, not reloaded: it also holds keys it accepted that no batch
              // has loaded yet) before the job shows as done.
              await del.runDeletion(this.writer, jobId, async (keys) => {
                this.tombstones.hand(keys);
                if (!this.wal) this.doneNotDurable.set(jobId, Number.POSITIVE_INFINITY);
                await this.opts.beforeDeletionCommit?.();
              });
              await this.caches.load(new DuckDBProfilePort(this.writer));
            })
            // Not a failed job if DuckDB refuses checkpoints meanwhile: a later one covers it, and a restart
            // before that runs the job again.
            .then(() => {
              if (this.wal) return;
              // The number durable() takes for this commit (it counts the write as it starts).
              this.doneNotDurable.set(jobId, this.committedWrites + 1);
              return this.durable().then(
                () => this.doneNotDurable.delete(jobId),
                () => {},
              );
            }),
        )
        .then(
          () => this.purges.arm().catch(() => {}),
          (err: unknown) => {
            this.doneNotDurable.delete(jobId);
            return del.markDeletion(this.db, jobId, 'failed', String(err)).catch(() => {});
          },
        ),
    );
  }

  private purgeHost(): PurgeHost {
    return {
      gate: this.gate,
      path: this.path,
      maxIdsPerPerson: this.opts.maxIdsPerPerson ?? 100,
      connect: async () => new Db(await this.connector.connect()),
      recordLoads: (replay) => {
        this.replay = replay;
      },
      reopen: async (swap, caches) => {
        await this.writer.run('CHECKPOINT'); // the WAL must be empty: the copy replaces the file it belongs to
        this.closeConnections();
        try {
          swap();
          this.caches = caches;
          // The copy was checkpointed whole (finishCopy) with every load and write so far: all of it is durable.
          this.coveredWrites = this.committedWrites;
          this.checkpointedSeq = this.loadedSeq;
          this.uncheckpointed = 0;
          this.uncoveredLoads = 0;
        } finally {
          // Whatever is there: the copy, or the original if the swap failed.
          ({
            instance: this.instance,
            connector: this.connector,
            writer: this.writer,
            db: this.db,
          } = await DuckDBStore.connect(this.path, this.opts));
          await this.userIndex.open(this.db);
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
    this.purges.close();
    await this.jobs;
    // Alone: a connection closed under a query in flight crashes the process (SIGSEGV in DuckDB).
    await this.gate.exclusive(async () => {
      await this.db.run('CHECKPOINT').catch(() => {});
      this.closed = true;
      this.closeConnections();
    });
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
