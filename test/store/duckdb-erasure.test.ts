// Why the purge copies the whole file (store/duckdb/compact.ts): in DuckDB a deleted row's bytes stay in the
// file after DELETE and CHECKPOINT. If this test starts failing, an upgrade of DuckDB erases deleted rows itself,
// and a cheaper purge may be possible. (Rewriting the row group that held the row is no guarantee either: its
// blocks are only freed, and whether new data happens to overwrite them depends on block allocation.)
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { tempDir } from '../helpers.ts';

const dir = tempDir('intake-erasure-');
after(() => rmSync(dir, { recursive: true, force: true }));

test('DuckDB keeps a deleted row in the file after DELETE, CHECKPOINT and close', async () => {
  const path = join(dir, 'x.duckdb');
  const count = (s: string) => {
    const bytes = Buffer.concat([path, `${path}.wal`].filter(existsSync).map((p) => readFileSync(p)));
    let n = 0;
    for (let i = bytes.indexOf(s); i >= 0; i = bytes.indexOf(s, i + 1)) n++;
    return n;
  };
  const marker = `deleted-${Math.random().toString(36).slice(2)}`;
  // Uncompressed, so the strings can be found in the file at all.
  const instance = await DuckDBInstance.create(path, { force_compression: 'uncompressed' });
  const c = await instance.connect();
  try {
    await c.run('CREATE TABLE t (i BIGINT, s VARCHAR)');
    await c.run("INSERT INTO t SELECT i, 'row-' || i::VARCHAR FROM range(300000) r(i)");
    await c.run(`UPDATE t SET s = '${marker}' WHERE i = 10`);
    await c.run('CHECKPOINT');
    assert.equal(count(`${marker}`), 1, 'in the file before');

    await c.run(`DELETE FROM t WHERE s = '${marker}'`);
    await c.run('CHECKPOINT');
    assert.equal(count(`${marker}`), 1, 'DELETE + CHECKPOINT left it');
  } finally {
    c.closeSync();
    instance.closeSync();
  }
  assert.equal(count(`${marker}`), 1, 'and closing the database too');
});
