// How the DuckDB store reads a page's rows by runs of receive time (src/store/duckdb/pages.ts runsOf).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runsOf } from '../../src/store/duckdb/pages.ts';

test('runsOf keeps consecutive times one run and cuts scattered ones at their widest gaps', () => {
  assert.deepEqual(runsOf([]), []);
  assert.deepEqual(runsOf([5]), [[5, 5]]);
  assert.deepEqual(runsOf([5, 5, 5]), [[5, 5]]);
  // A page of consecutive events: every gap is far under a 64th of the span.
  const consecutive = Array.from({ length: 1000 }, (_, i) => 1_000_000 + i * 40);
  assert.deepEqual(runsOf(consecutive), [[1_000_000, 1_000_000 + 999 * 40]]);
  // One user's events, days apart, and two close together.
  const day = 86_400_000_000;
  assert.deepEqual(runsOf([0, 3 * day, 3 * day + 10, 40 * day, 90 * day]), [
    [0, 0],
    [3 * day, 3 * day + 10],
    [40 * day, 40 * day],
    [90 * day, 90 * day],
  ]);
  // At most `most` runs: the widest gaps are cut first.
  const spread = Array.from({ length: 40 }, (_, i) => i * i * day);
  const runs = runsOf(spread, 16);
  assert.equal(runs.length, 16);
  assert.deepEqual(runs.at(-1), [39 * 39 * day, 39 * 39 * day], 'the widest gaps are last');
  assert.deepEqual(runs[0], [0, 24 * 24 * day], 'the narrow ones stay within one run');
  // Every time is in exactly one run, in order.
  const inside = spread.map((v) => runs.findIndex(([lo, hi]) => v >= lo && v <= hi));
  assert.deepEqual(
    inside,
    [...inside].sort((a, b) => a - b),
  );
  assert.ok(inside.every((k) => k >= 0));
});
