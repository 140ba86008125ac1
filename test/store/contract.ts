// The Store contract: every backend runs these against its real engine (see duckdb.test.ts).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { EventRecord, RequestContext } from '../../src/core/event.ts';
import { FileLog } from '../../src/ingest/file/file-log.ts';
import type { IngestBatch } from '../../src/ingest/types.ts';
import { normalize } from '../../src/pipeline/normalize.ts';
import { validateItem } from '../../src/pipeline/validate.ts';
import type { EventQuery, LogBatch, Store } from '../../src/store/types.ts';

const ctx = (workspaceId: string, receivedAt = new Date('2026-03-01T00:00:00Z')): RequestContext => ({
  workspaceId,
  source: 'test',
  ip: '127.0.0.1',
  receivedAt,
});

export function record(workspaceId: string, item: Record<string, unknown>, receivedAt?: Date): EventRecord {
  const v = validateItem(item);
  assert.ok(v.ok);
  const n = normalize(v.value, ctx(workspaceId, receivedAt), 32 * 1024);
  assert.ok(n.ok);
  return n.value;
}

/** One file log per store under test, as the server has: the log holds the dedupe memory. */
const logs = new WeakMap<Store, FileLog>();
async function logOf(store: Store): Promise<FileLog> {
  let log = logs.get(store);
  if (!log) {
    log = await FileLog.open(store.sink, {
      dataDir: mkdtempSync(join(tmpdir(), 'intake-contract-log-')),
      queueLimit: 1_000_000,
      segmentLines: 1_000_000,
      delayMs: 0,
      dedupeWindowHours: 24 * 365 * 10,
    });
    logs.set(store, log);
  }
  return log;
}

/** Writes a batch the way the server does: through the file log, which decides duplicates, then loads it. */
export async function write(store: Store, batch: IngestBatch): Promise<boolean[]> {
  const log = await logOf(store);
  const { duplicate } = await log.submit(batch);
  await log.settled();
  return duplicate;
}

const query = (q: Partial<EventQuery> = {}): EventQuery => ({
  json: [],
  orderBy: 'timestamp',
  direction: 'ASC',
  limit: 100,
  offset: 0,
  ...q,
});

export function storeContract(name: string, open: () => Promise<Store>): void {
  test(`${name}: a write stores once per (workspace, messageId) and reports duplicates in order`, async () => {
    const store = await open();
    try {
      const a = record('ws1', { type: 'track', event: 'A', userId: 'u1', messageId: 'm1' });
      const b = record('ws1', { type: 'track', event: 'B', userId: 'u1', messageId: 'm2' });
      const a2 = record('ws1', { type: 'track', event: 'A again', userId: 'u1', messageId: 'm1' });
      const other = record('ws2', { type: 'track', event: 'A', userId: 'u1', messageId: 'm1' });
      assert.deepEqual(await write(store, { events: [a, b, a2], rejected: [] }), [false, false, true]);
      assert.deepEqual(await write(store, { events: [b, other], rejected: [] }), [true, false]);
      const page = await store.events.listEvents('ws1', query());
      assert.equal(page.total, 2);
      assert.deepEqual(page.results.map((e) => e.event).sort(), ['A', 'B']);
      assert.equal((await store.events.listEvents('ws2', query())).total, 1);
    } finally {
      await logs.get(store)?.close();
      await store.close();
    }
  });

  test(`${name}: listEvents filters, orders and pages; JSON filters match nested values`, async () => {
    const store = await open();
    try {
      const events = Array.from({ length: 30 }, (_, i) =>
        record('ws', {
          type: i % 3 === 0 ? 'identify' : 'track',
          event: `E${i % 2}`,
          userId: `u${i % 5}`,
          messageId: `q${i}`,
          timestamp: new Date(Date.UTC(2026, 0, 1 + i)).toISOString(),
          properties: { plan: i % 2 ? 'pro' : 'free', nested: { n: i } },
          traits: { name: `n${i}` },
        }),
      );
      await write(store, { events, rejected: [] });
      assert.equal((await store.events.listEvents('ws', query({ userId: 'u1' }))).total, 6);
      assert.equal((await store.events.listEvents('ws', query({ type: 'identify' }))).total, 10);
      const range = await store.events.listEvents(
        'ws',
        query({ startDate: new Date('2026-01-05T00:00:00Z'), endDate: new Date('2026-01-10T00:00:00Z') }),
      );
      assert.equal(range.total, 6);
      const nested = await store.events.listEvents(
        'ws',
        query({ json: [{ column: 'properties', path: ['nested', 'n'], value: '7' }] }),
      );
      assert.deepEqual(
        nested.results.map((e) => e.messageId),
        ['q7'],
      );
      const pro = await store.events.listEvents(
        'ws',
        query({ json: [{ column: 'properties', path: ['plan'], value: 'pro' }] }),
      );
      assert.equal(pro.total, 15);
      const desc = await store.events.listEvents('ws', query({ direction: 'DESC', limit: 5, offset: 5 }));
      assert.equal(desc.total, 30);
      assert.deepEqual(
        desc.results.map((e) => e.messageId),
        ['q24', 'q23', 'q22', 'q21', 'q20'],
      );
      const first = desc.results[0];
      assert.deepEqual(first?.properties, { plan: 'free', nested: { n: 24 } });
      assert.deepEqual(first?.traits, { name: 'n24' });
      assert.ok(first?.timestamp instanceof Date);
    } finally {
      await logs.get(store)?.close();
      await store.close();
    }
  });

  test(`${name}: rejections are kept per workspace with their payload`, async () => {
    const store = await open();
    try {
      const at = new Date('2026-02-02T00:00:00Z');
      await write(store, {
        events: [],
        rejected: [
          {
            id: 'r1',
            workspaceId: 'ws',
            receivedAt: at,
            source: 'segment',
            messageId: 'x',
            code: 'INTAKE_ERR_MISSING_ID',
            reason: 'no id',
            payload: '{"a":1}',
          },
        ],
      });
      const page = await store.events.listRejected('ws', { limit: 10, offset: 0 });
      assert.equal(page.total, 1);
      assert.deepEqual(page.results[0], {
        id: 'r1',
        workspaceId: 'ws',
        receivedAt: at,
        source: 'segment',
        messageId: 'x',
        code: 'INTAKE_ERR_MISSING_ID',
        reason: 'no id',
        payload: '{"a":1}',
      });
      assert.equal((await store.events.listRejected('other', { limit: 10, offset: 0 })).total, 0);
    } finally {
      await logs.get(store)?.close();
      await store.close();
    }
  });

  test(`${name}: purgeDedupe forgets only keys older than the window`, async () => {
    const store = await open();
    try {
      const old = record(
        'ws',
        { type: 'track', event: 'Old', userId: 'u', messageId: 'old' },
        new Date('2026-01-01T00:00:00Z'),
      );
      const fresh = record(
        'ws',
        { type: 'track', event: 'New', userId: 'u', messageId: 'new' },
        new Date('2026-01-03T00:00:00Z'),
      );
      await write(store, { events: [old, fresh], rejected: [] });
      assert.equal(await (await logOf(store)).purge(new Date('2026-01-02T00:00:00Z')), 1);
      assert.deepEqual(await write(store, { events: [old, fresh], rejected: [] }), [false, true]);
    } finally {
      await logs.get(store)?.close();
      await store.close();
    }
  });

  test(`${name}: a batch is loaded once: a replay of one at or below checkpoint() changes nothing`, async () => {
    const store = await open();
    try {
      const events = [record('ws', { type: 'track', event: 'Once', userId: 'u', messageId: 'o1' })];
      const batch: LogBatch = {
        seq: (await store.sink.checkpoint()) + 1,
        events: events.map((r) => r.event),
        rejected: 0,
        entries: async () => ({ events: events.map((r) => r.event), rejected: [] }),
      };
      await store.sink.load(batch);
      assert.equal(await store.sink.checkpoint(), batch.seq);
      await store.sink.load(batch);
      assert.equal((await store.events.listEvents('ws', query())).total, 1);
    } finally {
      await logs.get(store)?.close();
      await store.close();
    }
  });

  test(`${name}: text with lone UTF-16 surrogates is stored with U+FFFD in their place`, async () => {
    const store = await open();
    try {
      const e = record('ws', {
        type: 'track',
        event: 'Odd \ud800 name',
        userId: 'u',
        messageId: 's1',
        properties: { 'k\udc00': 'v \ud83d', fine: 'pair 😀' },
      });
      assert.deepEqual(await write(store, { events: [e], rejected: [] }), [false]);
      const [stored] = (await store.events.listEvents('ws', query())).results;
      assert.equal(stored?.event, 'Odd \ufffd name');
      assert.deepEqual(stored?.properties, { 'k\ufffd': 'v \ufffd', fine: 'pair 😀' });
    } finally {
      await logs.get(store)?.close();
      await store.close();
    }
  });
}
