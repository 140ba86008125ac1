// Deleting a user (GDPR): one transaction removes the person's events, rejected items, identities, traits and
// memberships, and turns the dedupe keys of their messageIds into tombstones the dedupe window never forgets,
// so a retried old batch is acknowledged as a duplicate and not stored again. Their bytes stay in the file
// until the next purge (purge.ts) rewrites it; erased_at records when that happened.
import { listValue } from '@duckdb/node-api';
import { dedupeKey } from '../../core/dedupe.ts';
import { uuidv7 } from '../../core/ids.ts';
import type { DeletionJob, DeletionStatus } from '../types.ts';
import { type Db, date, dateOrNull, type Row, strOrNull, ts } from './db.ts';
import { forgetEvents } from './dictionary.ts';
import { TOMBSTONE_SEEN_AT } from './profile-schema.ts';

const toJob = (r: Row): DeletionJob => ({
  id: String(r.id),
  workspaceId: String(r.workspace_id),
  status: String(r.status) as DeletionStatus,
  requestedAt: date(r.requested_at),
  startedAt: dateOrNull(r.started_at),
  finishedAt: dateOrNull(r.finished_at),
  eventsDeleted: Number(r.events_deleted),
  idsDeleted: Number(r.ids_deleted),
  error: strOrNull(r.error),
  erasedAt: dateOrNull(r.erased_at),
});

const COLUMNS =
  'id, workspace_id, status, requested_at, started_at, finished_at, events_deleted, ids_deleted, error, erased_at';

/** Stores keys (32 hex digits) as tombstones, skipping those already there; returns how many were new. */
export async function addTombstones(db: Db, keys: readonly string[]): Promise<number> {
  if (keys.length === 0) return 0;
  const list = listValue([...new Set(keys)].map((k) => BigInt(`0x${k}`).toString()));
  return db.run(
    `INSERT INTO dedupe_keys SELECT k, ${TOMBSTONE_SEEN_AT} FROM (SELECT unnest(?::VARCHAR[])::UHUGEINT AS k) n
      WHERE NOT EXISTS (SELECT 1 FROM dedupe_keys d WHERE d.key = n.k AND d.seen_at = ${TOMBSTONE_SEEN_AT})`,
    [list],
  );
}

export async function createDeletion(db: Db, ws: string, subject: string, at: Date): Promise<DeletionJob> {
  const id = uuidv7(at.getTime());
  await db.run(
    `INSERT INTO deletions (id, workspace_id, subject, status, requested_at) VALUES (?, ?, ?, 'pending', ?)`,
    [id, ws, subject, ts(at)],
  );
  return (await getDeletion(db, ws, id)) as DeletionJob;
}

export async function getDeletion(db: Db, ws: string, id: string): Promise<DeletionJob | null> {
  const rows = await db.all(`SELECT ${COLUMNS} FROM deletions WHERE workspace_id = ? AND id = ?`, [ws, id]);
  return rows[0] ? toJob(rows[0]) : null;
}

/** Jobs not finished (e.g. interrupted by a restart), oldest first. */
export async function unfinishedDeletions(db: Db): Promise<string[]> {
  const rows = await db.all(
    "SELECT id FROM deletions WHERE status IN ('pending', 'running') ORDER BY requested_at, id",
  );
  return rows.map((r) => String(r.id));
}

export async function markDeletion(
  db: Db,
  id: string,
  status: DeletionStatus,
  error?: string,
): Promise<void> {
  const now = ts(new Date());
  if (status === 'running') {
    await db.run(`UPDATE deletions SET status = 'running', started_at = ? WHERE id = ?`, [now, id]);
  } else {
    await db.run('UPDATE deletions SET status = ?, finished_at = ?, error = ? WHERE id = ?', [
      status,
      now,
      error ?? null,
      id,
    ]);
  }
}

const IN_IDS = 'IN (SELECT unnest(?::VARCHAR[]))';
const PARSED = "CASE WHEN json_valid(payload) THEN payload ELSE '{}' END";

/**
 * Deletes the job's data, forgets the subject id and marks the job done, in one transaction on `db` (the
 * writer connection, between segment loads); returns the dedupe keys made tombstones, for the memory. A job
 * that found no row is erased at once: the file holds nothing of it to rewrite.
 */
export async function runDeletion(
  db: Db,
  jobId: string,
  /** Given the tombstone keys before the commit that marks the job done: their events are stored, so refusing them early is safe. */
  onKeys: (keys: string[]) => void | Promise<void> = () => {},
): Promise<string[]> {
  const job = await db.all('SELECT workspace_id, subject FROM deletions WHERE id = ?', [jobId]);
  const ws = String(job[0]?.workspace_id);
  const subject = strOrNull(job[0]?.subject);
  if (subject === null) {
    // Deleted by a run interrupted before it was marked done (versions that erased the file in between).
    await db.run("UPDATE deletions SET status = 'done', finished_at = ? WHERE id = ?", [
      ts(new Date()),
      jobId,
    ]);
    return [];
  }
  let rows = 0;
  await db.run('BEGIN TRANSACTION');
  try {
    const linked = await db.all(
      `SELECT id FROM identities WHERE workspace_id = ? AND person_id =
         (SELECT person_id FROM identities WHERE workspace_id = ? AND id = ?)`,
      [ws, ws, subject],
    );
    const ids = listValue([...new Set([subject, ...linked.map((r) => String(r.id))])]);
    const mine = `workspace_id = ? AND (user_id ${IN_IDS} OR anonymous_id ${IN_IDS}
      OR (type = 'alias' AND previous_id ${IN_IDS}))`;
    const mineParams = [ws, ids, ids, ids];
    await forgetEvents(db, ws, mine, mineParams); // the data dictionary (dictionary.ts), before they go
    // One scan of the events, which hands back the messageIds to make tombstones of: the scans are most of a
    // deletion's time (1M bench events, busy machine: 0.63 s with a SELECT then a DELETE, 0.12 s so).
    const deleted = await db.all(`DELETE FROM events WHERE ${mine} RETURNING message_id`, mineParams);
    const events = deleted.length;
    rows += events;
    const messageIds = [...new Set(deleted.map((r) => String(r.message_id)))];
    const keys = messageIds.map((m) => dedupeKey(ws, m));
    if (keys.length > 0) {
      const tombstones = listValue(keys.map((k) => BigInt(`0x${k}`).toString()));
      await db.run('DELETE FROM dedupe_keys WHERE key IN (SELECT unnest(?::VARCHAR[])::UHUGEINT)', [
        tombstones,
      ]);
      await db.run(`INSERT INTO dedupe_keys SELECT unnest(?::VARCHAR[])::UHUGEINT, ${TOMBSTONE_SEEN_AT}`, [
        tombstones,
      ]);
    }
    // Rejected items carry no parsed ids: match their messageId, or the ids inside the payload when it parses
    // (a payload cut at the size cap does not, and is read as {}).
    rows += await db.run(
      `DELETE FROM rejected WHERE workspace_id = ? AND (message_id = ANY(?::VARCHAR[])
         OR json_extract_string(${PARSED}, '$.userId') ${IN_IDS}
         OR json_extract_string(${PARSED}, '$.anonymousId') ${IN_IDS}
         OR json_extract_string(${PARSED}, '$.previousId') ${IN_IDS})`,
      [ws, listValue(messageIds.length > 0 ? messageIds : [null]), ids, ids, ids],
    );
    rows += await db.run(`DELETE FROM persons WHERE workspace_id = ? AND person_id ${IN_IDS}`, [ws, ids]);
    rows += await db.run(`DELETE FROM group_members WHERE workspace_id = ? AND member_id ${IN_IDS}`, [
      ws,
      ids,
    ]);
    rows += await db.run(
      `DELETE FROM identity_refusals WHERE workspace_id = ? AND (a ${IN_IDS} OR b ${IN_IDS})`,
      [ws, ids, ids],
    );
    const removed = await db.run(`DELETE FROM identities WHERE workspace_id = ? AND id ${IN_IDS}`, [ws, ids]);
    rows += removed;
    const now = ts(new Date());
    await db.run(
      `UPDATE deletions SET subject = NULL, events_deleted = ?, ids_deleted = ?, status = 'done', finished_at = ?,
         erased_at = ? WHERE id = ?`,
      [events, removed, now, rows === 0 ? now : null, jobId],
    );
    await onKeys(keys);
    await db.run('COMMIT');
    return keys;
  } catch (err) {
    await db.run('ROLLBACK').catch(() => {});
    throw err;
  }
}

/** Deletion jobs done whose rows a purge has not yet erased from the file, and when the oldest was done. */
export async function unerased(db: Db): Promise<{ count: number; oldest: Date | null }> {
  const rows = await db.all(
    "SELECT count(*)::BIGINT AS n, min(finished_at) AS oldest FROM deletions WHERE status = 'done' AND erased_at IS NULL",
  );
  return { count: Number(rows[0]?.n ?? 0), oldest: dateOrNull(rows[0]?.oldest) };
}

/** Marks every job done and not yet erased as erased at `at` (run on the copy, just before it is swapped in). */
export function markErased(db: Db, at: Date): Promise<number> {
  return db.run("UPDATE deletions SET erased_at = ? WHERE status = 'done' AND erased_at IS NULL", [ts(at)]);
}

/**
 * Databases made before erased_at: their done jobs were erased (the file rewritten) before being marked done.
 * Run once, when the column is added.
 */
export async function migrateErasure(db: Db): Promise<void> {
  const has = await db.all(
    `SELECT 1 FROM information_schema.columns
      WHERE table_schema = 'main' AND table_name = 'deletions' AND column_name = 'erased_at'`,
  );
  if (has.length > 0) return;
  await db.run('BEGIN TRANSACTION');
  await db.run('ALTER TABLE deletions ADD COLUMN erased_at TIMESTAMP');
  await db.run("UPDATE deletions SET erased_at = finished_at WHERE status = 'done'");
  await db.run('COMMIT');
}
