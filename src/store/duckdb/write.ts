// The ingest write: one transaction per group commit. Dedupe keys go through the primary-key index with
// ON CONFLICT DO NOTHING RETURNING, so only keys never seen before come back; their events are appended.
import { createHash } from 'node:crypto';
import { LIST, listValue, TIMESTAMP, UHUGEINT } from '@duckdb/node-api';
import type { CanonicalEvent } from '../../pipeline/types.ts';
import type { WriteBatch, WriteResult } from '../types.ts';
import { type Db, StoreError, ts } from './db.ts';
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
}

export async function writeEvents(db: Db, batch: WriteBatch, opts: WriteOptions): Promise<WriteResult> {
  const { events, rejected } = batch;
  const keys = events.map((r) => dedupeKey(r.event.workspaceId, r.event.messageId));
  const duplicate = new Array<boolean>(events.length).fill(true);
  const conn = db.conn;
  let changes: ProfileChanges | undefined;
  await db.run('BEGIN TRANSACTION');
  try {
    if (events.length > 0) {
      // Keys and first-seen times go in as bound lists: no staging table to fill and empty on every commit.
      const fresh = new Set(
        (
          await db.all(
            `INSERT INTO dedupe SELECT DISTINCT ON (key) key, seen_at
             FROM (SELECT unnest(?) AS key, unnest(?) AS seen_at)
             ON CONFLICT DO NOTHING RETURNING key`,
            [listValue(keys), listValue(events.map((r) => ts(r.event.receivedAt)))],
            [LIST(UHUGEINT), LIST(TIMESTAMP)],
          )
        ).map((r) => r.key as bigint),
      );
      const stored: CanonicalEvent[] = [];
      if (fresh.size > 0) {
        const appender = await conn.createAppender('events');
        for (let i = 0; i < events.length; i++) {
          const key = keys[i] as bigint;
          if (!fresh.delete(key)) continue; // seen before, or a second copy inside this batch
          duplicate[i] = false;
          const rec = events[i] as (typeof events)[number];
          stored.push(rec.event);
          for (const c of EVENT_COLUMNS) c.append(appender, rec);
          appender.endRow();
        }
        appender.closeSync();
      }
      // Profiles change in the same transaction, from the newly stored events only (never from duplicates).
      if (stored.length > 0) changes = await applyProfiles(db, stored, opts.maxIdsPerPerson, opts.caches);
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
    if (changes) opts.caches.apply(changes);
    return { duplicate };
  } catch (err) {
    await db.run('ROLLBACK').catch(() => {});
    if (err instanceof StoreError) throw err;
    throw new StoreError(`duckdb append: ${(err as Error).message}`, 'APPEND', { cause: err });
  }
}
