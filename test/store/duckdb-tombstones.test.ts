// A deletion the DuckDB store resumes at its open hands its keys to the file log wired as the runtime wires it
// (src/runtime/runtime.ts: listening once the log is open), also when it commits after the log's rebuild read
// the store (src/store/tombstones.ts). The job's commit is held by the store's test hook until the log is open.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import type { CanonicalEvent } from '../../src/core/event.ts';
import { Db } from '../../src/store/duckdb/db.ts';
import { createDeletion } from '../../src/store/duckdb/deletions.ts';
import { DuckDBStore } from '../../src/store/duckdb/index.ts';
import { engineNamed } from '../engines.ts';
import { at, event, logBatch, toRecord } from '../fixtures.ts';
import { tempDir } from '../helpers.ts';
import { finished } from '../store/contract.ts';

const open = (dir: string, beforeDeletionCommit?: () => Promise<void>) =>
  DuckDBStore.open({ dataDir: dir, memoryLimit: '128MB', beforeDeletionCommit });

/** What a crash leaves: a deletion job requested (and durable), never run. */
async function pendingDeletion(dir: string, ws: string, subject: string): Promise<string> {
  const instance = await DuckDBInstance.create(join(dir, 'intake.duckdb'));
  const conn = await instance.connect();
  try {
    const job = await createDeletion(new Db(conn), ws, subject, new Date());
    await conn.run('CHECKPOINT');
    return job.id;
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

test('a deletion resumed at the open and committed after the log read the store has its keys refused by the log', async () => {
  const dir = tempDir('intake-tombstones-');
  try {
    // Received long before the log's dedupe window: only the tombstones keep their messageIds refused.
    const victim = (): CanonicalEvent[] => [
      event('w', 'd1', { type: 'identify', userId: 'd', anonymousId: 'da', receivedAt: at(0) }),
      event('w', 'd2', { anonymousId: 'da', receivedAt: at(1) }),
    ];
    const first = await open(dir);
    await first.sink.load(logBatch(1, [...victim(), event('w', 'k1', { userId: 'k', receivedAt: at(2) })]));
    await first.close();
    const jobId = await pendingDeletion(dir, 'w', 'd');

    let handed = () => {};
    const keysHanded = new Promise<void>((r) => {
      handed = r;
    });
    let commit = () => {};
    const committing = new Promise<void>((r) => {
      commit = r;
    });
    const store = await open(dir, async () => {
      handed();
      await committing;
    });
    // The resumed job has handed its keys over, nobody listening yet, and not committed: the log's rebuild, which
    // reads the store now, misses them.
    await keysHanded;
    const log = await engineNamed('embedded').openLog(store, dir);
    store.onTombstones((keys) => log.forbid(keys));
    try {
      commit();
      assert.equal((await finished(store, 'w', jobId)).status, 'done');
      const again = await log.submit({
        events: [...victim(), event('w', 'n1', { userId: 'n', receivedAt: new Date() })].map(toRecord),
        rejected: [],
      });
      assert.deepEqual(again.duplicate, [true, true, false], 'the deleted messageIds are refused');
    } finally {
      await log.close();
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
