// The file log's dictionary summaries: made as lines are written (duplicates and rejections left out), and made
// again from the segment files after a restart or by the store from a file alone, the same every way.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { test } from 'node:test';
import { KeySet } from '../../src/ingest/file/keyset.ts';
import { SegmentLog } from '../../src/ingest/file/segments.ts';
import type { DictionaryBatch } from '../../src/pipeline/dictionary/observe.ts';
import { observeFile } from '../../src/store/duckdb/dictionary.ts';
import { record } from '../fixtures.ts';
import { tempDir } from '../helpers.ts';

const view = (b: DictionaryBatch) =>
  [...b.names.values()].map((n) => [
    n.kind,
    n.name,
    [...n.days.values()].map((d) => d.count),
    [...n.paths.values()].map((p) => [p.path, p.count, p.examples]),
  ]);

test('a segment carries the summary of what it holds, and a restart makes the same one', async () => {
  const dir = tempDir();
  try {
    const first = SegmentLog.open({ dir, dedupe: new KeySet(), queueLimit: 100, segmentLines: 1000 }, 0);
    const a = record('ws', { type: 'track', event: 'A', userId: 'u', messageId: 'a', properties: { x: 1 } });
    const b = record('ws', { type: 'identify', userId: 'u', messageId: 'b', traits: { email: 'e' } });
    await first.log.submit({ events: [a, b, a], rejected: [] });
    await first.log.submit({ events: [a], rejected: [] }); // a duplicate: not written, not counted
    const seg = await first.log.next();
    assert.ok(seg);
    const expected = [
      ['track', 'A', [1], [['x', 1, ['1']]]],
      ['identify', '', [1], [['email', 1, ['"e"']]]],
    ];
    assert.deepEqual(view(seg.dictionary), expected);
    // What the store walks when a batch has its file but no summary (a purge's replay): the same.
    assert.deepEqual(view(observeFile(readFileSync(seg.path, 'utf8'))), expected);
    await first.log.close();
    first.log.closeFiles();

    const again = SegmentLog.open({ dir, dedupe: new KeySet(), queueLimit: 100, segmentLines: 1000 }, 0);
    assert.deepEqual(
      again.unloaded.map((s) => view(s.dictionary)),
      [expected],
    );
    await again.log.close();
    again.log.closeFiles();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
