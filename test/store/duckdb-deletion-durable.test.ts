// Without DuckDB's WAL a commit is durable only once a checkpoint covers it (src/store/duckdb/durable.ts). A
// deletion job's commit marks it done; until a checkpoint covers that commit a crash brings the job and the
// user's rows back (the job runs again at the next start), so the store shows the job as running until then.
// The store's checkpoint is held by its test hook right after the job's commit.
import assert from 'node:assert/strict';
import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DuckDBStore } from '../../src/store/duckdb/index.ts';
import { at, event, logBatch } from '../fixtures.ts';
import { tempDir } from '../helpers.ts';
import { finished } from '../store/contract.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a deletion shows as done only once a checkpoint covers its commit; a crash before that brings it back', async () => {
  const dir = tempDir('intake-deletion-durable-');
  const crashed = tempDir('intake-deletion-crashed-');
  let held: Promise<void> | null = null;
  let release = () => {};
  let committing = false;
  const store = await DuckDBStore.open({
    dataDir: dir,
    memoryLimit: '128MB',
    beforeDeletionCommit: async () => {
      committing = true;
      held = new Promise<void>((r) => {
        release = r;
      });
    },
    beforeCheckpoint: async () => {
      if (held) await held;
    },
  });
  try {
    await store.sink.load(
      logBatch(1, [
        event('w', 'd1', { type: 'identify', userId: 'd', receivedAt: at(0) }),
        event('w', 'd2', { userId: 'd', receivedAt: at(1) }),
        event('w', 'k1', { userId: 'k', receivedAt: at(2) }),
      ]),
    );
    const job = await store.erasure.requestDeletion('w', 'd');
    // Committed: the user is gone from reads (the checkpoint after it is held).
    for (let i = 0; ; i++) {
      if (committing && (await store.profiles.getUser('w', 'd')) === null) break;
      assert.ok(i < 400, 'the deletion committed');
      await sleep(25);
    }
    const seen = await store.profiles.getDeletion('w', job.id);
    assert.equal(seen?.status, 'running', 'not done while a crash can undo it');
    assert.equal(seen?.finishedAt, null);

    // What a crash now leaves on disk (the file as of the last checkpoint; no WAL): the job not done, the user there.
    copyFileSync(join(dir, 'intake.duckdb'), join(crashed, 'intake.duckdb'));
    const after = await DuckDBStore.open({ dataDir: crashed, memoryLimit: '128MB' });
    try {
      const resumed = await finished(after, 'w', job.id);
      assert.equal(resumed.status, 'done', 'the job runs again at the next start');
      assert.equal(resumed.eventsDeleted, 2, 'and finds the rows the crash brought back');
    } finally {
      await after.close();
    }

    release();
    const done = await finished(store, 'w', job.id);
    assert.equal(done.status, 'done');
    assert.equal(done.eventsDeleted, 2);
    assert.ok(done.finishedAt instanceof Date);
  } finally {
    release();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(crashed, { recursive: true, force: true });
  }
});
