// The store contract, the sink: load a batch with its checkpoint atomically, skip replays, give back the dedupe
// keys the log's memory is rebuilt from, purge them.
import assert from 'node:assert/strict';
import { dedupeKey } from '../../../src/core/dedupe.ts';
import { FOREVER } from '../../../src/ingest/file/keyset.ts';
import { at, event, logBatch, rejection } from '../../fixtures.ts';
import { finished, ids, keysSince, type Part, query, seconds, sortPairs } from './common.ts';

export function sinkContract({ test, withStore }: Part): void {
  test('load stores the batch exactly as given and makes its seq the checkpoint', () =>
    withStore(async (store) => {
      assert.equal(await store.sink.checkpoint(), 0, 'no batch loaded yet');
      const full = event('w', 'full', {
        type: 'page',
        event: null,
        name: 'Pricing',
        category: 'Docs',
        userId: 'u1',
        anonymousId: 'a1',
        groupId: 'g1',
        previousId: 'p0',
        instanceId: 'i1',
        timestamp: at(3.25),
        originalTimestamp: at(3.125),
        sentAt: at(3.5),
        receivedAt: at(4.75),
        properties: { plan: 'pro', n: 4.5, list: [1, 'two', null], deep: { x: { y: true } } },
        traits: { email: 'a@b.c' },
        context: { ip: '10.0.0.1', library: { name: 'x', version: '1.0' } },
        integrations: { All: false },
        source: 'segment',
      });
      const bare = event('w', 'bare', { anonymousId: 'a2', timestamp: at(1) });
      const rej = rejection('w', 'r1', {
        receivedAt: at(2.5),
        source: 'posthog',
        messageId: 'bad-1',
        code: 'INTAKE_ERR_INVALID_EVENT',
        reason: 'properties must be an object',
        payload: '{"properties":[1]}',
      });
      await store.sink.load(logBatch(7, [full, bare], [rej]));
      assert.equal(await store.sink.checkpoint(), 7, 'the checkpoint is the batch seq, not a count');
      const page = await store.events.listEvents('w', query());
      assert.deepEqual(page, { results: [bare, full], total: 2, next: null });
      assert.deepEqual(await store.events.listRejected('w', { limit: 10, offset: 0 }), {
        results: [rej],
        total: 1,
      });
    }));

  test('a batch at or below the checkpoint is skipped, whatever it holds', () =>
    withStore(async (store) => {
      await store.sink.load(logBatch(3, [event('w', 'a')]));
      await store.sink.load(logBatch(5, [event('w', 'b')]));
      // Replays with other contents: skipped by their seq, so neither rows nor profiles change.
      await store.sink.load(
        logBatch(3, [event('w', 'c', { type: 'identify', userId: 'new', traits: { x: 1 } })]),
      );
      await store.sink.load(logBatch(5, [event('w', 'd')], [rejection('w', 'r')]));
      assert.equal(await store.sink.checkpoint(), 5);
      assert.deepEqual(ids(await store.events.listEvents('w', query())), ['a', 'b']);
      assert.equal((await store.events.listRejected('w', { limit: 10, offset: 0 })).total, 0);
      assert.equal(await store.profiles.getUser('w', 'new'), null);
      // The next seq after a gap loads.
      await store.sink.load(logBatch(9, [event('w', 'c')]));
      assert.equal(await store.sink.checkpoint(), 9);
      assert.deepEqual(ids(await store.events.listEvents('w', query())), ['a', 'b', 'c']);
    }));

  test('a batch that fails part-way stores nothing: no rows, no profile change, no checkpoint', () =>
    withStore(async (store) => {
      await store.sink.load(logBatch(1, [event('w', 'before')]));
      const events = [
        event('w', 'f1', { type: 'identify', userId: 'fu', anonymousId: 'fa', traits: { plan: 'pro' } }),
        event('w', 'f2', { type: 'group', userId: 'fu', groupId: 'fg', traits: { n: 1 } }),
        event('w', 'f3', { userId: 'fu' }),
      ];
      const good = rejection('w', 'r-good');
      // A row every engine must refuse: a rejection without its code (a required column), after the events.
      const broken = { ...rejection('w', 'r-broken'), code: null } as unknown as typeof good;
      await assert.rejects(store.sink.load(logBatch(2, events, [good, broken])));
      assert.equal(await store.sink.checkpoint(), 1, 'the checkpoint did not move');
      assert.deepEqual(ids(await store.events.listEvents('w', query())), ['before']);
      assert.equal((await store.events.listRejected('w', { limit: 10, offset: 0 })).total, 0);
      assert.equal(await store.profiles.getUser('w', 'fa'), null);
      assert.equal(await store.profiles.getGroup('w', 'fg'), null);

      // The log retries the batch (fixed here): everything is there once, profiles included.
      await store.sink.load(logBatch(2, events, [good]));
      assert.equal(await store.sink.checkpoint(), 2);
      assert.deepEqual(ids(await store.events.listEvents('w', query())), ['before', 'f1', 'f2', 'f3']);
      assert.equal((await store.events.listRejected('w', { limit: 10, offset: 0 })).total, 1);
      const user = await store.profiles.getUser('w', 'fa');
      assert.deepEqual(
        [user?.id, user?.userIds, user?.anonymousIds, user?.traits, user?.eventCount, user?.groups],
        ['fu', ['fu'], ['fa'], { plan: 'pro' }, 3, ['fg']],
      );
      assert.equal((await store.profiles.getGroup('w', 'fg'))?.memberCount, 1);
    }));

  test('dedupeKeys gives the core/dedupe.ts key and first second of each event received since a date', () =>
    withStore(async (store) => {
      // receivedAt decides (timestamps are elsewhere); seconds are whole, rounded down (10.7 s is 10).
      const a1 = event('a', 'm1', { timestamp: at(500), receivedAt: at(10.7) });
      const a2 = event('a', 'm2', { timestamp: at(1), receivedAt: at(20) });
      const a3 = event('a', 'm3', { timestamp: at(2), receivedAt: at(30.999) });
      const b2 = event('b', 'm2', { timestamp: at(3), receivedAt: at(20.5) });
      await store.sink.load(logBatch(1, [a1, a2], [rejection('a', 'r', { messageId: 'm9' })]));
      await store.sink.load(logBatch(2, [a3, b2]));
      const s = (d: Date) => seconds(d);
      assert.deepEqual(
        await keysSince(store, at(0)),
        sortPairs([
          [dedupeKey('a', 'm1'), s(at(10))],
          [dedupeKey('a', 'm2'), s(at(20))],
          [dedupeKey('a', 'm3'), s(at(30))],
          [dedupeKey('b', 'm2'), s(at(20))],
        ]),
      );
      // `since` itself is included; a rejection has no key.
      assert.deepEqual(
        await keysSince(store, at(20)),
        sortPairs([
          [dedupeKey('a', 'm2'), s(at(20))],
          [dedupeKey('a', 'm3'), s(at(30))],
          [dedupeKey('b', 'm2'), s(at(20))],
        ]),
      );
      assert.deepEqual(await keysSince(store, at(31)), []);
    }));

  test('dedupeKeys gives every key while other reads run beside it', () =>
    withStore(async (store) => {
      // Reads a running store makes beside a log's start: a finished deletion arms its purge timer (purgeStatus's
      // query), a client polls its job. A DuckDB stream on a connection they shared ended, without an error, at
      // the next query on it: a restart's log rebuilt its memory without the keys, or some of them.
      const events = Array.from({ length: 3000 }, (_, i) =>
        event('w', `m${i}`, { userId: `u${i % 30}`, receivedAt: at(i) }),
      );
      await store.sink.load(logBatch(1, events));
      const tombstones = [dedupeKey('w', 'gone-1'), dedupeKey('w', 'gone-2')];
      await store.sink.addTombstones(tombstones);
      const want = [...events.map((e) => dedupeKey('w', e.messageId)), ...tombstones].sort();
      for (let round = 0; round < 5; round++) {
        let reading = true;
        const read = keysSince(store, at(0)).finally(() => {
          reading = false;
        });
        let beside = 0;
        while (reading) {
          await store.erasure.purgeStatus();
          await store.profiles.getDeletion('w', 'no-such-job');
          beside++;
        }
        assert.ok(beside > 0, 'a read ran beside dedupeKeys');
        const got = (await read).map(([k]) => k);
        assert.equal(got.length, want.length, `round ${round}: keys given, with ${beside} reads beside it`);
        assert.deepEqual(got, want);
      }
    }));

  test('purgeKeys keeps the keys received since its date and every tombstone', () =>
    withStore(async (store) => {
      await store.sink.load(
        logBatch(1, [
          event('w', 'k1', { userId: 'kept', receivedAt: at(10) }),
          event('w', 'k2', { userId: 'kept', receivedAt: at(20) }),
          event('w', 'g1', { userId: 'gone', receivedAt: at(15) }),
        ]),
      );
      const job = await store.erasure.requestDeletion('w', 'gone');
      assert.equal((await finished(store, 'w', job.id)).status, 'done');
      const purged = await store.sink.purgeKeys(at(20));
      assert.ok(Number.isInteger(purged) && purged >= 0, `purgeKeys returns a count (${purged})`);
      const after = await keysSince(store, at(20));
      assert.deepEqual(
        after.map(([k]) => k),
        [dedupeKey('w', 'k2'), dedupeKey('w', 'g1')].sort(),
      );
      const forever = after.find(([k]) => k === dedupeKey('w', 'g1'));
      assert.ok(forever && forever[1] >= FOREVER, 'a tombstone is never forgotten');
      // Even a purge of everything up to the year 9000 keeps the tombstone.
      await store.sink.purgeKeys(new Date(Date.UTC(9000, 0, 1)));
      const tombs = (await keysSince(store, new Date(Date.UTC(9000, 0, 1)))).map(([k]) => k);
      assert.deepEqual(tombs, [dedupeKey('w', 'g1')]);
    }));

  test('addTombstones stores keys as tombstones once, kept by purgeKeys and given back by dedupeKeys', () =>
    withStore(async (store) => {
      const keys = [dedupeKey('w', 'm1'), dedupeKey('w', 'm2'), dedupeKey('o', 'm1')];
      assert.equal(await store.sink.addTombstones(keys), 3);
      assert.equal(await store.sink.addTombstones([keys[0] as string, dedupeKey('w', 'm3')]), 1, 'one new');
      assert.equal(await store.sink.addTombstones([]), 0);
      await store.sink.purgeKeys(new Date(Date.UTC(9000, 0, 1)));
      const tombs = await keysSince(store, new Date(Date.UTC(9000, 0, 1)));
      assert.deepEqual(
        tombs.map(([k]) => k),
        [...keys, dedupeKey('w', 'm3')].sort(),
        'each once, past any purge',
      );
      assert.ok(tombs.every(([, s]) => s >= FOREVER));
      assert.equal((await store.admin.counts()).tombstones, 4);
    }));

  test('a batch of 10,000 events with long messageIds loads whole (a statement naming them all is ~500 KB)', () =>
    withStore(async (store) => {
      const long = (i: number) => `${'m'.repeat(40)}-${i}`;
      const events = Array.from({ length: 10_000 }, (_, i) => event('w', long(i), { userId: `u${i % 50}` }));
      await store.sink.load(logBatch(1, events));
      assert.equal(await store.sink.checkpoint(), 1);
      assert.equal((await store.admin.counts()).events, 10_000);
    }));

  test('text with lone UTF-16 surrogates is stored with U+FFFD in their place', () =>
    withStore(async (store) => {
      const e = event('w', 's1', {
        event: 'Odd \ud800 name',
        userId: 'u',
        properties: { 'k\udc00': 'v \ud83d', fine: 'pair 😀' },
      });
      await store.sink.load(logBatch(1, [e]));
      const [stored] = (await store.events.listEvents('w', query())).results;
      assert.equal(stored?.event, 'Odd \ufffd name');
      assert.deepEqual(stored?.properties, { 'k\ufffd': 'v \ufffd', fine: 'pair 😀' });
    }));
}
