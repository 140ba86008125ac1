// The store contract, governance (src/store/governance.ts): the data dictionary the sink keeps as it loads and an
// erasure takes events out of, the tracking plan's violations as stored, and the plans' versions.
import assert from 'node:assert/strict';
import type { CanonicalEvent } from '../../../src/core/event.ts';
import { DictionaryBatch } from '../../../src/pipeline/dictionary/observe.ts';
import type { LogBatch, Store } from '../../../src/store/types.ts';
import { at, event, logBatch, rejection } from '../../fixtures.ts';
import { finished, type Part, workspace } from './common.ts';

const DAY = 86_400;
const names = async (store: Store, ws: string) =>
  (
    await store.schema.listNames(ws, { volumeFrom: at(0), orderBy: 'name', limit: 100, offset: 0 })
  ).results.map((n) => [n.kind, n.name, n.count, n.volume.map((v) => [v.day, v.count])]);
const paths = async (store: Store, ws: string, name: string) =>
  (await store.schema.getName(ws, 'track', name, at(0)))?.properties.map((p) => [
    p.path,
    p.count,
    p.share,
    p.types,
    p.examples,
  ]);

const EVENTS = (ws: string): CanonicalEvent[] => [
  event(ws, 'a1', { userId: 'a', event: 'Bought', properties: { total: 5, sku: 'x' }, timestamp: at(10) }),
  event(ws, 'a2', { userId: 'a', event: 'Bought', properties: { total: 'six' }, timestamp: at(DAY + 10) }),
  event(ws, 'b1', { userId: 'b', event: 'Bought', properties: { total: 7.5, sku: 'y' }, timestamp: at(20) }),
  event(ws, 'b2', { userId: 'b', event: 'Left', timestamp: at(30) }),
  event(ws, 'b3', {
    type: 'identify',
    userId: 'b',
    event: null,
    traits: { email: 'b@x.io' },
    timestamp: at(40),
  }),
];

/** The same batch with the dictionary hint a log makes as it writes. */
const hinted = (seq: number, events: CanonicalEvent[]): LogBatch => ({
  ...logBatch(seq, events),
  dictionary: DictionaryBatch.of(events),
});

export function governanceContract({ test, withStore }: Part): void {
  for (const [how, batch] of [
    ['from entries()', logBatch],
    ['from the dictionary hint', hinted],
  ] as const) {
    test(`dictionary: names per day, paths with their types, shares and examples, loaded once (${how})`, () =>
      withStore(async (store) => {
        await store.sink.load(batch(1, EVENTS('w')));
        await store.sink.load(batch(1, EVENTS('w'))); // a replay: skipped, counted once
        assert.deepEqual(await names(store, 'w'), [
          [
            'track',
            'Bought',
            3,
            [
              ['2026-01-01', 2],
              ['2026-01-02', 1],
            ],
          ],
          ['track', 'Left', 1, [['2026-01-01', 1]]],
        ]);
        assert.deepEqual(await paths(store, 'w', 'Bought'), [
          ['sku', 2, 0.6667, { string: 2 }, ['x', 'y']],
          ['total', 3, 1, { string: 1, integer: 1, number: 1 }, [5, 'six', 7.5]],
        ]);
        const traits = await store.schema.listTraits('w', { kind: 'identify', limit: 10, offset: 0 });
        assert.deepEqual(
          [traits.calls, traits.total, traits.results.map((p) => [p.path, p.count, p.examples])],
          [1, 1, [['email', 1, ['b@x.io']]]],
        );
        const since = await store.schema.seenSince('w', at(DAY));
        assert.deepEqual(
          since.map((n) => [n.name, n.count, n.properties.map((p) => p.path)]),
          [['Bought', 3, ['total']]],
        );
        assert.deepEqual(await names(store, 'other'), [], 'per workspace');
      }));
  }

  test('dictionary: a name keeps about 1,000 paths: past them a load adds no new path, its known ones still count', () =>
    withStore(async (store) => {
      // 500 new paths a load (a summary holds 500 a name), in events of 200 at most (an event's bound).
      const load = (seq: number, keys: string[]) =>
        store.sink.load(
          logBatch(
            seq,
            Array.from({ length: Math.ceil(keys.length / 200) }, (_, i) =>
              event('w', `m${seq}-${i}`, {
                userId: 'a',
                event: 'Wide',
                properties: Object.fromEntries(keys.slice(i * 200, i * 200 + 200).map((k) => [k, 1])),
                timestamp: at(seq),
              }),
            ),
          ),
        );
      const keys = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
      await load(1, keys('a', 500));
      await load(2, keys('b', 10));
      await load(3, keys('c', 500)); // 510 known: under the cap, all taken (1,010)
      await load(4, [...keys('d', 5), 'a0']); // past the cap: the new ones are not taken, a0 counts
      const wide = await store.schema.getName('w', 'track', 'Wide', at(0));
      assert.equal(wide?.properties.length, 1010);
      assert.equal(wide?.properties.find((p) => p.path === 'a0')?.count, 2);
      assert.equal(
        wide?.properties.some((p) => p.path.startsWith('d')),
        false,
      );
    }));

  test('dictionary: a deletion recomputes its days and takes its paths, counts and examples out', () =>
    withStore(async (store) => {
      await store.sink.load(logBatch(1, EVENTS('w')));
      const job = await store.erasure.requestDeletion('w', 'b');
      assert.equal((await finished(store, 'w', job.id)).status, 'done');
      assert.deepEqual(await names(store, 'w'), [
        [
          'track',
          'Bought',
          2,
          [
            ['2026-01-01', 1],
            ['2026-01-02', 1],
          ],
        ],
      ]);
      assert.deepEqual(await paths(store, 'w', 'Bought'), [
        ['sku', 1, 0.5, { string: 1 }, ['x']],
        ['total', 2, 1, { string: 1, integer: 1 }, [5, 'six']],
      ]);
      assert.equal(await store.schema.getName('w', 'track', 'Left', at(0)), null);
      assert.equal((await store.schema.listTraits('w', { kind: 'identify', limit: 10, offset: 0 })).calls, 0);
    }));

  test('violations: summed from stored events and refused items, per type, name and kind', () =>
    withStore(async (store) => {
      const mark = (kind: string) => ({ violationErrors: [{ type: 'x', kind, message: 'm', meta: {} }] });
      await store.sink.load(
        logBatch(
          1,
          [
            event('w', 'v1', { userId: 'a', event: 'Bought', context: mark('wrongType'), timestamp: at(1) }),
            event('w', 'v2', {
              userId: 'a',
              event: 'Bought',
              context: mark('wrongType'),
              timestamp: at(DAY + 2),
            }),
            event('w', 'ok', { userId: 'a', event: 'Bought', timestamp: at(3) }),
          ],
          [
            rejection('w', 'r1', {
              code: 'INTAKE_ERR_PLAN_VIOLATION',
              payload: '{"type":"track","event":"Bought"}',
              violations: [
                { type: 'x', kind: 'wrongType', message: 'm', meta: { instancePath: '', schemaPath: '' } },
              ],
              receivedAt: at(4),
            }),
          ],
        ),
      );
      const v = await store.schema.violations('w', { startDate: at(0), limit: 10, offset: 0 });
      assert.deepEqual(
        v.results.map((r) => [r.type, r.event, r.kind, r.flagged, r.rejected, r.sampleRejectedId, r.days]),
        [
          [
            'track',
            'Bought',
            'wrongType',
            2,
            1,
            'r1',
            [
              { day: '2026-01-01', flagged: 1, rejected: 1 },
              { day: '2026-01-02', flagged: 1, rejected: 0 },
            ],
          ],
        ],
      );
      const flagged = await store.events.listEvents('w', {
        json: [],
        orderBy: 'timestamp',
        direction: 'ASC',
        limit: 10,
        offset: 0,
        violations: true,
      });
      assert.deepEqual(
        flagged.results.map((e) => e.messageId),
        ['v1', 'v2'],
      );
      assert.ok(
        ['v1', 'v2']
          .map((m) => flagged.results.find((e) => e.messageId === m)?.id)
          .includes(v.results[0]?.sampleEventId ?? ''),
      );
      const rejected = await store.events.listRejected('w', { limit: 10, offset: 0 });
      assert.equal(rejected.results[0]?.violations?.[0]?.kind, 'wrongType');
    }));

  test('plans: versions from 1 per workspace, the latest current, each workspace its own', () =>
    withStore(async (store) => {
      assert.equal(await store.plans.getPlan('w'), null);
      const v1 = await store.plans.savePlan('w', { events: {} }, at(1));
      const v2 = await store.plans.savePlan('w', { naming: { case: 'Title Case' } }, at(2));
      const o1 = await store.plans.savePlan('o', {}, at(3));
      assert.deepEqual(
        [v1, v2, o1].map((p) => [p.version, p.createdAt]),
        [
          [1, at(1)],
          [2, at(2)],
          [1, at(3)],
        ],
      );
      assert.deepEqual((await store.plans.getPlan('w'))?.plan, { naming: { case: 'Title Case' } });
      assert.deepEqual((await store.plans.getPlan('w', 1))?.plan, { events: {} });
      assert.equal(await store.plans.getPlan('w', 3), null);
      assert.deepEqual(
        (await store.plans.listPlans('w')).map((p) => p.version),
        [2, 1],
      );
      assert.deepEqual((await store.plans.currentPlans()).map((p) => [p.workspaceId, p.version]).sort(), [
        ['o', 1],
        ['w', 2],
      ]);
      assert.equal((await store.admin.counts()).planVersions, 3, 'counts: every version');
    }));

  test('plansVersion moves with every saved version and a deleted workspace, and names the set of versions', () =>
    withStore(async (store) => {
      const seen = [await store.plans.plansVersion()];
      assert.equal(await store.plans.plansVersion(), seen[0], 'nothing changed');
      await store.plans.savePlan('w', {}, at(1));
      seen.push(await store.plans.plansVersion());
      // A second version with the same time still moves it.
      await store.plans.savePlan('w', {}, at(1));
      seen.push(await store.plans.plansVersion());
      await store.plans.savePlan('o', {}, at(2));
      seen.push(await store.plans.plansVersion());
      await store.admin.createWorkspace(workspace('o', 1));
      assert.equal(await store.plans.plansVersion(), seen[3], 'a workspace without plan changes: no move');
      assert.equal(new Set(seen).size, seen.length, `every save moved it: ${seen.join(' | ')}`);
      await store.erasure.deleteWorkspace('o');
      const afterDelete = await store.plans.plansVersion();
      assert.notEqual(afterDelete, seen[3], 'the deletion moved it');
      assert.equal(afterDelete, seen[2], "the same versions as before o's: the same value");
    }));

  test('deleteWorkspace removes its dictionary and its plans', () =>
    withStore(async (store) => {
      await store.sink.load(logBatch(1, EVENTS('w')));
      await store.plans.savePlan('w', {}, at(1));
      await store.erasure.deleteWorkspace('w');
      assert.deepEqual(await names(store, 'w'), []);
      assert.deepEqual(await store.plans.listPlans('w'), []);
    }));
}
