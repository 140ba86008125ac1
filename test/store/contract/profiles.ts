// The store contract, profile reads: identify, alias and group calls seen through getUser, listUsers,
// listUserEvents, getGroup and listGroupUsers; and every read scoped to its workspace.
import assert from 'node:assert/strict';
import { at, event, logBatch, rejection } from '../../fixtures.ts';
import { finished, ids, type Part, profileEvents, query } from './common.ts';

const ADA = {
  id: 'ada',
  userIds: ['ada'],
  anonymousIds: ['anon-1', 'old-ada'],
  traits: { email: 'ada@x.io', name: 'Ada Lovelace', plan: 'pro' },
  firstSeen: at(1),
  lastSeen: at(5),
  eventCount: 5,
};
const ANON_2 = {
  id: 'anon-2',
  userIds: [],
  anonymousIds: ['anon-2'],
  traits: {},
  firstSeen: at(6),
  lastSeen: at(7),
  eventCount: 2,
};
const BOB = {
  id: 'bob',
  userIds: ['bob'],
  anonymousIds: [],
  traits: { email: 'bob@y.io', plan: 'pro', age: 42, tags: ['a'] },
  firstSeen: at(8),
  lastSeen: at(8),
  eventCount: 1,
};

export function profilesContract({ test, withStore }: Part): void {
  test('identify, alias and group calls make one person, read by any of its ids', () =>
    withStore(async (store) => {
      await store.sink.load(logBatch(1, profileEvents('p').slice(0, 4)));
      await store.sink.load(logBatch(2, profileEvents('p').slice(4)));
      for (const id of ['ada', 'anon-1', 'old-ada']) {
        assert.deepEqual(
          await store.profiles.getUser('p', id),
          { ...ADA, groups: ['acme'], refusedMerges: [] },
          id,
        );
      }
      assert.deepEqual(await store.profiles.getUser('p', 'anon-2'), {
        ...ANON_2,
        groups: ['acme'],
        refusedMerges: [],
      });
      assert.deepEqual(await store.profiles.getUser('p', 'bob'), { ...BOB, groups: [], refusedMerges: [] });
      assert.equal(await store.profiles.getUser('p', 'nobody'), null);
      assert.equal(await store.profiles.getUser('p', 'Ada'), null, 'ids are case-sensitive');
    }));

  test('listUsers: most recently seen first; search over ids and name traits; trait filters; paging', () =>
    withStore(async (store) => {
      await store.sink.load(logBatch(1, profileEvents('p')));
      const list = (
        q: { search?: string; traits?: Array<{ path: string[]; value: string }> },
        limit = 10,
        offset = 0,
      ) => store.profiles.listUsers('p', { traits: [], limit, offset, ...q });
      assert.deepEqual(await list({}), { results: [BOB, ANON_2, ADA], total: 3 });
      assert.deepEqual(await list({}, 1, 1), { results: [ANON_2], total: 3 });
      assert.deepEqual(await list({}, 2, 3), { results: [], total: 3 });
      const who = async (q: Parameters<typeof list>[0]) => {
        const page = await list(q);
        assert.equal(page.total, page.results.length);
        return page.results.map((u) => u.id);
      };
      assert.deepEqual(await who({ search: 'OLD-A' }), ['ada'], 'any id, case-insensitive');
      assert.deepEqual(await who({ search: 'lovelace' }), ['ada'], 'the name trait');
      assert.deepEqual(await who({ search: 'y.io' }), ['bob'], 'the email trait');
      assert.deepEqual(await who({ search: 'anon' }), ['anon-2', 'ada']);
      assert.deepEqual(await who({ search: 'pro' }), [], 'other traits are not searched');
      assert.deepEqual(await who({ traits: [{ path: ['plan'], value: 'pro' }] }), ['bob', 'ada']);
      assert.deepEqual(
        await who({ traits: [{ path: ['plan'], value: 'free' }] }),
        [],
        'the later identify won',
      );
      assert.deepEqual(
        await who({ traits: [{ path: ['age'], value: '42' }] }),
        ['bob'],
        'a number by its text',
      );
      assert.deepEqual(await who({ traits: [{ path: ['tags'], value: '["a"]' }] }), [], 'an array never');
      assert.deepEqual(
        await who({
          search: 'ada',
          traits: [
            { path: ['plan'], value: 'pro' },
            { path: ['name'], value: 'Ada Lovelace' },
          ],
        }),
        ['ada'],
      );
    }));

  test('listUserEvents gives the events of every id of the person, newest first; null for an unknown id', () =>
    withStore(async (store) => {
      const events = profileEvents('p');
      await store.sink.load(logBatch(1, events));
      const page = await store.profiles.listUserEvents('p', 'old-ada', { limit: 10, offset: 0 });
      assert.deepEqual(page && [page.results.map((e) => e.messageId), page.total], [
        ['p5', 'p4', 'p3', 'p2', 'p1'],
        5,
      ]);
      const second = await store.profiles.listUserEvents('p', 'anon-1', { limit: 2, offset: 1 });
      assert.deepEqual(second, { results: [events[3], events[2]], total: 5 }, 'whole events');
      assert.equal(await store.profiles.listUserEvents('p', 'nobody', { limit: 10, offset: 0 }), null);
    }));

  test('getGroup merges the group traits and counts members as persons; listGroupUsers lists them', () =>
    withStore(async (store) => {
      await store.sink.load(logBatch(1, profileEvents('p')));
      assert.deepEqual(await store.profiles.getGroup('p', 'acme'), {
        id: 'acme',
        traits: { name: 'Acme', size: 12 },
        firstSeen: at(5),
        lastSeen: at(7),
        memberCount: 2,
      });
      assert.deepEqual(await store.profiles.listGroupUsers('p', 'acme', { limit: 10, offset: 0 }), {
        results: [ADA, ANON_2],
        total: 2,
      });
      assert.deepEqual(await store.profiles.listGroupUsers('p', 'acme', { limit: 1, offset: 1 }), {
        results: [ANON_2],
        total: 2,
      });
      assert.equal(await store.profiles.getGroup('p', 'nope'), null);
      assert.deepEqual(await store.profiles.listGroupUsers('p', 'nope', { limit: 10, offset: 0 }), {
        results: [],
        total: 0,
      });
    }));

  test('a link past the ids-per-person cap is refused and shown on both sides', () =>
    withStore(
      async (store) => {
        await store.sink.load(
          logBatch(1, [
            event('c', 'c1', { type: 'identify', userId: 'u', anonymousId: 'a1', timestamp: at(1) }),
          ]),
        );
        await store.sink.load(
          logBatch(2, [
            event('c', 'c2', { type: 'identify', userId: 'u', anonymousId: 'a2', timestamp: at(2) }),
          ]),
        );
        const refused = {
          a: 'a2',
          b: 'u',
          messageId: 'c2',
          at: at(2),
          reason: 'the merged person would have 3 ids, over the cap of 2',
        };
        const u = await store.profiles.getUser('c', 'a1');
        assert.deepEqual(
          [u?.id, u?.userIds, u?.anonymousIds, u?.eventCount, u?.refusedMerges],
          ['u', ['u'], ['a1'], 2, [refused]],
        );
        const a2 = await store.profiles.getUser('c', 'a2');
        assert.deepEqual(
          [a2?.id, a2?.userIds, a2?.anonymousIds, a2?.refusedMerges],
          ['a2', [], ['a2'], [refused]],
        );
      },
      { maxIdsPerPerson: 2 },
    ));

  test('every read is scoped to its workspace', () =>
    withStore(async (store) => {
      const both = (ws: string) => [
        event(ws, 's1', { type: 'identify', userId: 'u', anonymousId: 'a', traits: { plan: ws } }),
        event(ws, 's2', { type: 'group', userId: 'u', groupId: 'g', traits: { owner: ws } }),
        event(ws, 's3', { userId: 'u', properties: { ws } }),
      ];
      await store.sink.load(
        logBatch(
          1,
          [...both('A'), ...both('B'), event('B', 's4', { type: 'identify', userId: 'only-b' })],
          [rejection('B', 'rb', { messageId: 's1' })],
        ),
      );
      const job = await store.erasure.requestDeletion('B', 'only-b');
      await finished(store, 'B', job.id);

      const all = await store.events.listEvents('A', query());
      assert.deepEqual([ids(all), all.total], [['s1', 's2', 's3'], 3]);
      assert.ok(all.results.every((e) => e.workspaceId === 'A'));
      assert.equal((await store.events.listEvents('A', query({ messageId: 's4' }))).total, 0);
      assert.equal(
        (
          await store.events.listEvents(
            'A',
            query({ json: [{ column: 'properties', path: ['ws'], value: 'B' }] }),
          )
        ).total,
        0,
      );
      assert.deepEqual(await store.events.listRejected('A', { limit: 10, offset: 0 }), {
        results: [],
        total: 0,
      });
      const u = await store.profiles.getUser('A', 'a');
      assert.deepEqual([u?.traits, u?.eventCount, u?.groups], [{ plan: 'A' }, 3, ['g']]);
      assert.equal(await store.profiles.getUser('A', 'only-b'), null);
      assert.deepEqual(
        (await store.profiles.listUsers('A', { traits: [], limit: 10, offset: 0 })).results.map((x) => x.id),
        ['u'],
      );
      assert.equal(
        (await store.profiles.listUsers('A', { search: 'only', traits: [], limit: 10, offset: 0 })).total,
        0,
      );
      const evs = await store.profiles.listUserEvents('A', 'u', { limit: 10, offset: 0 });
      assert.deepEqual([evs?.total, evs?.results.every((e) => e.workspaceId === 'A')], [3, true]);
      const g = await store.profiles.getGroup('A', 'g');
      assert.deepEqual([g?.traits, g?.memberCount], [{ owner: 'A' }, 1]);
      assert.equal((await store.profiles.listGroupUsers('A', 'g', { limit: 10, offset: 0 })).total, 1);
      assert.equal(await store.profiles.getDeletion('A', job.id), null);
      // B's deletion took nothing of A's, though the ids are the same.
      assert.equal((await store.events.listEvents('B', query())).total, 3);
    }));
}
