// The file log over the DuckDB store without its WAL: a loaded segment's file stays until a checkpoint covers
// it (sink.durableThrough), while the queue limit counts only the lines not yet loaded. The crash side of it is
// test/durability/crash.test.ts (a real server, SIGKILLed).
import assert from 'node:assert/strict';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FileLog } from '../../src/ingest/file/file-log.ts';
import { DuckDBStore, MAX_UNCOVERED_LOADS } from '../../src/store/duckdb/index.ts';
import { event, toRecord } from '../fixtures.ts';
import { tempDir } from '../helpers.ts';

/** The seqs of the log's segment files that hold lines. */
function segments(dir: string): number[] {
  const log = join(dir, 'log');
  return readdirSync(log)
    .filter((f) => f.endsWith('.ndjson') && statSync(join(log, f)).size > 0)
    .map((f) => Number(f.slice(0, 12)))
    .sort((a, b) => a - b);
}

async function open(dir: string, walWrites = false) {
  const store = await DuckDBStore.open({ dataDir: dir, checkpointRows: 1_000_000, walWrites });
  const log = await FileLog.open(store.sink, { dataDir: dir, segmentLines: 10, queueLimit: 25, delayMs: 5 });
  return { store, log };
}

let n = 0;
const ten = () => ({
  events: Array.from({ length: 10 }, () => toRecord(event('w', `m${n++}`))),
  rejected: [],
});

test('loaded segments are kept until a checkpoint covers them; the queue limit counts only unloaded lines', async () => {
  const dir = tempDir('intake-retention-');
  try {
    const { store, log } = await open(dir);
    try {
      // 50 lines accepted in all, twice the queue limit: each batch is loaded before the next.
      for (let i = 0; i < 5; i++) {
        await log.submit(ten());
        await log.settled();
      }
      assert.equal(log.pending, 0);
      assert.equal(segments(dir).length, 5, 'five loads, none covered by a checkpoint yet');
      // An acknowledged admin write checkpoints before it answers: it covers the loads before it too.
      await store.admin.createWorkspace({
        id: 'ws2',
        name: 'two',
        createdAt: new Date(),
        settings: { geo: false, anonymizeIp: false, timezone: 'UTC' },
        properties: {},
      });
      assert.equal(store.sink.durableThrough?.(), Math.max(...segments(dir)));
      await log.submit(ten());
      await log.settled();
      assert.deepEqual(segments(dir).length, 1, "the covered segments' files are deleted at the next load");
    } finally {
      await log.close();
      await store.close();
    }
    // A clean stop checkpoints: the next start loads nothing again and deletes the leftover file.
    const again = await open(dir);
    try {
      assert.deepEqual(segments(dir), []);
      assert.equal((await again.store.sink.checkpoint()) > 0, true);
    } finally {
      await again.log.close();
      await again.store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('with DuckDB writing its WAL, a segment is deleted once loaded', async () => {
  const dir = tempDir('intake-retention-');
  try {
    const { store, log } = await open(dir, true);
    try {
      for (let i = 0; i < 3; i++) {
        await log.submit(ten());
        await log.settled();
      }
      await new Promise((r) => setTimeout(r, 50)); // unlink is asynchronous
      assert.deepEqual(segments(dir), []);
    } finally {
      await log.close();
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(`without the WAL the store checkpoints after ${MAX_UNCOVERED_LOADS} loads whatever their rows`, async () => {
  const dir = tempDir('intake-retention-');
  try {
    const store = await DuckDBStore.open({ dataDir: dir, checkpointRows: 1_000_000 });
    const log = await FileLog.open(store.sink, {
      dataDir: dir,
      segmentLines: 1,
      queueLimit: 1000,
      delayMs: 1,
    });
    try {
      for (let i = 0; i < MAX_UNCOVERED_LOADS + 3; i++) {
        await log.submit({ events: [toRecord(event('w', `one${i}`))], rejected: [] });
        await log.settled();
      }
      assert.equal(store.checkpoints.count, 1);
      assert.ok(segments(dir).length <= 3, `${segments(dir).length} segment files kept`);
    } finally {
      await log.close();
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
