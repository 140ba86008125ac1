// The user index (the user_index table, schema.ts): where in time each user's events are. One row per stored event that has an id (its user_key,
// user-key.ts, and its received_at), sorted by user_key, so a lookup by key reads a few row groups (zone maps)
// instead of the user_key column of every event; the reads by user then read the events table only in the
// receive-time ranges the index names, where zone maps skip everything else (the table is in arrival order).
//
// Measured on the 10M-event / 1M-user bench set (busy machine, same run): the positions of a 2-id person's
// newest events 36-46 ms through two user_key scans, 13-14 ms through the index (1.5 ms of it the lookup);
// building it from 10M events costs 1.4-1.7 s of CPU.
//
// Exact by construction: every load appends its events' rows in its own transaction (appendUserIndex), so the
// index holds every stored event's row; they go after the sorted rows and stay unsorted until the next rebuild,
// which rewrites the whole table from the events, sorted (dropping rows of deleted events, which until then only
// cost a few extra rows read), beside the loads (UserIndex). A rebuild runs once the unsorted rows pass a quarter
// of the sorted ones (at least REBUILD_MIN_ROWS): each event is rewritten about four times over its life, ~0.6 µs
// of CPU. The index is only
// ever a superset: a read always filters the events themselves, so a stale row or a key collision costs reads,
// never a wrong answer; a database whose index is missing or older than its events is rebuilt when it opens.
import type { Db } from './db.ts';
import { type Bind, mergeRuns, type Source, us } from './pages.ts';
import { userKeySql } from './user-key.ts';

/** Unsorted rows below this never trigger a rebuild (a scan of them costs ~1 ms). */
export const REBUILD_MIN_ROWS = 250_000;

/** The store_meta row holding how many rows the last rebuild wrote (the sorted part). */
const SORTED = 'user_index_sorted';

/**
 * Appends the index rows of the events a load just inserted, in its transaction, from those rows themselves:
 * the rows at or past `rowid` (the events table's row count before the load: DuckDB numbers a transaction's
 * own rows past every committed one) received at or after `receivedFrom` (epoch ms, the load's earliest: zone
 * maps skip the older row groups, which a rowid filter alone does not: 23 ms a load at 10M rows). One statement
 * without parameters, so it runs on DuckDB's threads (db.ts `watched`) and nothing passes through JavaScript.
 * Rows of an earlier load past `rowid` (a stale count) would only be extra index rows, never missing ones.
 * Returns the rows added.
 */
export async function appendUserIndex(db: Db, rowid: number, receivedFrom: number): Promise<number> {
  return db.run(
    `INSERT INTO user_index SELECT user_key, received_at FROM events
     WHERE received_at >= epoch_ms(${Math.trunc(receivedFrom)}::BIGINT) AND rowid >= ${Math.trunc(rowid)}
       AND coalesce(user_id, anonymous_id) IS NOT NULL`,
  );
}

/** The index's rows of the events, sorted. */
const SORTED_ROWS = `SELECT user_key, received_at FROM events
  WHERE coalesce(user_id, anonymous_id) IS NOT NULL ORDER BY user_key, received_at`;

/** The sorted copy a rebuild beside the loads writes before it replaces the index. */
const NEXT = 'user_index_next';

/** Rewrites the index from the events, sorted, in one transaction (at open and in a purge's copy); returns its rows. */
export async function rebuildUserIndex(db: Db): Promise<number> {
  await db.run('BEGIN TRANSACTION');
  try {
    await db.run(`CREATE OR REPLACE TABLE user_index AS ${SORTED_ROWS}`);
    const n = Number((await db.all('SELECT count(*) AS n FROM user_index'))[0]?.n ?? 0);
    await db.run('INSERT OR REPLACE INTO store_meta VALUES (?, ?)', [SORTED, String(n)]);
    await db.run('COMMIT');
    return n;
  } catch (err) {
    await db.run('ROLLBACK').catch(() => {});
    throw err;
  }
}

/** What a rebuild beside the loads needs of the store. */
export interface RebuildHost {
  /** A connection of its own, closed when the rebuild ends. */
  connect(): Promise<Db>;
  /** Runs `fn` on the writer connection between two loads. */
  betweenLoads(fn: (writer: Db) => Promise<void>): Promise<void>;
  /** Runs the rebuild as a write a purge waits for (and that waits for a purge). */
  asWrite(fn: () => Promise<void>): Promise<void>;
  onError(err: unknown): void;
  /** For tests: runs once the sorted copy is written, before the swap waits for a pause between loads. */
  afterSort?: () => Promise<void>;
}

/**
 * The index's sorted and unsorted row counts, and its rebuilds. After loads, a rebuild runs beside them: the
 * sorted copy is written from one snapshot of the events on a connection of its own while loads go on, then,
 * between two loads, the rows loads appended since that snapshot (the index is only ever appended to, so they
 * are the rows past its row count then) are added to it and it replaces the index. Loads wait only for that
 * swap, not for the sort (1.4 s of CPU for 10M rows).
 */
export class UserIndex {
  private sorted = 0;
  private unsorted = 0;
  private running: Promise<void> | null = null;
  /** Rebuilds done since open (stats and tests). */
  rebuilds = 0;

  constructor(
    private readonly host: RebuildHost,
    private readonly minRows = REBUILD_MIN_ROWS,
  ) {}

  /**
   * Reads the counts, rebuilding first when the index cannot be trusted: never built (a database made before
   * it, or written around the loads like the bench's synthetic sets), with fewer rows than the events that
   * have an id (every event has its row; deleted events only leave extra rows), or `rekeyed` (the events'
   * user keys were just computed again: checkUserKeys). A copy a stopped rebuild left is dropped.
   */
  async open(db: Db, rekeyed = false): Promise<void> {
    await db.run(`DROP TABLE IF EXISTS ${NEXT}`);
    const meta = await db.all('SELECT value FROM store_meta WHERE name = ?', [SORTED]);
    const counts = await db.all(
      `SELECT (SELECT count(*) FROM user_index) AS rows,
         (SELECT count(*) FROM events WHERE coalesce(user_id, anonymous_id) IS NOT NULL) AS events`,
    );
    const rows = Number(counts[0]?.rows ?? 0);
    if (rekeyed || meta.length === 0 || rows < Number(counts[0]?.events ?? 0)) {
      this.sorted = await rebuildUserIndex(db);
      this.unsorted = 0;
      this.rebuilds++;
      return;
    }
    this.sorted = Math.min(rows, Number(meta[0]?.value));
    this.unsorted = rows - this.sorted;
  }

  /** After a committed load of `rows` index rows: starts a rebuild beside the loads when one is due. */
  loaded(rows: number): void {
    this.unsorted += rows;
    if (this.running || this.unsorted < Math.max(this.minRows, this.sorted / 4)) return;
    this.running = this.host
      .asWrite(() => this.rebuildBeside())
      .catch((err: unknown) => this.host.onError(err))
      .finally(() => {
        this.running = null;
      });
  }

  /** The rebuild in flight, if any (tests wait for it). */
  settled(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  private async rebuildBeside(): Promise<void> {
    const c = await this.host.connect();
    try {
      await c.run('BEGIN TRANSACTION');
      let before: number;
      let built: number;
      try {
        // One snapshot: the index rows of the events it sorts are exactly its first `before` rows.
        before = Number((await c.all('SELECT count(*) AS n FROM user_index'))[0]?.n ?? 0);
        await c.run(`DROP TABLE IF EXISTS ${NEXT}`);
        await c.run(`CREATE TABLE ${NEXT} AS ${SORTED_ROWS}`);
        built = Number((await c.all(`SELECT count(*) AS n FROM ${NEXT}`))[0]?.n ?? 0);
        await c.run('COMMIT');
      } catch (err) {
        await c.run('ROLLBACK').catch(() => {});
        throw err;
      }
      await this.host.afterSort?.();
      let total = built;
      await this.host.betweenLoads(async (w) => {
        await w.run('BEGIN TRANSACTION');
        try {
          await w.run(`INSERT INTO ${NEXT} SELECT user_key, received_at FROM user_index WHERE rowid >= ?`, [
            before,
          ]);
          await w.run('DROP TABLE user_index');
          await w.run(`ALTER TABLE ${NEXT} RENAME TO user_index`);
          await w.run('INSERT OR REPLACE INTO store_meta VALUES (?, ?)', [SORTED, String(built)]);
          total = Number((await w.all('SELECT count(*) AS n FROM user_index'))[0]?.n ?? 0);
          await w.run('COMMIT');
        } catch (err) {
          await w.run('ROLLBACK').catch(() => {});
          throw err;
        }
      });
      this.sorted = built;
      this.unsorted = total - built;
      this.rebuilds++;
    } catch (err) {
      await c.run(`DROP TABLE IF EXISTS ${NEXT}`).catch(() => {});
      throw err;
    } finally {
      c.conn.closeSync();
    }
  }
}

/** Ranges of receive time read by user: at most about this many (each is one branch of the page's statement). */
const MOST_RUNS = 16;

/**
 * The sources (pages.ts) of the events of `ids` (their userId, else anonymousId) that `where(id, key)` keeps:
 * for each id, its condition narrowed to each receive-time range where the user index has rows of the id's key
 * (at most ~MOST_RUNS ranges in all, the closest merged); none when the index has none. `where` must itself keep
 * only the events of `id`: the index only narrows. The key comes as an integer literal, so `user_key = key` is
 * a filter DuckDB pushes into the scan (an IN list is not: the scan then hands every row of the ranges up).
 */
export async function userSources(
  db: Db,
  ws: string,
  ids: string[],
  where: (id: string, key: number) => Source,
): Promise<Source[]> {
  const computed = await db.all(
    `SELECT [${ids.map((_, i) => userKeySql('$1::VARCHAR', `$${i + 2}::VARCHAR`)).join(', ')}]::BIGINT[] AS k`,
    [ws, ...ids],
  );
  const keys = ((computed[0]?.k ?? []) as Array<bigint | number>).map(Number);
  const rows = await db.all(
    `SELECT DISTINCT user_key AS k, epoch_us(received_at) AS r FROM user_index
     WHERE user_key IN (${[...new Set(keys)].join(', ')}) ORDER BY r`,
  );
  const most = Math.max(1, Math.floor(MOST_RUNS / ids.length));
  return ids.flatMap((id, i) => {
    const key = keys[i] as number;
    const runs = mergeRuns(
      rows.filter((x) => Number(x.k) === key).map((x) => [Number(x.r), Number(x.r)]),
      most,
    );
    const cond = where(id, key);
    return runs.map(
      ([lo, hi]) =>
        (b: Bind) =>
          `${cond(b)} AND received_at >= ${b(us(lo))} AND received_at <= ${b(us(hi))}`,
    );
  });
}
