// How the DuckDB store reads a page's rows by runs of receive time (src/store/duckdb/pages.ts runsOf).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runsOf } from '../../src/store/duckdb/pages.ts';

test('runsOf keeps events of neighbouring row groups one run and cuts where row groups are skipped', () => {
  assert.deepEqual(runsOf([]), []);
  assert.deepEqual(runsOf([{ r: 5, g: 0 }]), [[5, 5]]);
  // A page of consecutive events, over two row groups: one run, whatever the order given.
  const consecutive = Array.from({ length: 1000 }, (_, i) => ({ r: 1_000_000 + i * 40, g: i < 600 ? 7 : 8 }));
  assert.deepEqual(runsOf(consecutive.reverse()), [[1_000_000, 1_000_000 + 999 * 40]]);
  // One user's events: row groups apart, two in the same one.
  assert.deepEqual(
    runsOf([
      { r: 10, g: 0 },
      { r: 300, g: 3 },
      { r: 310, g: 3 },
      { r: 400, g: 4 },
      { r: 4000, g: 40 },
    ]),
    [
      [10, 10],
      [300, 400],
      [4000, 4000],
    ],
  );
  // At most `most` runs: the closest in time are merged, and every time stays in exactly one run, in order.
  const spread = Array.from({ length: 40 }, (_, i) => ({ r: i * i, g: i * 10 }));
  const runs = runsOf(spread, 16);
  assert.equal(runs.length, 16);
  assert.deepEqual(runs.at(-1), [39 * 39, 39 * 39], 'the widest gaps stay cut');
  assert.deepEqual(runs[0], [0, 24 * 24], 'the narrowest are merged');
  const inside = spread.map(({ r }) => runs.findIndex(([lo, hi]) => r >= lo && r <= hi));
  assert.deepEqual(
    inside,
    [...inside].sort((a, b) => a - b),
  );
  assert.ok(inside.every((k) => k >= 0));
});
