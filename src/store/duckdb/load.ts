// Loading a closed segment of the ingest log: one transaction reads the segment file with DuckDB's JSON reader
// (the rows never pass through JavaScript), appends its events and its rejections, applies the events'
// profile effects, and records the segment as loaded, so a segment is loaded exactly once. The dedupe keys
// need no copy of their own: they are the md5 of columns the events table holds (loadKeys).
import type { KeySet } from '../../ingest/keyset.ts';
import { REJECTED_FIELD, REJECTION_FIELDS } from '../../ingest/lines.ts';
import type { LogSegment } from '../types.ts';
import { type Db, StoreError, ts } from './db.ts';
import type { ProfileCaches, ProfileChanges } from './profile-cache.ts';
import { applyProfiles } from './profiles.ts';
import { EVENT_COLUMNS, LINE_COLUMNS } from './schema.ts';

export interface LoadOptions {
  /** Most ids one person may have (profiles/identity.ts). */
  maxIdsPerPerson: number;
  /** Identities and trait states in memory; changed only after the commit. */
  caches: ProfileCaches;
}

const quote = (s: string) => `'${s.replaceAll("'", "''")}'`;
const columnsSpec = `{${Object.entries(LINE_COLUMNS)
  .map(([name, type]) => `${name}: ${quote(type)}`)
  .join(', ')}}`;
const readSegment = (path: string) =>
  `read_json(${quote(path)}, format = 'newline_delimited', columns = ${columnsSpec})`;

export async function loadedSegment(db: Db): Promise<number> {
  const rows = await db.all('SELECT max(loaded_through) AS n FROM ingest_log');
  return Number(rows[0]?.n ?? 0);
}

export async function loadSegment(db: Db, seg: LogSegment, opts: LoadOptions): Promise<void> {
  let changes: ProfileChanges | undefined;
  await db.run('BEGIN TRANSACTION');
  try {
    const done = await loadedSegment(db);
    if (seg.seq <= done) {
      await db.run('ROLLBACK');
      return;
    }
    const source = readSegment(seg.path);
    if (seg.events.length > 0) {
      await db.run(
        `INSERT INTO events SELECT ${EVENT_COLUMNS.map((c) => c.fromLine).join(', ')}
         FROM ${source} WHERE ${REJECTED_FIELD} IS NULL`,
      );
      // Profiles change in the same transaction: a loaded event and its profile effect are one.
      changes = await applyProfiles(db, seg.events, opts.maxIdsPerPerson, opts.caches);
    }
    if (seg.rejected > 0) {
      await db.run(
        `INSERT INTO rejected SELECT ${REJECTION_FIELDS.map((f) => (f === 'received_at' ? 'epoch_ms(received_at)' : f)).join(', ')}
         FROM ${source} WHERE ${REJECTED_FIELD} = 1`,
      );
    }
    await db.run('DELETE FROM ingest_log');
    await db.run('INSERT INTO ingest_log VALUES (?)', [seg.seq]);
    await db.run('COMMIT');
    if (changes) opts.caches.apply(changes);
  } catch (err) {
    await db.run('ROLLBACK').catch(() => {});
    if (err instanceof StoreError) throw err;
    throw new StoreError(`load segment ${seg.seq}: ${(err as Error).message}`, 'LOAD', { cause: err });
  }
}

/**
 * Fills `keys` with what is durable: the key of every event received since `since`, computed in DuckDB as
 * ingest/keyset.ts computes it (md5 of workspace NUL messageId), and every row of dedupe_keys (the tombstones
 * of deleted users' messageIds, and keys written by versions that kept a copy of every key there).
 */
export async function loadKeys(db: Db, keys: KeySet, since: Date): Promise<void> {
  keys.clear();
  const result = await db.conn.stream(
    `SELECT md5(workspace_id || chr(0) || message_id) AS k, epoch(received_at)::BIGINT AS s
       FROM events WHERE received_at >= ?
     UNION ALL
     SELECT lower(lpad(to_hex(key), 32, '0')), epoch(seen_at)::BIGINT FROM dedupe_keys WHERE seen_at >= ?`,
    [ts(since), ts(since)],
  );
  for (
    let chunk = await result.fetchChunk();
    chunk && chunk.rowCount > 0;
    chunk = await result.fetchChunk()
  ) {
    const k = chunk.getColumnValues(0) as string[];
    const secs = chunk.getColumnValues(1) as bigint[];
    for (let i = 0; i < k.length; i++) keys.addSeconds(k[i] as string, Number(secs[i]));
  }
}
