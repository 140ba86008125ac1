// The store contract, admin: workspaces, keys and the keys version that key rings watch.
import assert from 'node:assert/strict';
import { dedupeKey } from '../../../src/core/dedupe.ts';
import { type ApiKey, PRESETS } from '../../../src/store/types.ts';
import { at, event, logBatch, rejection } from '../../fixtures.ts';
import { apiKey, type Part, profileEvents, workspace } from './common.ts';

export function adminContract({ test, withStore }: Part): void {
  test('workspaces: created, listed, their settings replaced', () =>
    withStore(async (store) => {
      await store.admin.createWorkspace(workspace('w2', 2));
      await store.admin.createWorkspace({
        ...workspace('w1', 1),
        settings: { geo: false, anonymizeIp: true, timezone: 'UTC' },
      });
      const byId = async () => (await store.admin.listWorkspaces()).sort((a, b) => (a.id < b.id ? -1 : 1));
      assert.deepEqual(await byId(), [
        { ...workspace('w1', 1), settings: { geo: false, anonymizeIp: true, timezone: 'UTC' } },
        workspace('w2', 2),
      ]);
      assert.equal(
        await store.admin.updateWorkspaceSettings('w2', { geo: false, anonymizeIp: false, timezone: 'UTC' }),
        true,
      );
      assert.equal(
        await store.admin.updateWorkspaceSettings('none', {
          geo: false,
          anonymizeIp: false,
          timezone: 'UTC',
        }),
        false,
      );
      assert.deepEqual((await byId())[1], {
        ...workspace('w2', 2),
        settings: { geo: false, anonymizeIp: false, timezone: 'UTC' },
      });
      assert.deepEqual((await byId())[0]?.settings, { geo: false, anonymizeIp: true, timezone: 'UTC' });
    }));

  test('workspaces: renamed, their properties kept and replaced', () =>
    withStore(async (store) => {
      await store.admin.createWorkspace({ ...workspace('w1', 1), properties: { plan: 'pro', n: [1] } });
      const one = async () => (await store.admin.listWorkspaces())[0];
      assert.deepEqual((await one())?.properties, { plan: 'pro', n: [1] });
      assert.equal(await store.admin.updateWorkspace('w1', { name: 'renamed' }), true);
      assert.deepEqual(
        [(await one())?.name, (await one())?.properties],
        ['renamed', { plan: 'pro', n: [1] }],
      );
      assert.equal(await store.admin.updateWorkspace('w1', { properties: { region: 'eu' } }), true);
      assert.deepEqual((await one())?.properties, { region: 'eu' });
      assert.equal((await one())?.name, 'renamed');
      assert.equal(await store.admin.updateWorkspace('none', { name: 'x' }), false);
    }));

  test('keys: created with their scopes, listed per workspace and all, revoked once', () =>
    withStore(async (store) => {
      await store.admin.createWorkspace(workspace('w1'));
      await store.admin.createWorkspace(workspace('w2'));
      const k1 = apiKey('k1', 'w1', 1);
      const k2 = { ...apiKey('k2', 'w1', 2), kind: 'admin' as const, scopes: [...PRESETS.admin] };
      const k3 = {
        ...apiKey('k3', 'w2', 3),
        kind: 'custom' as const,
        scopes: ['ingest' as const, 'query' as const],
      };
      for (const k of [k1, k2, k3]) await store.admin.createKey(k);
      const sorted = (ks: ApiKey[]) => [...ks].sort((a, b) => (a.id < b.id ? -1 : 1));
      assert.deepEqual(sorted(await store.admin.listKeys('w1')), [k1, k2]);
      assert.deepEqual(sorted(await store.admin.listKeys()), [k1, k2, k3]);
      assert.equal(await store.admin.revokeKey('w2', 'k1', at(9)), false, 'not a key of w2');
      assert.equal(await store.admin.revokeKey('w1', 'k1', at(9)), true);
      assert.equal(await store.admin.revokeKey('w1', 'k1', at(10)), false, 'revoked already');
      assert.equal(await store.admin.revokeKey('w1', 'nope', at(10)), false);
      assert.deepEqual(sorted(await store.admin.listKeys('w1')), [{ ...k1, revokedAt: at(9) }, k2]);
    }));

  test('keysVersion moves with every change of a workspace or key, and only then', () =>
    withStore(async (store) => {
      const seen = [await store.admin.keysVersion()];
      const moved = async (what: string) => {
        const v = await store.admin.keysVersion();
        assert.ok(!seen.includes(v), `${what}: version ${v} after ${JSON.stringify(seen)}`);
        seen.push(v);
      };
      const still = async (what: string) => assert.equal(await store.admin.keysVersion(), seen.at(-1), what);
      await store.admin.listWorkspaces();
      await store.admin.listKeys();
      await still('reads change nothing');
      await store.admin.createWorkspace(workspace('w1'));
      await moved('createWorkspace');
      await store.admin.updateWorkspaceSettings('w1', { geo: false, anonymizeIp: true, timezone: 'UTC' });
      await moved('updateWorkspaceSettings');
      await store.admin.updateWorkspace('w1', { name: 'renamed', properties: { a: 1 } });
      await moved('updateWorkspace');
      await store.admin.createKey(apiKey('k1', 'w1'));
      await moved('createKey');
      await store.admin.revokeKey('w1', 'k1', at(1));
      await moved('revokeKey');
      await store.sink.load(logBatch(1, [event('w1', 'e')]));
      await still('loading events is no key change');
      await store.erasure.deleteWorkspace('w1');
      await moved('deleteWorkspace (its keys are gone)');
    }));

  test('counts: every table as a reader sees it', () =>
    withStore(async (store) => {
      const zero = {
        workspaces: 0,
        keys: 0,
        events: 0,
        rejected: 0,
        persons: 0,
        identities: 0,
        groups: 0,
        groupMembers: 0,
        planVersions: 0,
        tombstones: 0,
      };
      assert.deepEqual(await store.admin.counts(), zero);
      await store.admin.createWorkspace(workspace('w'));
      await store.admin.createKey(apiKey('k1', 'w'));
      await store.admin.createKey(apiKey('k2', 'w'));
      // Ada (anon-1, ada, old-ada), the visitor anon-2 and Bob; acme with Ada and the visitor.
      await store.sink.load(logBatch(1, profileEvents('w'), [rejection('w', 'r1')]));
      await store.sink.addTombstones([dedupeKey('w', 'gone')]);
      assert.deepEqual(await store.admin.counts(), {
        ...zero,
        workspaces: 1,
        keys: 2,
        events: 8,
        rejected: 1,
        persons: 3,
        identities: 5,
        groups: 1,
        groupMembers: 2,
        tombstones: 1,
      });
    }));
}
