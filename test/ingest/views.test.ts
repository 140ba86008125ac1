// A segment's events as its load reads them (src/ingest/file/views.ts): what goes in comes out, field for field,
// through appends and slices, and the segment keeps no object of an event it does not need.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { CanonicalEvent } from '../../src/core/event.ts';
import { SegmentLog } from '../../src/ingest/file/segments.ts';
import { NameTable, ProfileViews } from '../../src/ingest/file/views.ts';
import { record } from '../fixtures.ts';
import { tempDir } from '../helpers.ts';

/** What the profile step and the store read of an event (LogBatch.events). */
const seen = (e: CanonicalEvent) => ({
  workspaceId: e.workspaceId,
  messageId: e.messageId,
  type: e.type,
  event: e.event,
  userId: e.userId,
  anonymousId: e.anonymousId,
  groupId: e.groupId,
  previousId: e.previousId,
  timestamp: e.timestamp.getTime(),
  receivedAt: e.receivedAt.getTime(),
  traits: e.traits,
  contextTraits: (e.context as { traits?: unknown }).traits ?? {},
});

const events = (): CanonicalEvent[] => [
  record('ws-a', {
    type: 'track',
    event: 'Order Completed',
    userId: 'u1',
    anonymousId: 'a1',
    messageId: 'm1',
  }).event,
  record('ws-a', { type: 'identify', userId: 'ü-ser', traits: { plan: 'pro', n: 2 }, messageId: 'm2' }).event,
  // A lone surrogate stays one (UTF-16 bytes), and a null event name and ids stay null.
  record('ws-b', { type: 'page', anonymousId: 'anon-\ud800', messageId: 'm3\u00e9' }).event,
  record('ws-b', { type: 'group', userId: 'u3', groupId: 'g1', traits: { name: 'Acme' }, messageId: 'm4' })
    .event,
  record('ws-a', { type: 'alias', userId: 'u4', previousId: 'a4', messageId: 'm5' }).event,
  record('ws-a', {
    type: 'track',
    event: 'Signed In',
    userId: 'u5',
    messageId: 'm6',
    context: { traits: { email: 'x@example.com' }, page: { path: '/' } },
  }).event,
];

test('every field the load reads comes back as it went in, through appends and slices', () => {
  const input = events();
  const whole = new ProfileViews(new NameTable(), 64); // small: the buffer grows several times
  for (const e of input) whole.add(e);
  assert.equal(whole.length, input.length);
  assert.deepEqual(whole.slice().map(seen), input.map(seen));
  assert.deepEqual([...whole].map(seen), input.map(seen));
  assert.deepEqual(whole.slice(2, 4).map(seen), input.slice(2, 4).map(seen));
  assert.deepEqual(whole.slice(5, 99).map(seen), input.slice(5).map(seen));

  // Groups appended one after another, as a log appends its groups to a segment (one name table).
  const names = new NameTable();
  const segment = new ProfileViews(names);
  const groups = [input.slice(3), input.slice(0, 3), input.slice(1, 2)];
  for (const g of groups) {
    const v = new ProfileViews(names, 16);
    for (const e of g) v.add(e);
    segment.append(v);
  }
  assert.deepEqual(segment.slice().map(seen), groups.flat().map(seen));
  segment.append(new ProfileViews(names));
  assert.equal(segment.length, input.length + 1);
  assert.throws(() => segment.append(whole), /different name tables/);
});

test('traits are kept by reference only when they hold something', () => {
  const [track, identify] = events() as [CanonicalEvent, CanonicalEvent];
  const v = new ProfileViews();
  v.add(track);
  v.add(identify);
  const [t, i] = v.slice() as [CanonicalEvent, CanonicalEvent];
  assert.notEqual(t.traits, track.traits, 'an empty traits object is not held');
  assert.deepEqual(t.traits, {});
  assert.equal(i.traits, identify.traits);
});

test('events waiting for their load hold (almost) no JS heap', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const dir = tempDir();
  try {
    // A dedupe memory that holds nothing, so what stays on the heap is the segment's.
    const dedupe = { has: () => false, add: () => {}, addNew: () => true };
    const { log } = SegmentLog.open({ dir, dedupe, queueLimit: 1e9, segmentLines: 1e9 }, 0);
    const n = 20_000;
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let b = 0; b < n / 100; b++) {
      const recs = Array.from({ length: 100 }, (_, i) =>
        record('ws', {
          type: 'track',
          event: 'Order Completed',
          userId: `user-${b}-${i}`,
          anonymousId: `anon-${b}-${i}-0123456789abcdef`,
          messageId: `msg-${b}-${i}-0123456789abcdef`,
          properties: { n: i },
        }),
      );
      await log.submit({ events: recs, rejected: [] });
    }
    gc();
    const perEvent = (process.memoryUsage().heapUsed - before) / n;
    // Each event's view as an object with its id strings took ~490 B until its load (measured at a31988a).
    assert.ok(perEvent < 100, `${perEvent.toFixed(0)} B of heap per waiting event`);
    const seg = await log.next();
    assert.equal(seg?.events.length, n);
    assert.equal(seg?.events.slice(n - 1)[0]?.userId, `user-${n / 100 - 1}-99`);
    await log.close();
    log.closeFiles();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('names past a full table are written out in each record', () => {
  const names = new NameTable();
  for (let i = 0; names.of(`filler-${i}`) !== 0xfffffffe; i++);
  const input = events();
  const views = new ProfileViews(names);
  for (const e of input) views.add(e);
  assert.deepEqual(views.slice().map(seen), input.map(seen));
  assert.equal(names.names.length, 65_536, 'the table stopped growing');
});
