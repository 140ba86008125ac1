// The DuckDB store's own paths, beyond the contract (contract.test.ts runs that on it): loading a log segment
// through its file with read_json stores exactly what the portable path stores, the dedupe keys that older
// versions kept in dedupe_keys are purged by their date, and the user keys (user-key.ts) are filled in and kept
// right.
import assert from 'node:assert/strict';
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { dedupeKey } from '../../src/core/dedupe.ts';
import { KeySet } from '../../src/ingest/file/keyset.ts';
import { SegmentLog } from '../../src/ingest/file/segments.ts';
import { DuckDBStore } from '../../src/store/duckdb/index.ts';
import { at, event, logBatch, record, rejection, toRecord } from '../fixtures.ts';
import { tempDir } from '../helpers.ts';
import { query } from './contract.ts';

/** Every row of every table, in a fixed order, with JSON as its stored text. */
async function tables(dir: string): Promise<Record<string, unknown[]>> {
  const instance = await DuckDBInstance.create(join(dir, 'intake.duckdb'), { access_mode: 'READ_ONLY' });
  const conn = await instance.connect();
  try {
    const out: Record<string, unknown[]> = {};
    const names = await conn.runAndReadAll(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY table_name",
    );
    for (const { table_name } of names.getRowObjectsJS()) {
      const rows = await conn.runAndReadAll(`SELECT * FROM "${table_name}" ORDER BY ALL`);
      out[String(table_name)] = rows.getRowObjectsJson();
    }
    return out;
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

test('a segment loaded through its file (read_json) stores exactly what the portable path stores', async () => {
  const viaFile = tempDir('intake-duckdb-file-');
  // In the store's data directory, as the file log keeps it: the engine reads files only there.
  const logDir = join(viaFile, 'log');
  const viaEntries = tempDir('intake-duckdb-entries-');
  try {
    const events = [
      // A first row with nulls where later rows have values: the portable path once loaded such columns as NULL.
      event('w', 'n1', { type: 'page', anonymousId: 'a1', timestamp: at(1) }),
      event('w', 'n2', {
        type: 'identify',
        userId: 'u1',
        anonymousId: 'a1',
        groupId: 'g',
        previousId: 'p',
        instanceId: 'i',
        name: 'n',
        category: 'c',
        timestamp: at(2.001),
        originalTimestamp: at(1.999),
        sentAt: at(2.5),
        receivedAt: at(3.75),
        properties: {
          big: 1e21,
          small: 1e-7,
          neg: -0,
          text: 'quote " back \\ nl \n tab \t',
          deep: { a: [1, { b: null }] },
        },
        traits: { email: 'u1@x.io', plan: 'pro' },
        context: { ip: '10.0.0.1', traits: { name: 'Ü' } },
        integrations: { All: false },
        source: 'posthog',
      }),
      event('w', 'n3', {
        type: 'group',
        userId: 'u1',
        groupId: 'g',
        traits: { name: 'G', 'k\udc00': 'lone \ud800', pair: '😀' },
        timestamp: at(4),
      }),
      event('w2', 'n1', { event: 'Odd \ud83d name', userId: 'u9', timestamp: at(5) }),
      record('w', {
        type: 'track',
        event: 'Segment item',
        userId: 'u2',
        messageId: 'n4',
        properties: { price: 4.5, tags: ['x', 'y'] },
        timestamp: '2026-01-01T00:00:06.123Z',
      }).event,
    ];
    const rejected = [
      rejection('w', 'r1', { messageId: null, payload: '{"a":"\\u0000 ü"}' }),
      rejection('w', 'r2', { messageId: 'n9', receivedAt: at(7.25), reason: 'lone \udc00 reason' }),
    ];

    const { log } = SegmentLog.open(
      { dir: logDir, dedupe: new KeySet(), queueLimit: 1000, segmentLines: 1000 },
      0,
    );
    await log.submit({ events: events.map(toRecord), rejected });
    const segment = await log.next();
    await log.close();
    log.closeFiles();
    assert.ok(segment?.file, 'the log hands out its segment file');

    const a = await DuckDBStore.open({ dataDir: viaFile });
    await a.sink.load(segment);
    await a.close();
    const b = await DuckDBStore.open({ dataDir: viaEntries });
    await b.sink.load(logBatch(segment.seq, events, rejected));
    await b.close();

    const file = await tables(viaFile);
    const entries = await tables(viaEntries);
    assert.equal(file.events?.length, 5, 'the comparison holds rows');
    assert.equal(file.rejected?.length, 2);
    assert.ok((file.identities?.length ?? 0) > 0 && (file.group_profiles?.length ?? 0) > 0);
    assert.deepEqual(file, entries);
  } finally {
    for (const d of [logDir, viaFile, viaEntries]) rmSync(d, { recursive: true, force: true });
  }
});

test('keys an older version stored in dedupe_keys are given back, and purged by their date', async () => {
  const dir = tempDir('intake-duckdb-keys-');
  try {
    let store = await DuckDBStore.open({ dataDir: dir });
    await store.sink.load(logBatch(1, [event('w', 'e1', { userId: 'u', receivedAt: at(50) })]));
    await store.close();
    // What a version that copied every accepted key into dedupe_keys left behind.
    const instance = await DuckDBInstance.create(join(dir, 'intake.duckdb'));
    const conn = await instance.connect();
    const old = dedupeKey('w', 'old');
    const recent = dedupeKey('w', 'recent');
    await conn.run(
      `INSERT INTO dedupe_keys VALUES ($old::UHUGEINT, TIMESTAMP '2026-01-01 00:00:10.9'),
         ($recent::UHUGEINT, TIMESTAMP '2026-01-01 00:00:30')`,
      { old: BigInt(`0x${old}`).toString(), recent: BigInt(`0x${recent}`).toString() },
    );
    conn.closeSync();
    instance.closeSync();

    store = await DuckDBStore.open({ dataDir: dir });
    try {
      const keys = async () => {
        const out: Array<[string, number]> = [];
        await store.sink.dedupeKeys(at(0), (k, s) => out.push([k, s]));
        return out.sort();
      };
      const s = (n: number) => Math.floor(at(n).getTime() / 1000);
      assert.deepEqual(
        await keys(),
        [
          [dedupeKey('w', 'e1'), s(50)],
          [old, s(10)],
          [recent, s(30)],
        ].sort(),
      );
      assert.equal(await store.sink.purgeKeys(at(20)), 1);
      assert.deepEqual(
        await keys(),
        [
          [dedupeKey('w', 'e1'), s(50)],
          [recent, s(30)],
        ].sort(),
      );
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('user keys: a database made before them gets them at open, and a changed hash() is recomputed', async () => {
  const dir = tempDir('intake-duckdb-user-key-');
  const raw = async (fn: (run: (sql: string) => Promise<unknown[]>) => Promise<void>) => {
    const instance = await DuckDBInstance.create(join(dir, 'intake.duckdb'));
    const conn = await instance.connect();
    try {
      await fn(async (sql) => (await conn.runAndReadAll(sql)).getRowObjectsJS());
    } finally {
      conn.closeSync();
      instance.closeSync();
    }
  };
  const wrongKeys = async () => {
    let n = -1;
    await raw(async (run) => {
      const rows = await run(
        `SELECT count(*) FILTER (WHERE user_key IS DISTINCT FROM
           (hash(workspace_id, coalesce(user_id, anonymous_id)) % 4294967296)::UINTEGER)::INTEGER AS n FROM events`,
      );
      n = Number((rows[0] as { n: number }).n);
    });
    return n;
  };
  const byUser = async (userId: string) => {
    const store = await DuckDBStore.open({ dataDir: dir });
    try {
      const page = await store.events.listEvents('w', { ...query({ userId }), limit: 10 });
      return page.results.map((e) => e.messageId);
    } finally {
      await store.close();
    }
  };
  try {
    const store = await DuckDBStore.open({ dataDir: dir });
    await store.sink.load(
      logBatch(1, [
        event('w', 'e1', { userId: 'u1', timestamp: at(1) }),
        event('w', 'e2', { anonymousId: 'a1', timestamp: at(2) }),
        event('w', 'e3', { userId: 'u1', anonymousId: 'a1', timestamp: at(3) }),
      ]),
    );
    await store.close();
    assert.equal(await wrongKeys(), 0);

    // As a version before user keys left it: no key, and nothing recorded about them.
    await raw(async (run) => {
      await run('ALTER TABLE events ALTER COLUMN user_key DROP NOT NULL');
      await run('UPDATE events SET user_key = NULL');
      await run('DELETE FROM store_meta');
    });
    assert.equal(await wrongKeys(), 3);
    assert.deepEqual(await byUser('u1'), ['e1', 'e3']);
    assert.equal(await wrongKeys(), 0);
    await raw(async (run) => {
      const col = await run(
        "SELECT is_nullable FROM information_schema.columns WHERE table_name = 'events' AND column_name = 'user_key'",
      );
      assert.deepEqual(col, [{ is_nullable: 'NO' }]);
    });

    // As if the keys had been computed by a DuckDB whose hash() differs.
    await raw(async (run) => {
      await run('UPDATE events SET user_key = 7');
      await run("UPDATE store_meta SET value = '[1, 2, 3, 4]' WHERE name = 'user_key_probes'");
    });
    assert.deepEqual(await byUser('u1'), ['e1', 'e3']);
    assert.equal(await wrongKeys(), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Log batch `seq` of `n` events of user u in workspace w (the checkpoint tests). */
const batch = (seq: number, n: number) =>
  logBatch(
    seq,
    Array.from({ length: n }, (_, i) => event('w', `e${seq}-${i}`, { userId: 'u', receivedAt: at(seq) })),
  );

test('the store checkpoints once checkpointRows rows were loaded since the last one, not at each load', async () => {
  const dir = tempDir('intake-duckdb-cadence-');
  const wal = () => statSync(join(dir, 'intake.duckdb.wal'), { throwIfNoEntry: false })?.size ?? 0;
  try {
    const store = await DuckDBStore.open({ dataDir: dir, checkpointRows: 5 });
    await store.sink.load(batch(1, 2));
    await store.sink.load(batch(2, 2));
    assert.equal(store.checkpoints.count, 0);
    assert.equal(wal(), 0, 'DuckDB writes no WAL');
    assert.equal(
      store.sink.durableThrough?.(),
      0,
      'the 4 rows wait for a checkpoint: the log keeps their batches',
    );
    await store.sink.load(batch(3, 2)); // 6 rows >= 5
    assert.deepEqual([store.checkpoints.count, store.checkpoints.rows], [1, 6]);
    assert.equal(store.sink.durableThrough?.(), 3);
    await store.sink.load(batch(4, 4));
    assert.equal(store.checkpoints.count, 1);
    // Already loaded: skipped, its rows counted all the same (8 >= 5); harmless, a restart's replay at most.
    await store.sink.load(batch(4, 4));
    assert.deepEqual([store.checkpoints.count, store.checkpoints.rows], [2, 14]);
    await store.sink.load(batch(5, 1));
    assert.equal(store.checkpoints.count, 2);
    assert.equal(store.sink.durableThrough?.(), 4);
    assert.equal(await store.sink.checkpoint(), 5);
    const page = await store.events.listEvents('w', { ...query(), limit: 100 });
    assert.equal(page.results.length, 11);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a checkpoint leaves the row groups earlier checkpoints wrote as they are, not merged with the new rows', async () => {
  // DuckDB's vacuum merged the partial row group a checkpoint left with the rows loaded after it by copying them
  // all into new in-memory row groups, which doubled the in-memory table during each checkpoint (max_vacuum_tasks
  // 0, index.ts). Without it the two row groups stay apart: 6 rows from the first checkpoint, 8 from the second.
  const dir = tempDir('intake-duckdb-vacuum-');
  try {
    const store = await DuckDBStore.open({ dataDir: dir, checkpointRows: 5 });
    await store.sink.load(batch(1, 6));
    await store.sink.load(batch(2, 8));
    assert.equal(store.checkpoints.count, 2);
    await store.close();
    const instance = await DuckDBInstance.create(join(dir, 'intake.duckdb'), { access_mode: 'READ_ONLY' });
    const conn = await instance.connect();
    // One row per segment of each column; column 0's data segments (column_path [0]) count the rows.
    const groups = await conn.runAndReadAll(
      `SELECT row_group_id::INTEGER AS g, sum(count)::INTEGER AS n FROM pragma_storage_info('events')
       WHERE column_id = 0 AND column_path = '[0]' GROUP BY ALL ORDER BY g`,
    );
    assert.deepEqual(groups.getRowObjectsJS(), [
      { g: 0, n: 6 },
      { g: 1, n: 8 },
    ]);
    assert.equal(
      (await conn.runAndReadAll('SELECT count(*)::INTEGER AS n FROM events')).getRowObjectsJS()[0]?.n,
      14,
    );
    conn.closeSync();
    instance.closeSync();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
