// The cluster store: ClickHouse over its HTTP interface (http.ts), one database per Intake deployment. Its SQL
// keeps to what 18.16 (Debian's clickhouse-server) and current releases share (schema.ts). How a batch is loaded
// exactly once without transactions: load.ts.
import { DEDUPE_KEY_SQL } from '../../core/dedupe.ts';
import { Serial } from '../../core/serial.ts';
import { collect } from '../duckdb/sql/run.ts';
import { laneOf, type StoreLock } from '../lanes.ts';
import { TombstoneListeners } from '../tombstones.ts';
import type {
  Admin,
  Erasure,
  EventReads,
  EventSink,
  InsightReads,
  PlanStore,
  ProfileReads,
  PurgeStatus,
  SchemaReads,
  SqlReads,
  Store,
} from '../types.ts';
import { ClickHouseAdmin } from './admin.ts';
import { type CompactionResult, compactDictionary } from './dictionary-compact.ts';
import * as dict from './dictionary-reads.ts';
import * as del from './erasure.ts';
import { exportEvents, listEvents, listRejected } from './events.ts';
import { ClickHouse, type ClickHouseOptions, lit } from './http.ts';
import { clickhouseInsights } from './insights/index.ts';
import { checkpoint, cleanup, loadBatch, type ProfileStep, seedLanes } from './load.ts';
import * as plans from './plans.ts';
import { ADDED_COLUMNS, TABLES, VISIBLE_EVENTS } from './schema.ts';
import { runSql } from './sql/run.ts';
import * as users from './users.ts';

export { ClickHouse, ClickHouseError, ClickHouseUnavailable } from './http.ts';

export interface ClickHouseStoreOptions extends ClickHouseOptions {
  /** Most ids (userIds, anonymousIds) one person may have; a link beyond it is refused. Default 100. */
  maxIdsPerPerson?: number;
  /**
   * Deletes what lane-0 loads that did not commit left (load.ts) when it opens. Default true; false for a node
   * that only reads, and in a cluster, where lane 0 holds the profile versions of a loader that may be writing
   * them now (a loader cleans its own lane before its first load anyway).
   */
  cleanAtOpen?: boolean;
}

export class ClickHouseStore implements Store {
  /**
   * Loads and deletion jobs, one at a time in this process: a deletion must not run between a load's reads and
   * its writes (the load would write back versions of the rows it deleted), as on the embedded store.
   */
  private readonly loads = new Serial();
  /** Lanes known to hold no rows above their checkpoint; any other may (at open, and after a load failed). */
  private readonly cleanLanes = new Set<number>();
  /** The lock the profile step holds with other processes' loads (the cluster's), else none: one process. */
  private lock: StoreLock | null = null;
  /** The dictionary's bounds of paths per name (dictionary.ts PathBounds), across this store's loads. */
  private readonly pathBounds = new Map<string, number>();
  private readonly tombstones = new TombstoneListeners();
  private closed = false;

  private constructor(
    private readonly ch: ClickHouse,
    private readonly opts: ClickHouseStoreOptions,
  ) {
    this.admin = new ClickHouseAdmin(ch);
    this.insights = clickhouseInsights(ch);
  }

  static async open(opts: ClickHouseStoreOptions): Promise<ClickHouseStore> {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(opts.database))
      throw new Error(
        `clickhouse database name ${JSON.stringify(opts.database)}: letters, digits and _ only`,
      );
    const ch = new ClickHouse(opts);
    await ch.exec(`CREATE DATABASE IF NOT EXISTS ${opts.database}`, {}, null);
    for (const sql of TABLES) await ch.exec(sql);
    await addColumns(ch);
    const store = new ClickHouseStore(ch, opts);
    if (opts.cleanAtOpen !== false) await store.loads.run(() => store.clean(0));
    for (const id of await del.unfinishedDeletions(ch)) store.schedule(id); // interrupted by a restart
    return store;
  }

  private async clean(lane: number): Promise<void> {
    if (this.cleanLanes.has(lane)) return;
    await cleanup(this.ch, lane);
    await seedLanes(this.ch, lane);
    this.cleanLanes.add(lane);
  }

  /** The profile step of a load in a lane: holding the lock, or (one process) after the loads before it. */
  private readonly profileStep: ProfileStep = (fn) => {
    if (this.lock) return this.lock.hold(fn);
    const dirty = !this.cleanLanes.has(0);
    return fn({ dirty, check: async () => {} }).then((r) => {
      this.cleanLanes.add(0);
      return r;
    });
  };

  readonly sink: EventSink = {
    load: (batch) =>
      this.loads.run(async () => {
        const lane = laneOf(batch.seq);
        await this.clean(lane);
        try {
          await loadBatch(
            this.ch,
            batch,
            this.opts.maxIdsPerPerson ?? 100,
            this.pathBounds,
            this.profileStep,
          );
        } catch (err) {
          this.cleanLanes.delete(lane);
          if (!this.lock) this.cleanLanes.delete(0); // its profile step may have written (the lock tracks its own)
          // Leave nothing of it behind for the next load or a reader (readers skip it anyway: load.ts).
          await this.clean(lane).catch(() => {});
          throw err;
        }
      }),
    checkpoint: () => checkpoint(this.ch),
    lanes: {
      checkpoint: (lane) => checkpoint(this.ch, lane),
      useLock: (lock) => {
        this.lock = lock;
      },
    },
    dedupeKeys: async (since, add) => {
      const key = DEDUPE_KEY_SQL.clickhouse('workspace_id', 'message_id');
      const rows = await this.ch.rows(
        `SELECT ${key} AS k, intDiv(received_at_ms, 1000) AS s FROM ${VISIBLE_EVENTS}
         WHERE received_at_ms >= ${since.getTime()}
         UNION ALL
         SELECT key AS k, seen_s AS s FROM dedupe_keys FINAL WHERE seen_s >= ${Math.floor(since.getTime() / 1000)}`,
      );
      for (const r of rows) add(String(r.k), Number(r.s));
    },
    // Event keys are computed from the events (a `since` bounds them) and dedupe_keys holds tombstones only,
    // which are kept: nothing to forget.
    purgeKeys: async () => 0,
    addTombstones: (keys) => del.addTombstones(this.ch, keys),
  };

  readonly events: EventReads = {
    listEvents: (ws, q) => listEvents(this.ch, ws, q),
    listRejected: (ws, page) => listRejected(this.ch, ws, page),
    exportEvents: (ws, filter, onLines, timeoutMs, shape) =>
      exportEvents(this.ch, ws, filter, onLines, timeoutMs, shape),
  };

  readonly profiles: ProfileReads = {
    getUser: (ws, id) => users.getUser(this.ch, ws, id),
    listUsers: (ws, q) => users.listUsers(this.ch, ws, q),
    listUserEvents: (ws, id, page) => users.listUserEvents(this.ch, ws, id, page),
    getGroup: (ws, g) => users.getGroup(this.ch, ws, g),
    listGroupUsers: (ws, g, page) => users.listGroupUsers(this.ch, ws, g, page),
    getDeletion: (ws, id) => del.getDeletion(this.ch, ws, id),
  };

  readonly sql: SqlReads = {
    query: (ws, q) => collect((out) => runSql(this.ch, ws, q, out)),
    stream: (ws, q, out) => runSql(this.ch, ws, q, out),
  };
  readonly insights: InsightReads;

  readonly erasure: Erasure = {
    requestDeletion: async (ws, id) => {
      const job = await del.createDeletion(this.ch, ws, id, new Date());
      this.schedule(job.id);
      return job;
    },
    deleteWorkspace: (id) => this.loads.run(() => this.exclusive(() => del.deleteWorkspace(this.ch, id))),
    // Deletions are mutations that rewrite the parts holding the rows: their bytes are gone when a job is done,
    // and nothing waits for a purge.
    purgeDeleted: async () => {
      const now = new Date();
      return {
        rewritten: false,
        deletions: 0,
        startedAt: now,
        durationMs: 0,
        writesHeldMs: 0,
        readsHeldMs: 0,
        bytesBefore: 0,
        bytesAfter: 0,
      };
    },
    purgeStatus: async (): Promise<PurgeStatus> => ({
      waiting: 0,
      oldestDeletedAt: null,
      dueBy: null,
      intervalHours: 0,
      running: false,
      last: null,
      lastError: null,
    }),
  };

  readonly admin: Admin;

  readonly schema: SchemaReads = {
    listNames: (ws, q) => dict.listNames(this.ch, ws, q),
    getName: (ws, kind, name, from) => dict.getName(this.ch, ws, kind, name, from),
    listTraits: (ws, q) => dict.listTraits(this.ch, ws, q),
    seenSince: (ws, since) => dict.seenSince(this.ch, ws, since),
    violations: (ws, q) => dict.violations(this.ch, ws, q),
  };

  /** Saves one at a time in this process (plans.ts settles saves on two nodes). */
  private readonly saves = new Serial();
  readonly plans: PlanStore = {
    savePlan: (ws, plan, at) => this.saves.run(() => plans.savePlan(this.ch, ws, plan, at)),
    getPlan: (ws, version) => plans.getPlan(this.ch, ws, version),
    listPlans: (ws) => plans.listPlans(this.ch, ws),
    currentPlans: () => plans.currentPlans(this.ch),
    plansVersion: () => plans.plansVersion(this.ch),
  };

  /**
   * Folds the data dictionary's rows (dictionary-compact.ts), between this process's loads and deletions: each
   * loader runs it as maintenance. Null when it did not run (nothing loaded yet, or a deletion is running).
   */
  compactDictionary(): Promise<CompactionResult | null> {
    return this.loads.run(() => compactDictionary(this.ch));
  }

  onTombstones(listener: (keys: string[]) => void): void {
    this.tombstones.add(listener);
  }

  /**
   * Runs a deletion holding the profile lock when there is one: a loader's profile step must not run between a
   * deletion's reads and its mutations (it would write back versions of what the deletion takes away).
   */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.lock ? this.lock.hold(() => fn()) : fn();
  }

  private schedule(jobId: string): void {
    void this.loads
      .run(() =>
        this.exclusive(() =>
          del.runDeletion(this.ch, jobId, (keys) => {
            this.tombstones.hand(keys);
          }),
        ),
      )
      .catch((err: unknown) => {
        if (!this.closed) return del.failDeletion(this.ch, jobId, String(err)).catch(() => {});
      });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.loads.run(async () => {});
  }
}

/** Adds the columns of ADDED_COLUMNS that a store made before them lacks. */
async function addColumns(ch: ClickHouse): Promise<void> {
  const have = await ch.rows(
    `SELECT table AS t, name AS c FROM system.columns WHERE database = currentDatabase()`,
  );
  const known = new Set(have.map((r) => `${r.t}.${r.c}`));
  for (const a of ADDED_COLUMNS) {
    if (known.has(`${a.table}.${a.column}`)) continue;
    // Another node opening the store at the same time may add it first: then it is there, and that is enough.
    await ch.exec(`ALTER TABLE ${a.table} ADD COLUMN ${a.column} ${a.type}`).catch(async (err: unknown) => {
      const now = await ch.rows(
        `SELECT count() AS n FROM system.columns WHERE database = currentDatabase()
            AND table = ${lit(a.table)} AND name = ${lit(a.column)}`,
      );
      if (Number(now[0]?.n ?? 0) === 0) throw err;
    });
  }
}
