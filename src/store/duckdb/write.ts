// The ingest write: one transaction per group commit. Events whose key the dedupe memory holds are
// duplicates; the others are appended with their keys, and the memory learns the keys after COMMIT.
import { createHash } from 'node:crypto';
import type { EventRecord } from '../../pipeline/types.ts';
import type { WriteBatch, WriteResult } from '../types.ts';
import { type Db, StoreError, ts } from './db.ts';
import type { KeySet } from './keyset.ts';
import type { ProfileCaches, ProfileChanges } from './profile-cache.ts';
import { applyProfiles } from './profiles.ts';
import { EVENT_COLUMNS } from './schema.ts';

/** 128-bit key of (workspace, messageId). md5 is fine here: the inputs are not adversarial across tenants. */
export function dedupeKey(workspaceId: string, messageId: string): bigint {
  return BigInt(`0x${createHash('md5').update(workspaceId).update('\0').update(messageId).digest('hex')}`);
}

export interface WriteOptions {
  /** Most ids one person may have (profiles/identity.ts). */
  maxIdsPerPerson: number;
  /** Identities and trait states in memory; changed only after the commit. */
  caches: ProfileCaches;
  /** Accepted dedupe keys in memory; added to only after the commit. */
  keys: KeySet;
}

export async function writeEvents(db: Db, batch: WriteBatch, opts: WriteOptions): Promise<WriteResult> {
  const { events, rejected } = batch;
  const keys = events.map((r) => dedupeKey(r.event.workspaceId, r.event.messageId));
  const duplicate = new Array<boolean>(events.length).fill(true);
  const conn = db.conn;
  let changes: ProfileChanges | undefined;
  const inBatch = new Set<bigint>();
  const fresh: number[] = [];
  await db.run('BEGIN TRANSACTION');
  try {
    if (events.length > 0) {
      // Duplicates are told by the in-memory key set (complete for the window: keyset.ts); the writer is
      // the only one adding keys, one commit at a time, so nothing can slip in between check and commit.
      const appender = await conn.createAppender('events');
      const keyLog = await conn.createAppender('dedupe_keys');
      for (let i = 0; i < events.length; i++) {
        const key = keys[i] as bigint;
        if (opts.keys.has(key) || inBatch.has(key)) continue;
        inBatch.add(key);
        duplicate[i] = false;
        const rec = events[i] as (typeof events)[number];
        fresh.push(i);
        for (const c of EVENT_COLUMNS) c.append(appender, rec);
        appender.endRow();
        keyLog.appendUHugeInt(key);
        keyLog.appendTimestamp(ts(rec.event.receivedAt));
        keyLog.endRow();
      }
      appender.closeSync();
      keyLog.closeSync();
      // Profiles change in the same transaction, from the newly stored events only (never from duplicates).
      if (fresh.length > 0) {
        const stored = fresh.map((i) => (events[i] as EventRecord).event);
        changes = await applyProfiles(db, stored, opts.maxIdsPerPerson, opts.caches);
      }
    }
    if (rejected.length > 0) {
      const a = await conn.createAppender('rejected');
      for (const r of rejected) {
        a.appendVarchar(r.id);
        a.appendVarchar(r.workspaceId);
        a.appendTimestamp(ts(r.receivedAt));
        a.appendVarchar(r.source);
        if (r.messageId === null) a.appendNull();
        else a.appendVarchar(r.messageId);
        a.appendVarchar(r.code);
        a.appendVarchar(r.reason);
        a.appendVarchar(r.payload);
        a.endRow();
      }
      a.closeSync();
    }
    await db.run('COMMIT');
    for (const i of fresh) opts.keys.add(keys[i] as bigint, (events[i] as EventRecord).event.receivedAt);
    if (changes) opts.caches.apply(changes);
    return { duplicate };
  } catch (err) {
    await db.run('ROLLBACK').catch(() => {});
    if (err instanceof StoreError) throw err;
    throw new StoreError(`duckdb append: ${(err as Error).message}`, 'APPEND', { cause: err });
  }
}
