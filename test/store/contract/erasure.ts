// The store contract, erasure: a person's deletion in the background with its tombstones, also when a crash
// interrupts it; a workspace's deletion.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { dedupeKey } from '../../../src/core/dedupe.ts';
import { FOREVER } from '../../../src/ingest/file/keyset.ts';
import type { DeletionJob } from '../../../src/store/types.ts';
import { crashChild } from '../../engine-child.ts';
import { at, event, logBatch, rejection } from '../../fixtures.ts';
import { tempDir } from '../../helpers.ts';
import { apiKey, finished, ids, keysSince, type Part, query, workspace } from './common.ts';

export function erasureContract({ engine, test, withStore }: Part): void {
  test('requestDeletion erases the person in the background and hands its keys to onTombstones', () =>
    withStore(async (store) => {
      const handed: string[][] = [];
      store.onTombstones((keys) => handed.push([...keys]));
      await store.sink.load(
        logBatch(
          1,
          [
            event('w', 'v1', {
              type: 'identify',
              userId: 'v',
              anonymousId: 'va',
              traits: { n: 1 },
              timestamp: at(1),
            }),
            event('w', 'v2', { userId: 'v', timestamp: at(2) }),
            event('w', 'v3', { type: 'group', userId: 'v', groupId: 'acme', timestamp: at(3) }),
            event('w', 'v4', { type: 'page', anonymousId: 'va', timestamp: at(4) }),
            event('w', 'k1', { userId: 'k', timestamp: at(5) }),
            event('w', 'k2', { type: 'group', userId: 'k', groupId: 'acme', timestamp: at(6) }),
          ],
          [
            rejection('w', 'rv1', { payload: '{"userId":"v"}', receivedAt: at(1) }),
            rejection('w', 'rv2', { payload: '{"anonymousId":"va","event":""}', receivedAt: at(2) }),
            rejection('w', 'rk', { payload: '{"userId":"k"}', receivedAt: at(3) }),
          ],
        ),
      );
      const job = await store.erasure.requestDeletion('w', 'va'); // any of the person's ids
      assert.equal(job.workspaceId, 'w');
      assert.ok(['pending', 'running'].includes(job.status), job.status);
      assert.deepEqual([job.finishedAt, job.eventsDeleted, job.idsDeleted, job.error], [null, 0, 0, null]);
      const done = await finished(store, 'w', job.id);
      assert.deepEqual(
        [done.status, done.eventsDeleted, done.idsDeleted, done.error, done.requestedAt],
        ['done', 4, 2, null, job.requestedAt],
      );
      assert.ok(done.startedAt && done.finishedAt && done.startedAt <= done.finishedAt);
      assert.ok(done.requestedAt <= done.startedAt);

      assert.deepEqual(
        handed.flat().sort(),
        ['v1', 'v2', 'v3', 'v4'].map((m) => dedupeKey('w', m)).sort(),
        'the keys of the deleted events, once each',
      );
      assert.deepEqual(ids(await store.events.listEvents('w', query())), ['k1', 'k2']);
      assert.deepEqual(
        (await store.events.listRejected('w', { limit: 10, offset: 0 })).results.map((r) => r.id),
        ['rk'],
      );
      for (const id of ['v', 'va']) {
        assert.equal(await store.profiles.getUser('w', id), null, id);
        assert.equal(await store.profiles.listUserEvents('w', id, { limit: 10, offset: 0 }), null, id);
      }
      assert.equal((await store.profiles.getGroup('w', 'acme'))?.memberCount, 1);
      assert.deepEqual(
        (await store.profiles.listGroupUsers('w', 'acme', { limit: 10, offset: 0 })).results.map((u) => u.id),
        ['k'],
      );
      const k = await store.profiles.getUser('w', 'k');
      assert.deepEqual([k?.eventCount, k?.groups], [2, ['acme']]);
    }));

  test('deleteWorkspace removes everything of the workspace and nothing of another', () =>
    withStore(async (store) => {
      for (const ws of ['A', 'B']) {
        await store.admin.createWorkspace(workspace(ws, ws === 'A' ? 1 : 2));
        await store.admin.createKey(apiKey(`key-${ws}`, ws));
      }
      const data = (ws: string) => [
        event(ws, 'x1', { type: 'identify', userId: 'u', traits: { a: 1 } }),
        event(ws, 'x2', { type: 'group', userId: 'u', groupId: 'g' }),
        event(ws, 'x3', { type: 'identify', userId: 'gone' }),
      ];
      await store.sink.load(
        logBatch(1, [...data('A'), ...data('B')], [rejection('A', 'ra'), rejection('B', 'rb')]),
      );
      const jobA = await store.erasure.requestDeletion('A', 'gone');
      const jobB = await store.erasure.requestDeletion('B', 'gone');
      await finished(store, 'A', jobA.id);
      await finished(store, 'B', jobB.id);

      assert.equal(await store.erasure.deleteWorkspace('A'), true);
      assert.equal(await store.erasure.deleteWorkspace('A'), false, 'gone already');
      assert.equal(await store.erasure.deleteWorkspace('never'), false);

      assert.deepEqual(
        (await store.admin.listWorkspaces()).map((w) => w.id),
        ['B'],
      );
      assert.deepEqual(await store.admin.listKeys('A'), []);
      assert.deepEqual(
        (await store.admin.listKeys()).map((k) => k.id),
        ['key-B'],
      );
      assert.equal((await store.events.listEvents('A', query())).total, 0);
      assert.equal((await store.events.listRejected('A', { limit: 10, offset: 0 })).total, 0);
      assert.equal(await store.profiles.getUser('A', 'u'), null);
      assert.equal((await store.profiles.listUsers('A', { traits: [], limit: 10, offset: 0 })).total, 0);
      assert.equal(await store.profiles.getGroup('A', 'g'), null);
      assert.equal(await store.profiles.getDeletion('A', jobA.id), null);

      assert.deepEqual(ids(await store.events.listEvents('B', query())), ['x1', 'x2']);
      assert.equal((await store.events.listRejected('B', { limit: 10, offset: 0 })).total, 1);
      assert.deepEqual((await store.profiles.getUser('B', 'u'))?.traits, { a: 1 });
      assert.equal((await store.profiles.getGroup('B', 'g'))?.memberCount, 1);
      assert.equal((await store.profiles.getDeletion('B', jobB.id))?.status, 'done');
    }));

  test('a deletion interrupted by a crash finishes after a restart', async () => {
    const dir = tempDir('intake-store-contract-');
    try {
      let store = await engine.openStore(dir);
      try {
        await store.sink.load(
          logBatch(1, [
            event('w', 'd1', { type: 'identify', userId: 'd', anonymousId: 'da' }),
            event('w', 'd2', { anonymousId: 'da' }),
            event('w', 'k1', { userId: 'k' }),
          ]),
        );
      } finally {
        await store.close();
      }
      // A process asks for the deletion and dies at once: the job is at most started, never finished.
      const [job] = (await crashChild(['delete', engine.name, dir, 'w', 'd'])) as DeletionJob[];
      assert.ok(job?.id, 'the crashed process printed its job');
      store = await engine.openStore(dir);
      try {
        const done = await finished(store, 'w', job.id);
        assert.deepEqual([done.status, done.eventsDeleted, done.idsDeleted], ['done', 2, 2]);
        assert.deepEqual(ids(await store.events.listEvents('w', query())), ['k1']);
        assert.equal(await store.profiles.getUser('w', 'da'), null);
        const tombstones = (await keysSince(store, at(0))).filter(([, s]) => s >= FOREVER).map(([k]) => k);
        assert.deepEqual(tombstones, [dedupeKey('w', 'd1'), dedupeKey('w', 'd2')].sort());
        // Resumed at the open, before anyone could listen: a log opened meanwhile may have read the store before
        // the job committed, so the first listener, whenever it comes, is handed the keys.
        const handed: string[] = [];
        store.onTombstones((keys) => handed.push(...keys));
        assert.deepEqual(handed.sort(), tombstones, 'handed to the first listener');
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
