// The store contract across a restart: what a closed store holds when it is opened again on its directory.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { dedupeKey } from '../../../src/core/dedupe.ts';
import type { Store } from '../../../src/store/types.ts';
import { at, event, logBatch, rejection } from '../../fixtures.ts';
import { tempDir } from '../../helpers.ts';
import { apiKey, finished, keysSince, type Part, profileEvents, query, workspace } from './common.ts';

export function restartContract({ engine, test }: Part): void {
  test('a reopened store has every row, the checkpoint, profiles, keys and tombstones', async () => {
    const dir = tempDir('intake-store-contract-');
    try {
      const snapshot = async (store: Store) => ({
        checkpoint: await store.sink.checkpoint(),
        events: await store.events.listEvents('p', query()),
        rejected: await store.events.listRejected('p', { limit: 10, offset: 0 }),
        users: await store.profiles.listUsers('p', { traits: [], limit: 10, offset: 0 }),
        ada: await store.profiles.getUser('p', 'old-ada'),
        group: await store.profiles.getGroup('p', 'acme'),
        workspaces: await store.admin.listWorkspaces(),
        keys: await store.admin.listKeys(),
        dedupe: await keysSince(store, at(0)),
      });
      let store = await engine.openStore(dir);
      let before: Awaited<ReturnType<typeof snapshot>> | undefined;
      let jobId = '';
      try {
        await store.admin.createWorkspace(workspace('p'));
        await store.admin.createKey(apiKey('k1', 'p'));
        await store.admin.createKey(apiKey('k2', 'p'));
        await store.admin.revokeKey('p', 'k2', at(3));
        await store.sink.load(
          logBatch(4, [...profileEvents('p'), event('p', 'z', { userId: 'zed' })], [rejection('p', 'r')]),
        );
        jobId = (await store.erasure.requestDeletion('p', 'zed')).id;
        await finished(store, 'p', jobId);
        before = await snapshot(store);
        assert.deepEqual(
          [
            before.checkpoint,
            before.events.total,
            before.rejected.total,
            before.users.total,
            before.dedupe.length,
          ],
          [4, 8, 1, 3, 9],
          'what is compared after the restart (dedupe keys: the 8 events and the tombstone)',
        );
      } finally {
        await store.close();
      }
      store = await engine.openStore(dir);
      try {
        assert.deepEqual(await snapshot(store), before);
        assert.equal((await store.profiles.getDeletion('p', jobId))?.status, 'done');
        const tomb = (await keysSince(store, new Date(Date.UTC(9000, 0, 1)))).map(([k]) => k);
        assert.deepEqual(tomb, [dedupeKey('p', 'z')], 'the tombstone survived');
        await store.sink.load(logBatch(4, [event('p', 'again')]));
        assert.equal((await store.events.listEvents('p', query())).total, 8, 'the checkpoint still skips');
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
