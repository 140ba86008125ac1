// A user's SQL (POST /query) answers what its WHERE says even when a load commits while it is being prepared.
// DuckDB plans a prepared statement with the table's statistics of that moment and drops a filter they prove
// always true; run after a commit, the plan then counted rows the filter excludes. The store's test hook runs a
// load between the statement's prepare and its run.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import { DuckDBStore } from '../../src/store/duckdb/index.ts';
import { at, event, logBatch } from '../fixtures.ts';
import { tempDir } from '../helpers.ts';

test('a load committed between a query prepare and its run does not slip past the query filter', async () => {
  const dir = tempDir('intake-sql-snapshot-');
  let during: (() => Promise<void>) | null = null;
  const store = await DuckDBStore.open({
    dataDir: dir,
    memoryLimit: '128MB',
    afterSqlPrepare: async () => {
      const load = during;
      during = null;
      await load?.();
    },
  });
  try {
    // Every event so far is from 2026: the table's statistics prove `timestamp >= 2020-01-01` for all of them.
    await store.sink.load(
      logBatch(
        1,
        Array.from({ length: 50 }, (_, i) => event('w', `new-${i}`, { timestamp: at(i), receivedAt: at(i) })),
      ),
    );
    const sql =
      "SELECT count(*)::INTEGER AS n, min(timestamp) AS first FROM events WHERE timestamp >= TIMESTAMP '2020-01-01'";
    // A late event from 2019 is loaded (committed) after the statement is prepared and before it runs.
    during = () =>
      store.sink.load(
        logBatch(2, [event('w', 'old', { timestamp: new Date(Date.UTC(2019, 5, 1)), receivedAt: at(100) })]),
      );
    const answer = await store.sql.query('w', { sql, params: [], timeoutMs: 10_000 });
    assert.equal(during, null, 'the load ran between the prepare and the run');
    assert.deepEqual(
      answer.rows.map((r) => r[0]),
      [50],
    );
    assert.ok(
      String(answer.rows[0]?.[1]).startsWith('2026'),
      `the earliest counted is from 2026: ${answer.rows[0]?.[1]}`,
    );
    // Asked again, the 2019 event is there and still filtered out; without the filter it counts.
    const again = await store.sql.query('w', { sql, params: [], timeoutMs: 10_000 });
    assert.deepEqual(
      again.rows.map((r) => r[0]),
      [50],
    );
    const all = await store.sql.query('w', {
      sql: 'SELECT count(*)::INTEGER FROM events',
      params: [],
      timeoutMs: 10_000,
    });
    assert.deepEqual(all.rows, [[51]]);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
