// Deleting a user (GDPR): one transaction removes the person's events, rejected items, identities, traits and
// memberships, and turns the dedupe keys of their messageIds into tombstones the purge never forgets, so a
// retried old batch is acknowledged as a duplicate and not stored again.
import { listValue } from '@duckdb/node-api';
import { dedupeKey } from '../../core/dedupe.ts';
import { uuidv7 } from '../../core/ids.ts';
import type { DeletionJob, DeletionStatus } from '../types.ts';
import { type Db, date, dateOrNull, type Row, strOrNull, ts } from './db.ts';
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
});

const COLUMNS =
  'id, workspace_id, status, requested_at, started_at, finished_at, events_deleted, ids_deleted, error';

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
 * Deletes the job's data in one transaction on `db` (the writer connection, between segment loads) and forgets
 * the subject id; returns the dedupe keys made tombstones, for the memory. The caller then erases the file
 * (compact.ts) and marks the job done.
 */
export async function runDeletion(db: Db, jobId: string): Promise<string[]> {
  const job = await db.all('SELECT workspace_id, subject FROM deletions WHERE id = ?', [jobId]);
  const ws = String(job[0]?.workspace_id);
  const subject = strOrNull(job[0]?.subject);
  if (subject === null) return [];
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
    const messages = await db.all(`SELECT DISTINCT message_id FROM events WHERE ${mine}`, mineParams);
    const messageIds = messages.map((r) => String(r.message_id));
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
    const events = await db.run(`DELETE FROM events WHERE ${mine}`, mineParams);
    // Rejected items carry no parsed ids: match their messageId, or the ids inside the payload when it parses
    // (a payload cut at the size cap does not, and is read as {}).
    await db.run(
      `DELETE FROM rejected WHERE workspace_id = ? AND (message_id = ANY(?::VARCHAR[])
         OR json_extract_string(${PARSED}, '$.userId') ${IN_IDS}
         OR json_extract_string(${PARSED}, '$.anonymousId') ${IN_IDS}
         OR json_extract_string(${PARSED}, '$.previousId') ${IN_IDS})`,
      [ws, listValue(messageIds.length > 0 ? messageIds : [null]), ids, ids, ids],
    );
    await db.run(`DELETE FROM persons WHERE workspace_id = ? AND person_id ${IN_IDS}`, [ws, ids]);
    await db.run(`DELETE FROM group_members WHERE workspace_id = ? AND member_id ${IN_IDS}`, [ws, ids]);
    await db.run(`DELETE FROM identity_refusals WHERE workspace_id = ? AND (a ${IN_IDS} OR b ${IN_IDS})`, [
      ws,
      ids,
      ids,
    ]);
    const removed = await db.run(`DELETE FROM identities WHERE workspace_id = ? AND id ${IN_IDS}`, [ws, ids]);
    await db.run('UPDATE deletions SET subject = NULL, events_deleted = ?, ids_deleted = ? WHERE id = ?', [
      events,
      removed,
      jobId,
    ]);
    await db.run('COMMIT');
    return keys;
  } catch (err) {
    await db.run('ROLLBACK').catch(() => {});
    throw err;
  }
}
