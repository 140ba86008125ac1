// The file log's own mechanics (the log contract is test/ingest/contract.ts): group writes, segments, backpressure
// and failures as HTTP answers, and what a restart finds in the segment files (a torn last line cut off).
import assert from 'node:assert/strict';
import { appendFileSync, closeSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { dedupeKey } from '../../src/core/dedupe.ts';
import type { EventRecord } from '../../src/core/event.ts';
import { KeySet } from '../../src/ingest/file/keyset.ts';
import { SegmentLog } from '../../src/ingest/file/segments.ts';
import { record } from '../fixtures.ts';
import { allEvents, basic, fileLog, KEYS, startTestApp, type TestApp, tempDir } from '../helpers.ts';

const batch = (tag: string, n: number) => ({
  batch: Array.from({ length: n }, (_, i) => ({
    type: 'track',
    event: 'E',
    userId: 'q',
    messageId: `${tag}-${i}`,
  })),
});

const post = (t: TestApp, tag: string, n: number) =>
  t.app.inject({
    method: 'POST',
    url: '/v1/batch',
    headers: { authorization: basic(KEYS.write) },
    payload: batch(tag, n),
  });

let t: TestApp;
before(async () => {
  // A long load delay: nothing is loaded until a read asks for it, so the queue bound can be reached.
  t = await startTestApp({ queueLimit: 50, loadDelayMs: 60_000 });
});
after(() => t.close());

test('concurrent requests share group writes: fewer writes than requests, each answered after its write', async () => {
  const before = fileLog(t).segments.writes;
  const responses = await Promise.all(Array.from({ length: 10 }, (_, i) => post(t, `g${i}`, 2)));
  for (const r of responses) assert.equal(r.statusCode, 200);
  const writes = fileLog(t).segments.writes - before;
  assert.ok(writes >= 1 && writes < 10, `${writes} writes for 10 requests`);
  assert.equal((await allEvents(t.app)).length, 20, 'a read waits for the acknowledged events to be loaded');
  assert.equal(t.log.pending, 0);
});

test('past the queue bound ingest answers 503 with Retry-After; a read loads the queue and ingest resumes', async () => {
  const responses = await Promise.all(Array.from({ length: 12 }, (_, i) => post(t, `o${i}`, 10)));
  const busy = responses.filter((r) => r.statusCode === 503);
  const ok = responses.filter((r) => r.statusCode === 200);
  assert.equal(ok.length, 5, 'the 50-event bound took five 10-event batches');
  assert.equal(busy.length, 7);
  for (const r of busy) {
    assert.equal(r.headers['retry-after'], '1');
    assert.equal(r.json().code, 'INTAKE_ERR_OVERLOADED');
  }
  assert.equal((await allEvents(t.app, KEYS.read, 'event=E')).length, 20 + 50);
  assert.equal(t.log.pending, 0, 'the queue drained');
  assert.equal((await post(t, 'o-after', 10)).statusCode, 200);
});

test('under overload a request whose dialect refuses some items answers 503 and leaves no rejection unhandled', async () => {
  // Bento maps its items before ingest: a $purchase without details.unique.key is refused there and submitted
  // alongside the valid items. When the log refused with a synchronous throw, the first submit's rejection was
  // never awaited, and an unhandled rejection ends the process (this test fails on one).
  const u = await startTestApp({ queueLimit: 1, loadDelayMs: 60_000 });
  try {
    assert.equal((await post(u, 'fill', 1)).statusCode, 200);
    const r = await u.app.inject({
      method: 'POST',
      url: '/v1/batch/events',
      headers: { authorization: `Basic ${Buffer.from(`publishable:${KEYS.write}`).toString('base64')}` },
      payload: {
        events: [
          { type: 'Signed Up', email: 'a@example.com' },
          { type: '$purchase', email: 'a@example.com', details: {} },
        ],
      },
    });
    assert.equal(r.statusCode, 503);
    assert.equal(r.json().code, 'INTAKE_ERR_OVERLOADED');
    await new Promise((resolve) => setTimeout(resolve, 100)); // time for a stray rejection to surface
  } finally {
    await u.close();
  }
});

test('a failing load loses nothing acknowledged: reads answer 503 until it succeeds, then see everything', async () => {
  const original = t.store.sink.load;
  let failures = 0;
  t.store.sink.load = () => {
    failures++;
    return Promise.reject(new Error('disk on fire'));
  };
  let restored = false;
  try {
    const r = await post(t, 'lf', 3);
    assert.equal(r.statusCode, 200, 'acknowledged once durable in the log, whatever the store does');
    const read = await t.app.inject({
      method: 'GET',
      url: '/events?event=E',
      headers: { authorization: `Bearer ${KEYS.read}` },
    });
    assert.equal(read.statusCode, 503);
    assert.equal(read.json().code, 'INTAKE_ERR_STORE_UNAVAILABLE');
    assert.ok(failures >= 1);
  } finally {
    t.store.sink.load = original;
    restored = true;
  }
  assert.ok(restored);
  const ids = (await allEvents(t.app, KEYS.read, 'event=E')).map((e) => e.messageId);
  for (const id of ['lf-0', 'lf-1', 'lf-2']) assert.ok(ids.includes(id), `${id} was loaded after the retry`);
});

test('a failing log write answers 503, acknowledges nothing, and refuses later writes until a restart', async () => {
  const dir = tempDir();
  const u = await startTestApp({ dataDir: dir });
  try {
    assert.equal((await post(u, 'before', 2)).statusCode, 200);
    // The open segment's file descriptor swapped for one that is not open: its next write fails (EBADF).
    const open = (fileLog(u).segments as unknown as { current: { fd: number } }).current;
    closeSync(open.fd);
    open.fd = 1 << 30;
    const r = await post(u, 'lost', 2);
    assert.equal(r.statusCode, 503);
    assert.equal(r.json().code, 'INTAKE_ERR_STORE_UNAVAILABLE');
    const again = await post(u, 'later', 1);
    assert.equal(
      again.statusCode,
      503,
      'the dedupe memory may hold keys of the failed write: no more writes',
    );
  } finally {
    await u.close().catch(() => {});
  }
  // After a restart the failed batch is not a duplicate: nothing of it was acknowledged or kept in memory.
  const v = await startTestApp({ dataDir: dir });
  try {
    const r = await post(v, 'lost', 2);
    assert.equal(r.statusCode, 200);
    assert.equal(r.json().accepted, 2);
    const ids = (await allEvents(v.app)).map((e) => e.messageId).sort();
    assert.deepEqual(ids, ['before-0', 'before-1', 'lost-0', 'lost-1']);
  } finally {
    await v.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

const ev = (id: string) => record('ws', { type: 'track', event: 'R', userId: 'u', messageId: id });

test('a restart finds the unloaded segments, remembers their keys, and drops a torn last line', async () => {
  const dir = tempDir();
  try {
    const first = SegmentLog.open({ dir, dedupe: new KeySet(), queueLimit: 100, segmentLines: 1000 }, 0);
    await first.log.submit({ events: [ev('a'), ev('b')], rejected: [] });
    const closed = await first.log.next();
    assert.equal(closed?.seq, 1);
    await first.log.submit({ events: [ev('c')], rejected: [] });
    // The process dies here: segment 2 is open, and a write was cut short after its last acknowledged line.
    const files = readdirSync(dir).sort();
    assert.deepEqual(files, ['000000000001.ndjson', '000000000002.ndjson']);
    const open = join(dir, files[1] as string);
    const good = readFileSync(open, 'utf8');
    appendFileSync(open, '{"id":"0190-cut-sh');

    const keys = new KeySet();
    const again = SegmentLog.open({ dir, dedupe: keys, queueLimit: 100, segmentLines: 1000 }, 0);
    assert.deepEqual(
      again.unloaded.map((s) => [s.seq, s.events.slice().map((e) => e.messageId)]),
      [
        [1, ['a', 'b']],
        [2, ['c']],
      ],
    );
    assert.equal(readFileSync(open, 'utf8'), good, 'the torn line is cut off');
    for (const id of ['a', 'b', 'c']) assert.ok(keys.has(dedupeKey('ws', id)), `${id} is remembered`);
    assert.equal(again.log.open.seq, 3, 'new lines go to a new segment');
    const r = await again.log.submit({ events: [ev('c'), ev('d')], rejected: [] });
    assert.deepEqual(r.duplicate, [true, false]);
    await again.log.close();
    again.log.closeFiles();

    // With segment 1 loaded, a restart deletes it and recovers the others only.
    const third = SegmentLog.open({ dir, dedupe: new KeySet(), queueLimit: 100, segmentLines: 1000 }, 1);
    assert.deepEqual(
      third.unloaded.map((s) => s.seq),
      [2, 3],
    );
    assert.ok(!readdirSync(dir).includes('000000000001.ndjson'));
    third.log.closeFiles();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an unreadable line in a closed segment stops the start instead of losing events', () => {
  const dir = tempDir();
  try {
    writeFileSync(join(dir, '000000000001.ndjson'), 'not json\n');
    writeFileSync(join(dir, '000000000002.ndjson'), '');
    assert.throws(
      () => SegmentLog.open({ dir, dedupe: new KeySet(), queueLimit: 100, segmentLines: 1000 }, 0),
      /000000000001\.ndjson line 1 is unreadable/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the log closes a segment once it is full, so one load never holds more than segmentLines lines', async () => {
  const dir = tempDir();
  try {
    const { log } = SegmentLog.open({ dir, dedupe: new KeySet(), queueLimit: 100, segmentLines: 3 }, 0);
    await log.submit({ events: [ev('f1'), ev('f2')], rejected: [] });
    assert.equal(log.full, 0);
    await log.submit({ events: [ev('f3'), ev('f4')], rejected: [] });
    assert.equal(log.full, 1, 'the segment reached 3 lines (4) and was closed');
    assert.equal(log.open.lines, 0);
    await log.submit({ events: [ev('f5')], rejected: [] });
    const first = await log.next();
    const second = await log.next();
    assert.deepEqual(
      [first, second].map((s) => s?.events.slice().map((e) => e.messageId)),
      [['f1', 'f2', 'f3', 'f4'], ['f5']],
    );
    assert.equal(await log.next(), null);
    await log.close();
    log.closeFiles();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a clean shutdown loads every segment, including full ones waiting while the open one is empty', async () => {
  const dir = tempDir();
  const u = await startTestApp({ dataDir: dir, loadMaxEvents: 2, loadDelayMs: 60_000 });
  const original = u.store.sink.load;
  // Slow loads: the second segment fills up and waits while the first is still loading.
  u.store.sink.load = async (seg) => {
    await new Promise((r) => setTimeout(r, 200));
    return original(seg);
  };
  try {
    assert.equal((await post(u, 'shut-a', 2)).statusCode, 200);
    assert.equal((await post(u, 'shut-b', 2)).statusCode, 200);
    assert.equal(fileLog(u).segments.full, 1, 'a full segment waits; the open one is empty');
    assert.equal(fileLog(u).segments.open.lines, 0);
    await u.log.close();
    assert.equal(await u.store.sink.checkpoint(), 2, 'both segments loaded before the log closed');
  } finally {
    u.store.sink.load = original;
    await u.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a request waiting for its group write holds none of its canonical events (the GC would copy and promote them)', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const dir = tempDir();
  try {
    const { log } = SegmentLog.open({ dir, dedupe: new KeySet(), queueLimit: 100, segmentLines: 100 }, 0);
    const item = (id: string) => ({
      type: 'track',
      event: 'W',
      userId: 'u',
      messageId: id,
      properties: { n: 1 },
    });
    let events: EventRecord[] | null = [record('ws', item('w1')), record('ws', item('w2'))];
    const properties = new WeakRef(events[0]?.event.properties as object);
    const written = log.submit({ events, rejected: [] });
    events = null;
    // The group write starts on the next turn (setImmediate) and its fdatasync completes on a later one: here
    // the request is waiting for it.
    await new Promise((r) => setImmediate(r));
    let answered = false;
    void written.then(() => {
      answered = true;
    });
    gc();
    assert.equal(answered, false, 'still waiting for the write');
    assert.equal(properties.deref(), undefined, "the batch's events were kept alive while waiting");
    await written;
    await log.close();
    log.closeFiles();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
