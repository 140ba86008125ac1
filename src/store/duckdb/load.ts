// Loading a batch of the ingest log: one transaction appends its events and its rejections, applies the
// events' profile effects, and records the batch's seq as the checkpoint, so a batch is loaded exactly once.
// Fast path: when the log keeps the batch in a local file of rows (core/columns.ts), DuckDB's JSON reader
// loads it and the rows never pass through JavaScript; otherwise the entries are bound as column lists.
import { readFile as readText } from 'node:fs/promises';
import { BIGINT, LIST, listValue, VARCHAR } from '@duckdb/node-api';
import { REJECTED_FIELD, REJECTION_COLUMNS } from '../../core/columns.ts';
import { DEDUPE_KEY_SQL } from '../../core/dedupe.ts';
import type { CanonicalEvent, Rejection } from '../../core/event.ts';
import { DictionaryBatch } from '../../pipeline/dictionary/observe.ts';
import { applyProfileEffects, gatherProfileEffects } from '../../profiles/apply.ts';
import type { ProfileCaches, ProfileChanges } from '../../profiles/cache.ts';
import type { LogBatch } from '../types.ts';
import { type Connector, chunks, type Db, StoreError, ts } from './db.ts';
import { mergeDictionary, observeFile } from './dictionary.ts';
import type { OrderValues } from './order-values.ts';
import { DuckDBProfilePort } from './profile-port.ts';
import { EVENT_COLUMNS, insertEvents, LINE_COLUMNS } from './schema.ts';
import { appendUserIndex } from './user-index.ts';

export interface LoadOptions {
  /** Most ids one person may have (profiles/identity.ts). */
  maxIdsPerPerson: number;
  /** Identities and trait states in memory; changed only after the commit. */
  caches: ProfileCaches;
  /** The store's type and event names (order-values.ts): given each new event before its row can be read. */
  orderValues?: Pick<OrderValues, 'add'>;
}

const quote = (s: string) => `'${s.replaceAll("'", "''")}'`;
const columnsSpec = `{${Object.entries(LINE_COLUMNS)
  .map(([name, type]) => `${name}: ${quote(type)}`)
  .join(', ')}}`;
const readFile = (path: string) =>
  `read_json(${quote(path)}, format = 'newline_delimited', columns = ${columnsSpec})`;

/** The statement that appends a segment file's events (its rejections are loaded apart). */
export const loadFileSql = (path: string): string =>
  insertEvents(`SELECT ${EVENT_COLUMNS.map((c) => `${c.fromLine} AS ${c.name}`).join(', ')}
     FROM ${readFile(path)} WHERE ${REJECTED_FIELD} IS NULL`);

export async function checkpoint(db: Db): Promise<number> {
  const rows = await db.all('SELECT max(loaded_through) AS n FROM ingest_log');
  return Number(rows[0]?.n ?? 0);
}

/**
 * The checkpoint each connection's last load committed: every load goes through one connection at a time and
 * nothing else writes ingest_log, so a load need not read it again. Each statement costs 0.3-1.4 ms of CPU
 * (driver round trip, planning): with the read, and DELETE + INSERT instead of one UPDATE, the bookkeeping
 * took ~3.4 of a 1,000-event segment's ~26 ms.
 */
const committed = new WeakMap<Db, number>();

/**
 * The events table's row count (deleted rows included: rowids are positions) as of each connection's last
 * commit, kept like `committed`: counted once (a scan of the rowids: ~35 ms at 10M rows), then grown by each
 * load's rows. The user index's append takes the rows past it (user-index.ts).
 */
const eventRows = new WeakMap<Db, number>();
async function rowsOf(db: Db): Promise<number> {
  const known = eventRows.get(db);
  if (known !== undefined) return known;
  const rows = await db.all('SELECT coalesce(max(rowid) + 1, 0)::BIGINT AS n FROM events');
  return Number(rows[0]?.n ?? 0);
}

/** Loads `batch` unless it is at or below the checkpoint; returns the user index rows it added (user-index.ts). */
export async function loadBatch(db: Db, batch: LogBatch, opts: LoadOptions): Promise<number> {
  let changes: ProfileChanges | undefined;
  let indexed = 0;
  // One pass over the batch's events before the transaction, a slice at a time (a log's compact events are
  // decoded as they are read and die young): the names for order-values, the earliest receive time for the
  // user index, and the profile effects, which need no I/O and are stored inside the transaction below.
  let from = Number.POSITIVE_INFINITY;
  const effects =
    batch.events.length > 0
      ? await gatherProfileEffects(batch.events, opts.caches, (slice) => {
          opts.orderValues?.add(slice);
          for (const e of slice) from = Math.min(from, e.receivedAt.getTime());
        })
      : null;
  // Read before the transaction: it may be file I/O, and the entries path holds them in memory only briefly.
  const entries = batch.file === undefined ? await batch.entries() : null;
  await db.run('BEGIN TRANSACTION');
  try {
    const loaded = committed.get(db) ?? (await checkpoint(db));
    if (batch.seq <= loaded) {
      await db.run('ROLLBACK');
      committed.set(db, loaded);
      return 0;
    }
    const before = batch.events.length > 0 ? await rowsOf(db) : 0;
    let inserted = 0;
    if (entries) inserted = await insertEntries(db, entries.events, entries.rejected);
    else {
      const source = readFile(batch.file as string);
      if (batch.events.length > 0) inserted = await db.run(loadFileSql(batch.file as string));
      if (batch.rejected > 0) {
        await db.run(
          `INSERT INTO rejected SELECT ${REJECTION_COLUMNS.map((f) => (f === 'received_at' ? 'epoch_ms(received_at)' : f)).join(', ')}
           FROM ${source} WHERE ${REJECTED_FIELD} = 1`,
        );
      }
    }
    // Where each event's user finds it (user-index.ts), from the profile fields the batch carries.
    if (batch.events.length > 0) indexed = await appendUserIndex(db, before, from);
    // The data dictionary too: what the log observed as it wrote the batch, else its rows walked now (from the
    // file when there is one: a purge's replay hands merged segment files, whose entries() it cannot give).
    if (batch.events.length > 0) {
      const summary =
        batch.dictionary ??
        (entries
          ? DictionaryBatch.of(entries.events)
          : observeFile(await readText(batch.file as string, 'utf8')));
      await mergeDictionary(db, summary);
    }
    // Profiles change in the same transaction: a loaded event and its profile effect are one.
    if (effects)
      changes = await applyProfileEffects(
        new DuckDBProfilePort(db),
        effects,
        opts.maxIdsPerPerson,
        opts.caches,
      );
    // One row (none before the first load).
    if (loaded > 0) await db.run('UPDATE ingest_log SET loaded_through = ?', [batch.seq]);
    else {
      await db.run('DELETE FROM ingest_log');
      await db.run('INSERT INTO ingest_log VALUES (?)', [batch.seq]);
    }
    await db.run('COMMIT');
    committed.set(db, batch.seq);
    if (batch.events.length > 0) eventRows.set(db, before + inserted);
    if (changes) opts.caches.apply(changes);
    return indexed;
  } catch (err) {
    committed.delete(db); // read again at the next load
    eventRows.delete(db);
    await db.run('ROLLBACK').catch(() => {});
    if (err instanceof StoreError) throw err;
    throw new StoreError(`load batch ${batch.seq}: ${(err as Error).message}`, 'LOAD', { cause: err });
  }
}

const EVENT_LIST_TYPES = EVENT_COLUMNS.map((c) => LIST(c.listType === 'VARCHAR' ? VARCHAR : BIGINT));
const REJECTION_LIST_TYPES = REJECTION_COLUMNS.map((c) => LIST(c === 'received_at' ? BIGINT : VARCHAR));

/**
 * The portable path: each column bound as one list, unnested into rows. The lists' types are given: the
 * driver would take them from their first item, and a column whose first value is null would load as NULLs.
 */
async function insertEntries(db: Db, events: CanonicalEvent[], rejected: Rejection[]): Promise<number> {
  let inserted = 0;
  if (events.length > 0) {
    const lists = EVENT_COLUMNS.map((c) => listValue(events.map((e) => c.toList(e))));
    inserted = await db.run(
      insertEvents(
        `SELECT ${EVENT_COLUMNS.map((c) => `${c.fromList(`unnest(?::${c.listType}[])`)} AS ${c.name}`).join(', ')}`,
      ),
      lists,
      EVENT_LIST_TYPES,
    );
  }
  if (rejected.length > 0) {
    await db.run(
      `INSERT INTO rejected SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), epoch_ms(unnest(?::BIGINT[])),
         unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[]),
         unnest(?::VARCHAR[])::JSON`,
      [
        listValue(rejected.map((r) => r.id)),
        listValue(rejected.map((r) => r.workspaceId)),
        listValue(rejected.map((r) => BigInt(r.receivedAt.getTime()))),
        listValue(rejected.map((r) => r.source)),
        listValue(rejected.map((r) => r.messageId)),
        listValue(rejected.map((r) => r.code)),
        listValue(rejected.map((r) => r.reason)),
        listValue(rejected.map((r) => r.payload)),
        listValue(rejected.map((r) => (r.violations ? JSON.stringify(r.violations) : null))),
      ],
      REJECTION_LIST_TYPES,
    );
  }
  return inserted;
}

/**
 * Calls `add` with what the log's dedupe memory is rebuilt from: the key of every event received since
 * `since`, computed in DuckDB as core/dedupe.ts defines it, and every row of dedupe_keys (the tombstones of
 * deleted users' messageIds, and keys written by versions that kept a copy of every key there).
 *
 * Streamed (a window's keys are millions of rows) on a connection of its own: DuckDB ends a connection's open
 * stream when the next query starts on it, and the next fetch then gives no chunk, as at the end, without an
 * error. On the store's shared query connection any read beside it (a finished deletion arming its purge
 * timer, a client polling its job) cut the keys short, often to none: a restart's log then rebuilt its memory
 * without them, tombstones included (test/store/contract/sink.ts, "beside it").
 */
export async function dedupeKeys(
  instance: Connector,
  since: Date,
  add: (key: string, seconds: number) => void,
): Promise<void> {
  const conn = await instance.connect();
  try {
    const result = await conn.stream(
      // Whole seconds rounded down, as the log's memory keeps them (epoch()::BIGINT would round 10.7 s up to 11).
      `SELECT ${DEDUPE_KEY_SQL.duckdb('workspace_id', 'message_id')} AS k, epoch_ms(received_at) // 1000 AS s
         FROM events WHERE received_at >= ?
       UNION ALL
       SELECT lower(lpad(to_hex(key), 32, '0')), epoch_ms(seen_at) // 1000 FROM dedupe_keys WHERE seen_at >= ?`,
      [ts(since), ts(since)],
    );
    for await (const chunk of chunks(result)) {
      const k = chunk.getColumnValues(0) as string[];
      const secs = chunk.getColumnValues(1) as bigint[];
      for (let i = 0; i < k.length; i++) add(k[i] as string, Number(secs[i]));
    }
  } finally {
    conn.closeSync();
  }
}
