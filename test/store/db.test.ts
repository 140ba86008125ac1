// The embedded store's connection wrapper (src/store/duckdb/db.ts): a connection in background mode hands its
// parameterless statements to DuckDB's threads and watches them. It must answer exactly what the driver's own
// execution answers: rows changed, the statement's effects, and a failing statement's error, never a hang.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { Db, StoreError } from '../../src/store/duckdb/db.ts';

async function connections(threads: string) {
  const instance = await DuckDBInstance.create(':memory:', { threads });
  return {
    plain: new Db(await instance.connect()),
    watched: new Db(await instance.connect(), { background: true }),
    close: () => instance.closeSync(),
  };
}

test('a watched connection answers as the driver does: rows changed, effects, transactions, errors', async () => {
  const { plain, watched, close } = await connections('2');
  try {
    await watched.run('CREATE TABLE t (n INTEGER PRIMARY KEY, s VARCHAR)');
    // Large enough to be executed by a worker thread while the event loop checks it.
    assert.equal(await watched.run('INSERT INTO t SELECT i, i::VARCHAR FROM range(200000) r(i)'), 200_000);
    assert.equal(await plain.run('INSERT INTO t SELECT i, i::VARCHAR FROM range(200000, 200010) r(i)'), 10);
    assert.equal(await watched.run("UPDATE t SET s = s || '!' WHERE n % 2 = 0"), 100_005);
    // A statement with parameters takes the driver's path on the same connection.
    assert.equal(await watched.run('DELETE FROM t WHERE n >= ?', [200_000]), 10);
    await watched.run('BEGIN TRANSACTION');
    await watched.run('DELETE FROM t');
    await watched.run('ROLLBACK');
    const rows = await plain.all(
      "SELECT count(*)::INTEGER AS n, count(*) FILTER (s LIKE '%!')::INTEGER AS bang FROM t",
    );
    assert.deepEqual(rows, [{ n: 200_000, bang: 100_000 }]);
    // Errors: one found while planning, one while executing (a duplicate key), each as the driver reports it.
    for (const sql of ['INSERT INTO nowhere VALUES (1)', 'INSERT INTO t SELECT i, NULL FROM range(5) r(i)']) {
      const expected = await plain.run(sql).then(
        () => assert.fail(`${sql} should fail`),
        (err: StoreError) => err.message,
      );
      await assert.rejects(watched.run(sql), (err: unknown) => {
        assert.ok(err instanceof StoreError);
        assert.equal(err.message, expected);
        assert.equal(err.sql, sql);
        return true;
      });
    }
    assert.deepEqual(await plain.all('SELECT count(*)::INTEGER AS n FROM t'), [{ n: 200_000 }]);
  } finally {
    close();
  }
});

test('a stream on a shared connection gets every row while other statements start on the same connection', async () => {
  // DuckDB ends a connection's open stream, without an error, when the next statement starts on it: each() holds
  // run() and all() started meanwhile on the same Db until the stream is read.
  const { plain, close } = await connections('2');
  try {
    await plain.run('CREATE TABLE big AS SELECT i FROM range(300000) r(i)');
    await plain.run('CREATE TABLE other (i INTEGER)');
    let rows = 0;
    let sum = 0;
    let beside: Promise<unknown>[] = [];
    const streamed = plain.each('SELECT i FROM big', [], (chunk) => {
      rows += chunk.rowCount;
      for (const v of chunk.getColumnValues(0)) sum += Number(v);
      // Started while the stream is open, after its first chunk: a read and a write of the same connection.
      if (beside.length === 0) {
        beside = [
          plain.all('SELECT count(*)::INTEGER AS n FROM big'),
          plain.run('INSERT INTO other VALUES (1)'),
        ];
      }
    });
    await streamed;
    const [counted, inserted] = await Promise.all(beside);
    assert.equal(rows, 300_000);
    assert.equal(sum, (299_999 * 300_000) / 2);
    assert.deepEqual(counted, [{ n: 300_000 }]);
    assert.equal(inserted, 1);
    assert.deepEqual(await plain.all('SELECT count(*)::INTEGER AS n FROM other'), [{ n: 1 }]);
  } finally {
    close();
  }
});
