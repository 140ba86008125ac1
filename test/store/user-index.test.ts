// The embedded store's user index (src/store/duckdb/user-index.ts): reads by user find every event of the
// user whatever state the index is in: rows still unsorted after loads, rebuilt sorted beside the loads (reads
// run while a rebuild may be in flight), a store reopened, a
// database whose index is missing or behind its events (rebuilt at open), a user's deletion and a purge.
// Answers are compared with the events the test loaded, computed in TypeScript.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import type { CanonicalEvent } from '../../src/core/event.ts';
import { DuckDBStore } from '../../src/store/duckdb/index.ts';
import type { EventPage } from '../../src/store/types.ts';
import { at, event, logBatch } from '../fixtures.ts';
import { tempDir } from '../helpers.ts';
import { query } from './contract/common.ts';

const USERS = ['u0', 'u1', 'u2', 'u3', 'u4'];

/** A seeded generator: the same events every run. */
function rng(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1_103_515_245 + 12_345) % 2_147_483_648;
    return s / 2_147_483_648;
  };
}

/** Batch `b` of `n` events: users and anonymous visitors, received in order, timestamps shuffled. */
function batch(b: number, n: number, r: () => number): CanonicalEvent[] {
  return Array.from({ length: n }, (_, i) => {
    const k = Math.floor(r() * USERS.length);
    const anonymous = r() < 0.3;
    return event('w', `m${b}-${i}`, {
      userId: anonymous ? null : (USERS[k] as string),
      anonymousId: anonymous ? `anon-${k}` : null,
      timestamp: at(Math.floor(r() * 5000)),
      receivedAt: at(b * 100 + i / 10),
    });
  });
}

/** Every event of `id` (userId, else anonymousId), newest first, as the store orders them. */
function expected(all: CanonicalEvent[], id: string): string[] {
  return all
    .filter((e) => (e.userId ?? e.anonymousId) === id)
    .sort((a, b) => b.timestamp.getTime() - a.timestamp.getTime() || (a.id < b.id ? 1 : -1))
    .map((e) => e.messageId);
}

async function check(store: DuckDBStore, all: CanonicalEvent[], label: string): Promise<void> {
  for (const id of [...USERS, 'anon-0', 'anon-3', 'nobody']) {
    const want = expected(all, id);
    const q = id.startsWith('anon') ? { anonymousId: id } : { userId: id };
    const page = await store.events.listEvents('w', query({ ...q, direction: 'DESC', limit: 1000 }));
    if (!id.startsWith('anon')) {
      assert.deepEqual(
        page.results.map((e) => e.messageId),
        want,
        `${label}: GET /events?userId=${id}`,
      );
      // Paged by cursor, 7 at a time: the same events once each.
      const seen: string[] = [];
      let after: { after: NonNullable<EventPage['next']> } | undefined;
      for (let pages = 0; pages < 100; pages++) {
        const p = await store.events.listEvents(
          'w',
          query({ userId: id, direction: 'DESC', limit: 7, ...(after ?? {}) }),
        );
        seen.push(...p.results.map((e) => e.messageId));
        if (!p.next) break;
        after = { after: p.next };
      }
      assert.deepEqual(seen, want, `${label}: userId=${id} by pages of 7`);
    }
    const person = await store.profiles.listUserEvents('w', id, { limit: 1000, offset: 0 });
    if (want.length === 0) assert.equal(person, null, `${label}: ${id} is unknown`);
    else {
      assert.ok(person, `${label}: ${id} is known`);
      assert.deepEqual(
        person.results.map((e) => e.messageId),
        want,
        `${label}: GET /users/${id}/events (no identify: one id each)`,
      );
    }
  }
}

async function meta(dir: string, name: string): Promise<string | undefined> {
  const instance = await DuckDBInstance.create(join(dir, 'intake.duckdb'), { access_mode: 'READ_ONLY' });
  const conn = await instance.connect();
  try {
    const r = await conn.runAndReadAll('SELECT value FROM store_meta WHERE name = $1', [name]);
    return r.getRowObjectsJS()[0]?.value as string | undefined;
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

async function indexRows(dir: string): Promise<number> {
  const instance = await DuckDBInstance.create(join(dir, 'intake.duckdb'), { access_mode: 'READ_ONLY' });
  const conn = await instance.connect();
  try {
    const r = await conn.runAndReadAll('SELECT count(*)::INTEGER AS n FROM user_index');
    return Number(r.getRowObjectsJS()[0]?.n);
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

test('reads by user find every event: unsorted rows, rebuilds, reopen, an index missing or behind', async () => {
  const dir = tempDir('intake-user-index-');
  const r = rng(7);
  const all: CanonicalEvent[] = [];
  // A rebuild once 40 unsorted rows (or a quarter of the sorted ones) arrived.
  let store = await DuckDBStore.open({ dataDir: dir, userIndexMinRows: 40 });
  let seq = 0;
  for (let b = 0; b < 12; b++) {
    const events = batch(b, 15 + Math.floor(r() * 20), r);
    all.push(...events);
    await store.sink.load(logBatch(++seq, events));
    await check(store, all, `after load ${b}`);
  }
  assert.equal(await store.admin.counts().then((c) => c.events), all.length);
  await store.close();
  assert.equal(await indexRows(dir), all.length, 'one index row per event with an id');
  const sorted = Number(await meta(dir, 'user_index_sorted'));
  assert.ok(sorted >= 40 && sorted <= all.length, `rebuilt beside the loads (${sorted} rows sorted)`);

  store = await DuckDBStore.open({ dataDir: dir, userIndexMinRows: 40 });
  await check(store, all, 'reopened');
  await store.close();

  // A database whose index was never built (made before it) or misses rows (events written around the loads).
  const instance = await DuckDBInstance.create(join(dir, 'intake.duckdb'));
  const conn = await instance.connect();
  await conn.run("DELETE FROM store_meta WHERE name = 'user_index_sorted'");
  await conn.run('DELETE FROM user_index');
  conn.closeSync();
  instance.closeSync();
  store = await DuckDBStore.open({ dataDir: dir });
  await check(store, all, 'index rebuilt at open (never built)');
  await store.close();
  const again = await DuckDBInstance.create(join(dir, 'intake.duckdb'));
  const c2 = await again.connect();
  await c2.run('DELETE FROM user_index WHERE received_at > ?', [at(500).toISOString()]);
  c2.closeSync();
  again.closeSync();
  store = await DuckDBStore.open({ dataDir: dir });
  await check(store, all, 'index rebuilt at open (behind its events)');
  await store.close();
});

test('loads go on while a rebuild sorts; the rows they add join the rebuilt index', async () => {
  const dir = tempDir('intake-user-index-beside-');
  const r = rng(5);
  const all: CanonicalEvent[] = [];
  let release: () => void = () => {};
  const held = new Promise<void>((ok) => {
    release = ok;
  });
  let sorted: () => void = () => {};
  const sortDone = new Promise<void>((ok) => {
    sorted = ok;
  });
  const store = await DuckDBStore.open({
    dataDir: dir,
    userIndexMinRows: 40,
    afterUserIndexSort: async () => {
      sorted();
      await held;
    },
  });
  try {
    let seq = 0;
    const load = async (n: number) => {
      const events = batch(seq, n, r);
      all.push(...events);
      await store.sink.load(logBatch(++seq, events));
    };
    await load(50); // past 40 unsorted rows: a rebuild starts beside the loads
    await sortDone;
    // The rebuild holds between its sort and its swap: loads still go on, and reads see their events.
    for (let i = 0; i < 3; i++) await load(20);
    await check(store, all, 'loads during a rebuild');
    release();
  } finally {
    await store.close(); // waits for the rebuild
  }
  assert.equal(await indexRows(dir), all.length, 'the rebuilt index holds the rows loaded during its sort');
  assert.equal(
    await meta(dir, 'user_index_sorted'),
    '50',
    'the sorted part is the snapshot the rebuild sorted',
  );
  const again = await DuckDBStore.open({ dataDir: dir });
  try {
    await check(again, all, 'reopened after the rebuild');
  } finally {
    await again.close();
  }
});

test("a user's deletion and a purge: reads leave the user out, and the purged index holds no row of theirs", async () => {
  const dir = tempDir('intake-user-index-del-');
  const r = rng(11);
  let all: CanonicalEvent[] = [];
  const store = await DuckDBStore.open({ dataDir: dir, userIndexMinRows: 1_000_000 });
  try {
    for (let b = 0; b < 4; b++) {
      const events = batch(b, 30, r);
      all.push(...events);
      await store.sink.load(logBatch(b + 1, events));
    }
    const job = await store.erasure.requestDeletion('w', 'u2');
    for (let i = 0; i < 200; i++) {
      const d = await store.profiles.getDeletion('w', job.id);
      if (d?.status === 'done') break;
      await new Promise((ok) => setTimeout(ok, 25));
    }
    all = all.filter((e) => e.userId !== 'u2');
    await check(store, all, 'after the deletion');
    await store.erasure.purgeDeleted();
    await check(store, all, 'after the purge');
  } finally {
    await store.close();
  }
  assert.equal(await indexRows(dir), all.length, 'the purge rebuilt the index from the remaining events');
});

test('each load indexes exactly its own rows: received before earlier loads, after a deletion, checkpoints, a reopen', async () => {
  const dir = tempDir('intake-user-index-own-');
  const r = rng(13);
  let all: CanonicalEvent[] = [];
  let loaded = 0;
  let seq = 0;
  // A CHECKPOINT after every load; no rebuild, so the index holds exactly what the loads appended.
  const opts = { dataDir: dir, checkpointRows: 1, userIndexMinRows: 1_000_000 };
  let store = await DuckDBStore.open(opts);
  const load = async (events: CanonicalEvent[]) => {
    all.push(...events);
    loaded += events.length;
    await store.sink.load(logBatch(++seq, events));
  };
  try {
    for (let b = 0; b < 3; b++) await load(batch(b, 25, r));
    // Received before (and among) the events already stored: a clock set back.
    await load(batch(10, 25, r).map((e, i) => ({ ...e, receivedAt: at(50 + i) })));
    await check(store, all, 'a load received before the earlier ones');
    const job = await store.erasure.requestDeletion('w', 'u2');
    for (let i = 0; i < 200; i++) {
      if ((await store.profiles.getDeletion('w', job.id))?.status === 'done') break;
      await new Promise((ok) => setTimeout(ok, 25));
    }
    all = all.filter((e) => e.userId !== 'u2');
    for (let b = 20; b < 22; b++) await load(batch(b, 25, r));
    await check(store, all, 'loads after a deletion');
    await store.close();
    store = await DuckDBStore.open(opts);
    await load(batch(30, 25, r).map((e, i) => ({ ...e, receivedAt: at(60 + i) })));
    await check(store, all, 'a load after a reopen');
  } finally {
    await store.close();
  }
  // The deleted user's rows stay until a purge: one row per event loaded, none twice.
  assert.equal(await indexRows(dir), loaded, 'one index row per loaded event');
});

test('an id with a lone surrogate loads and gets its index row (its JSON list was refused: the whole load failed)', async () => {
  const dir = tempDir('intake-user-index-surrogate-');
  const store = await DuckDBStore.open({ dataDir: dir });
  try {
    const events = [
      event('w', 'm1', { userId: 'a\ud800b', anonymousId: null, receivedAt: at(1) }),
      event('w', 'm2', { userId: 'u0', anonymousId: null, receivedAt: at(2) }),
    ];
    await store.sink.load(logBatch(1, events));
    assert.equal((await store.admin.counts()).events, 2);
    await check(store, events, 'beside an id with a lone surrogate');
  } finally {
    await store.close();
  }
  assert.equal(await indexRows(dir), 2);
});
