// Why the purge copies the whole file (store/duckdb/compact.ts): in DuckDB a deleted row's bytes stay in the
// file after DELETE and CHECKPOINT, and after rewriting the row group that held it. If this test starts failing,
// an upgrade of DuckDB erases deleted rows itself, and a cheaper purge may be possible.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { tempDir } from '../helpers.ts';

const dir = tempDir('intake-erasure-');
after(() => rmSync(dir, { recursive: true, force: true }));

test('DuckDB keeps a deleted row in the file after CHECKPOINT, and after its row group is rewritten', async () => {
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
    await c.run(`UPDATE t SET s = '${marker}-a' WHERE i = 10`);
    await c.run(`UPDATE t SET s = '${marker}-b' WHERE i = 200000`);
    await c.run('CHECKPOINT');
    assert.equal(count(`${marker}-a`), 1, 'in the file before');

    await c.run(`DELETE FROM t WHERE s = '${marker}-a'`);
    await c.run('CHECKPOINT');
    assert.equal(count(`${marker}-a`), 1, 'DELETE + CHECKPOINT left it');

    // Every row of the row group that held it deleted, the others appended again: the group is dropped, but its
    // blocks are only marked free.
    await c.run('BEGIN');
    await c.run(`CREATE TEMP TABLE keep AS SELECT * FROM t WHERE rowid // 122880 =
      (SELECT rowid // 122880 FROM t WHERE s = '${marker}-b') AND s <> '${marker}-b'`);
    await c.run(
      `DELETE FROM t WHERE rowid // 122880 = (SELECT rowid // 122880 FROM t WHERE s = '${marker}-b')`,
    );
    await c.run('INSERT INTO t SELECT * FROM keep');
    await c.run('COMMIT');
    await c.run('CHECKPOINT');
    assert.equal(
      Number(
        (await c.runAndReadAll(`SELECT count(*) AS n FROM t WHERE s LIKE '${marker}%'`)).getRowObjectsJS()[0]
          ?.n,
      ),
      0,
    );
    assert.equal(count(`${marker}-b`), 1, 'the rewritten row group left it in a freed block');
  } finally {
    c.closeSync();
    instance.closeSync();
  }
});
