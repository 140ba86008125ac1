// The dedupe memory: every key added is found, nothing else is, and purge forgets only what is older.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { dedupeKey } from '../../src/core/dedupe.ts';
import { FOREVER, KeySet } from '../../src/ingest/file/keyset.ts';

test('keys added are found, through many resizes; absent keys are not', () => {
  const set = new KeySet(8);
  const at = new Date('2026-01-01T00:00:00Z');
  for (let i = 0; i < 50_000; i++) set.add(dedupeKey('ws', `m${i}`), at);
  assert.equal(set.size, 50_000);
  for (let i = 0; i < 50_000; i++) assert.ok(set.has(dedupeKey('ws', `m${i}`)), `m${i}`);
  for (let i = 50_000; i < 60_000; i++)
    assert.ok(!set.has(dedupeKey('ws', `m${i}`)), `m${i} was never added`);
  assert.ok(!set.has(dedupeKey('other-ws', 'm1')), 'the workspace is part of the key');
  set.add(dedupeKey('ws', 'm1'), at);
  assert.equal(set.size, 50_000, 'adding a key twice keeps one');
  // addNew: has() and add() in one lookup, through the resizes it causes.
  for (let i = 0; i < 60_000; i++)
    assert.equal(set.addNew(dedupeKey('ws', `m${i}`), at), i >= 50_000, `m${i}`);
  assert.equal(set.size, 60_000);
  for (let i = 50_000; i < 60_000; i++) assert.ok(set.has(dedupeKey('ws', `m${i}`)), `m${i} added by addNew`);
});

test('forEachSteps visits what forEach visits, in steps of shards; emptySteps forgets every key', () => {
  const set = new KeySet();
  const at = new Date('2026-01-01T00:00:00Z');
  for (let i = 0; i < 5_000; i++) set.add(dedupeKey('ws', `m${i}`), at);
  const all: string[] = [];
  set.forEach((hi, lo, seen) => {
    all.push(`${hi}.${lo}.${seen}`);
  });
  const stepped: string[] = [];
  let steps = 0;
  const visit = (hi: number, lo: number, seen: number) => {
    stepped.push(`${hi}.${lo}.${seen}`);
  };
  for (const _ of set.forEachSteps(visit, 8)) steps++;
  assert.equal(all.length, 5_000);
  assert.deepEqual(stepped, all);
  assert.equal(steps, 8, '64 shards in steps of 8');
  steps = 0;
  for (const _ of set.emptySteps(16)) steps++;
  assert.equal(steps, 4);
  assert.equal(set.size, 0);
  assert.ok(!set.has(dedupeKey('ws', 'm1')));
});

test('purge forgets keys first seen before the cut, keeps later ones and tombstones', async () => {
  const set = new KeySet();
  const day = (d: number) => new Date(Date.UTC(2026, 0, d));
  for (let i = 0; i < 1000; i++) set.add(dedupeKey('ws', `old${i}`), day(1));
  for (let i = 0; i < 1000; i++) set.add(dedupeKey('ws', `new${i}`), day(3));
  set.add(dedupeKey('ws', 'deleted-user-msg'), FOREVER);
  assert.equal(await set.purge(day(2)), 1000);
  assert.equal(set.size, 1001);
  assert.ok(!set.has(dedupeKey('ws', 'old5')));
  assert.ok(set.has(dedupeKey('ws', 'new5')));
  assert.ok(set.has(dedupeKey('ws', 'deleted-user-msg')));
  assert.equal(await set.purge(day(400)), 1000, 'a tombstone outlives any window');
  assert.ok(set.has(dedupeKey('ws', 'deleted-user-msg')));
});

test('keys are the md5 of workspace NUL messageId, as dedupe_keys rows written by earlier versions hold them', () => {
  const old = createHash('md5').update('ws-1').update('\0').update('msg-é-1').digest('hex');
  assert.equal(dedupeKey('ws-1', 'msg-é-1'), old);
});

test('the table costs at most 18 bytes a key once it is large, and a purge gives the memory back', async () => {
  const set = new KeySet();
  const at = new Date('2026-01-01T00:00:00Z');
  for (let i = 0; i < 1_000_000; i++) set.add(dedupeKey('ws', `k${i}`), at);
  assert.equal(set.size, 1_000_000);
  assert.ok(set.bytes / set.size <= 18, `${(set.bytes / set.size).toFixed(1)} bytes a key`);
  assert.equal(await set.purge(new Date('2026-01-02T00:00:00Z')), 1_000_000);
  assert.ok(set.bytes < 64 * 1024, `${set.bytes} bytes after purging every key`);
});
