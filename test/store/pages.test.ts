// How the DuckDB store reads pages (src/store/duckdb/pages.ts): a page's rows by runs of receive time (runsOf),
// and pages in the order of event or type value by value, from a list the file log's segments grow.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DuckDBInstance, listValue } from '@duckdb/node-api';
import type { CanonicalEvent } from '../../src/core/event.ts';
import { KeySet } from '../../src/ingest/file/keyset.ts';
import { SegmentLog } from '../../src/ingest/file/segments.ts';
import { Db } from '../../src/store/duckdb/db.ts';
import { DuckDBStore } from '../../src/store/duckdb/index.ts';
import { compareText, MAX_VALUES, OrderValues } from '../../src/store/duckdb/order-values.ts';
import { runsOf } from '../../src/store/duckdb/pages.ts';
import type { EventCursor } from '../../src/store/types.ts';
import { event, toRecord } from '../fixtures.ts';
import { tempDir } from '../helpers.ts';
import { query } from './contract.ts';

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

test('names a file-log segment brings (its file loaded by read_json) join the value list before its rows can be read', async () => {
  const dir = tempDir('intake-pages-');
  // In the store's data directory, as the file log keeps it: the engine reads files only there.
  const { log } = SegmentLog.open(
    { dir: join(dir, 'log'), dedupe: new KeySet(), queueLimit: 1000, segmentLines: 1000 },
    0,
  );
  const store = await DuckDBStore.open({ dataDir: dir });
  try {
    const first = [
      event('w', 'm', { event: 'm', userId: 'u' }),
      event('w', 'i', { type: 'identify', userId: 'u' }),
    ];
    const loadSegment = async (events: CanonicalEvent[]) => {
      await log.submit({ events: events.map(toRecord), rejected: [] });
      const segment = await log.next();
      assert.ok(segment?.file, 'the log hands out its segment file');
      await store.sink.load(segment);
    };
    await loadSegment(first);
    const order = async (orderBy: 'event' | 'type', direction: 'ASC' | 'DESC') => {
      const seen: string[] = [];
      let after: EventCursor | undefined;
      do {
        const page = await store.events.listEvents('w', query({ orderBy, direction, limit: 1, after }));
        seen.push(...page.results.map((e) => e.messageId));
        after = page.next ?? undefined;
      } while (after);
      return seen;
    };
    assert.deepEqual(await order('event', 'ASC'), ['m', 'i'], 'the list is read');
    // New names before and after the known one, one with a lone surrogate (stored as U+FFFD), one on a page event.
    const later = [
      event('w', 'a', { event: 'a', userId: 'u' }),
      event('w', 'z', { event: 'z \ud800', userId: 'u' }),
      event('w', 'p', { type: 'page', event: 'p', name: 'Home', userId: 'u' }),
      event('w', 's', { type: 'screen', userId: 'u' }),
    ];
    await loadSegment(later);
    assert.deepEqual(await order('event', 'ASC'), ['a', 'm', 'p', 'z', 'i', 's']);
    assert.deepEqual(await order('event', 'DESC'), ['z', 'p', 'm', 'a', 's', 'i']);
    assert.deepEqual(await order('type', 'ASC'), ['i', 'p', 's', 'm', 'a', 'z']);
  } finally {
    await log.close();
    log.closeFiles();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the value list: code point order as DuckDB sorts, null last, and no list past MAX_VALUES', async () => {
  const instance = await DuckDBInstance.create(':memory:');
  const db = new Db(await instance.connect());
  try {
    const texts = ['b', 'B', 'a', 'ab', '', 'É', 'ｆ', '😀', '\ufffd', 'z', '\ud7ff', '\ue000'];
    const sorted = await db.all('SELECT unnest(?::VARCHAR[]) AS v ORDER BY v', [listValue(texts)]);
    assert.deepEqual(
      [...texts].sort(compareText),
      sorted.map((r) => r.v),
    );
    await db.run('CREATE TABLE events (workspace_id VARCHAR, type VARCHAR, event VARCHAR)');
    await db.run(
      "INSERT INTO events VALUES ('w', 'track', 'b'), ('w', 'identify', NULL), ('x', 'track', 'x')",
    );
    const values = new OrderValues();
    values.add([{ workspaceId: 'w', type: 'page', event: 'a \ud800' }]);
    assert.deepEqual(await values.of(db, 'w', 'event'), ['a \ufffd', 'b', null]);
    assert.deepEqual(await values.of(db, 'w', 'type'), ['identify', 'page', 'track']);
    values.add(
      Array.from({ length: MAX_VALUES }, (_, i) => ({ workspaceId: 'w', type: 'track', event: `e${i}` })),
    );
    assert.equal(await values.of(db, 'w', 'event'), null, 'too many names: the order is read by one top-N');
    assert.deepEqual(await values.of(db, 'x', 'event'), ['x']);
  } finally {
    db.conn.closeSync();
    instance.closeSync();
  }
});
