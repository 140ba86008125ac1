// The store contract, event reads: listEvents with every filter, order and page, the JSON-path filter, and
// listRejected.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import type { CanonicalEvent } from '../../../src/core/event.ts';
import {
  type EventCursor,
  type EventQuery,
  ORDER_FIELDS,
  type OrderField,
  type Store,
} from '../../../src/store/types.ts';
import { at, event, logBatch, rejection } from '../../fixtures.ts';
import { tempDir } from '../../helpers.ts';
import { finished, ids, type Part, query } from './common.ts';
import { jsonFilterCases } from './json-filter.ts';

/** The six events the ordering, paging and equality-filter tests share (README: GET /events). */
function listingEvents(ws: string): CanonicalEvent[] {
  return [
    event(ws, 'm5', {
      event: 'beta',
      userId: 'u2',
      groupId: 'g1',
      instanceId: 'i2',
      timestamp: at(30),
      receivedAt: at(105),
    }),
    event(ws, 'm3', {
      type: 'identify',
      userId: 'U1',
      anonymousId: 'a3',
      timestamp: at(10),
      receivedAt: at(106),
    }),
    event(ws, 'm1', {
      type: 'page',
      name: 'Home',
      anonymousId: 'a1',
      groupId: 'g2',
      instanceId: 'i1',
      timestamp: at(20),
      receivedAt: at(104),
    }),
    event(ws, 'm6', {
      event: 'Alpha',
      userId: 'u2',
      anonymousId: 'a2',
      groupId: 'g1',
      instanceId: 'i2',
      timestamp: at(20),
      receivedAt: at(107),
    }),
    event(ws, 'm2', { type: 'group', userId: 'u1', groupId: 'G0', timestamp: at(40), receivedAt: at(101) }),
    event(ws, 'm4', { type: 'alias', userId: 'u3', previousId: 'u1', timestamp: at(0), receivedAt: at(109) }),
  ];
}

/** Text by code point, as DuckDB and ClickHouse compare it (UTF-8 bytes); JS's `<` compares UTF-16 code units. */
const byCodePoint = (x: string, y: string) => Buffer.compare(Buffer.from(x), Buffer.from(y));

/**
 * Every page of `q` by cursor, checking each page's shape and the next cursor of each full one; the ids in order.
 */
async function everyPage(store: Store, ws: string, q: Partial<EventQuery>, what: string): Promise<string[]> {
  const seen: string[] = [];
  const limit = q.limit ?? 100;
  let after: EventCursor | undefined;
  for (let pages = 0; ; pages++) {
    assert.ok(pages <= 200, `${what}: paging ends`);
    const page = await store.events.listEvents(ws, query({ ...q, after }));
    assert.ok(page.results.length <= limit, what);
    seen.push(...ids(page));
    if (!page.next) break;
    assert.equal(page.results.length, limit, `${what}: only a full page has a next`);
    const last = page.results.at(-1) as CanonicalEvent;
    const by = q.orderBy ?? 'timestamp';
    const v = last[by];
    assert.deepEqual(page.next, { value: v instanceof Date ? v.getTime() * 1000 : v, id: last.id }, what);
    after = page.next;
  }
  return seen;
}

/**
 * The contract's order: by the field, null values last in both directions, then by id in the same direction;
 * text compares by code point (binary), so 'U1' < 'u1'.
 */
function referenceOrder(events: CanonicalEvent[], by: OrderField, direction: 'ASC' | 'DESC'): string[] {
  const sign = direction === 'ASC' ? 1 : -1;
  const value = (e: CanonicalEvent) => {
    const v = e[by];
    return v instanceof Date ? v.getTime() : v;
  };
  return [...events]
    .sort((a, b) => {
      const x = value(a);
      const y = value(b);
      if (x !== y) {
        if (x === null) return 1;
        if (y === null) return -1;
        return (typeof x === 'string' && typeof y === 'string' ? byCodePoint(x, y) : x < y ? -1 : 1) * sign;
      }
      return (a.id < b.id ? -1 : 1) * sign;
    })
    .map((e) => e.messageId);
}

export function eventsContract({ engine, test, withStore }: Part): void {
  test('listEvents filters by each equality field, case-sensitively, in its own workspace only', () =>
    withStore(async (store) => {
      await store.sink.load(logBatch(1, [...listingEvents('w'), ...listingEvents('other')]));
      const cases: Array<[Partial<EventQuery>, string[]]> = [
        [{ event: 'beta' }, ['m5']],
        [{ event: 'alpha' }, []],
        [{ type: 'track' }, ['m6', 'm5']],
        [{ type: 'alias' }, ['m4']],
        [{ userId: 'u2' }, ['m6', 'm5']],
        [{ userId: 'u1' }, ['m2']],
        [{ userId: 'U1' }, ['m3']],
        [{ anonymousId: 'a1' }, ['m1']],
        [{ groupId: 'g1' }, ['m6', 'm5']],
        [{ instanceId: 'i1' }, ['m1']],
        [{ messageId: 'm4' }, ['m4']],
        [{ type: 'track', userId: 'u2', groupId: 'g1', instanceId: 'i2' }, ['m6', 'm5']],
        [{ event: 'beta', userId: 'u1' }, []],
      ];
      for (const [filter, expected] of cases) {
        const page = await store.events.listEvents('w', query(filter));
        assert.deepEqual(ids(page), expected, JSON.stringify(filter));
        assert.equal(page.total, expected.length, JSON.stringify(filter));
        assert.ok(page.results.every((e) => e.workspaceId === 'w'));
      }
    }));

  test('listEvents filters by a date range on timestamp, both ends included, to the millisecond', () =>
    withStore(async (store) => {
      await store.sink.load(logBatch(1, listingEvents('w')));
      const ms = (d: Date, n: number) => new Date(d.getTime() + n);
      const cases: Array<[Partial<EventQuery>, string[]]> = [
        [{ startDate: at(10), endDate: at(30) }, ['m3', 'm1', 'm6', 'm5']],
        [{ startDate: at(30) }, ['m5', 'm2']],
        [{ endDate: at(10) }, ['m4', 'm3']],
        [{ startDate: at(20), endDate: at(20) }, ['m1', 'm6']],
        [{ startDate: ms(at(20), 1) }, ['m5', 'm2']],
        [{ endDate: ms(at(20), -1) }, ['m4', 'm3']],
        [{ startDate: at(41) }, []],
      ];
      for (const [filter, expected] of cases) {
        const page = await store.events.listEvents('w', query(filter));
        assert.deepEqual(ids(page), expected, JSON.stringify(filter));
        assert.equal(page.total, expected.length);
      }
    }));

  test('listEvents orders by each field in both directions: nulls last, ties by id, text by code point', () =>
    withStore(async (store) => {
      const events = listingEvents('w');
      await store.sink.load(logBatch(1, events));
      const order = async (orderBy: OrderField, direction: 'ASC' | 'DESC') =>
        ids(await store.events.listEvents('w', query({ orderBy, direction })));
      // Written out for four, so the reference below is itself checked.
      assert.deepEqual(await order('timestamp', 'ASC'), ['m4', 'm3', 'm1', 'm6', 'm5', 'm2']);
      assert.deepEqual(await order('timestamp', 'DESC'), ['m2', 'm5', 'm6', 'm1', 'm3', 'm4']);
      assert.deepEqual(await order('event', 'DESC'), ['m5', 'm6', 'm4', 'm2', 'm1', 'm3']);
      assert.deepEqual(await order('userId', 'ASC'), ['m3', 'm2', 'm5', 'm6', 'm4', 'm1']);
      for (const by of Object.keys(ORDER_FIELDS) as OrderField[]) {
        for (const direction of ['ASC', 'DESC'] as const) {
          assert.deepEqual(
            await order(by, direction),
            referenceOrder(events, by, direction),
            `${by} ${direction}`,
          );
        }
      }
    }));

  test('listEvents pages with limit and offset; total counts every match whatever the page', () =>
    withStore(async (store) => {
      await store.sink.load(logBatch(1, [...listingEvents('w'), ...listingEvents('other')]));
      const page = (limit: number, offset: number, q: Partial<EventQuery> = {}) =>
        store.events.listEvents('w', query({ limit, offset, ...q }));
      assert.deepEqual([ids(await page(4, 0)), (await page(4, 0)).total], [['m4', 'm3', 'm1', 'm6'], 6]);
      assert.deepEqual([ids(await page(4, 4)), (await page(4, 4)).total], [['m5', 'm2'], 6]);
      assert.deepEqual(
        [ids(await page(6, 0)), (await page(6, 0)).total],
        [['m4', 'm3', 'm1', 'm6', 'm5', 'm2'], 6],
      );
      assert.deepEqual([ids(await page(3, 6)), (await page(3, 6)).total], [[], 6]);
      assert.deepEqual([ids(await page(3, 50)), (await page(3, 50)).total], [[], 6]);
      assert.deepEqual(
        [ids(await page(1, 1, { userId: 'u2' })), (await page(1, 1, { userId: 'u2' })).total],
        [['m5'], 2],
      );
      assert.deepEqual(
        [ids(await page(1, 0, { direction: 'DESC' })), (await page(1, 0, { direction: 'DESC' })).total],
        [['m2'], 6],
      );
    }));

  test('listEvents pages by cursor: every event exactly once, for every order field and direction, ties and nulls included', () =>
    withStore(async (store) => {
      // 24 events whose fields cycle through short lists with repeats and nulls (every third shares a time).
      const events = Array.from({ length: 24 }, (_, i) =>
        event('w', `m${i}`, {
          type: (['track', 'page', 'track', 'identify'] as const)[i % 4],
          event: [null, 'a', 'B', 'a'][i % 4] ?? null,
          userId: [null, 'u1', 'u2'][i % 3] ?? null,
          anonymousId: i % 2 ? null : 'x',
          groupId: i % 5 ? null : 'g',
          instanceId: ['i2', 'i1', 'i1', null][i % 4] ?? null,
          timestamp: at(Math.floor(i / 3)),
          receivedAt: at(100 - (i % 7)),
        }),
      );
      await store.sink.load(logBatch(1, [...events.slice(0, 12), ...listingEvents('other')]));
      await store.sink.load(logBatch(2, events.slice(12)));
      for (const by of Object.keys(ORDER_FIELDS) as OrderField[]) {
        for (const direction of ['ASC', 'DESC'] as const) {
          const expected = referenceOrder(events, by, direction);
          for (const limit of [1, 5, 24, 25]) {
            const seen: string[] = [];
            let after: EventCursor | undefined;
            for (let pages = 0; ; pages++) {
              assert.ok(pages <= 24, 'paging ends');
              const page = await store.events.listEvents(
                'w',
                query({ orderBy: by, direction, limit, after }),
              );
              const what = `${by} ${direction} limit ${limit} page ${pages}`;
              assert.ok(page.results.length <= limit, what);
              seen.push(...ids(page));
              assert.equal(page.total, 24, what);
              if (!page.next) break;
              assert.equal(page.results.length, limit, `${what}: only a full page has a next`);
              const last = page.results.at(-1) as CanonicalEvent;
              const v = last[by];
              assert.deepEqual(
                page.next,
                { value: v instanceof Date ? v.getTime() * 1000 : v, id: last.id },
                what,
              );
              after = page.next;
            }
            assert.deepEqual(seen, expected, `${by} ${direction} limit ${limit}`);
          }
        }
      }
    }));

  test('listEvents by cursor: events arriving between pages never make one returned twice or skipped', () =>
    withStore(async (store) => {
      const start = Array.from({ length: 12 }, (_, i) =>
        event('w', `s${i}`, { event: i % 2 ? 'b' : null, userId: 'u', timestamp: at(10 * i) }),
      );
      await store.sink.load(logBatch(1, start));
      let seq = 1;
      for (const [orderBy, direction] of [
        ['timestamp', 'ASC'],
        ['timestamp', 'DESC'],
        ['event', 'ASC'],
        ['event', 'DESC'],
      ] as const) {
        const seen: string[] = [];
        let after: EventCursor | undefined;
        for (let page = 0; ; page++) {
          assert.ok(page <= 100, 'paging ends');
          const p = await store.events.listEvents(
            'w',
            query({ orderBy, direction, limit: 3, after, userId: 'u' }),
          );
          seen.push(...ids(p));
          if (!p.next) break;
          after = p.next;
          if (page >= 6) continue;
          // New events everywhere in the order, ties with the position included (later ids: after it).
          const last = p.results.at(-1) as CanonicalEvent;
          seq++;
          await store.sink.load(
            logBatch(seq, [
              event('w', `n${seq}a`, { event: last.event, userId: 'u', timestamp: last.timestamp }),
              event('w', `n${seq}b`, { event: 'a', userId: 'u', timestamp: at(-1) }),
              event('w', `n${seq}c`, { event: 'c', userId: 'u', timestamp: at(1000) }),
              event('w', `n${seq}d`, { event: null, userId: 'u', timestamp: at(10 * page + 5) }),
            ]),
          );
        }
        const what = `${orderBy} ${direction}`;
        assert.equal(new Set(seen).size, seen.length, `${what}: none twice`);
        for (const e of start) assert.ok(seen.includes(e.messageId), `${what}: ${e.messageId} returned`);
      }
    }));

  test('listEvents by cursor in the order of event or type: a page spanning many values, of one event each or several, text by code point', () =>
    withStore(async (store) => {
      // Names of one to three events each, in an order where UTF-16 and code points disagree (U+FF46 'ｆ' sorts
      // after '😀' by code unit, before it by code point), with events of no name (nulls) among them.
      const names = ['n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'N7', 'n8', 'É', 'ｆ', '😀', 'z', '\ufffd'];
      const events = names.flatMap((name, i) =>
        Array.from({ length: 1 + (i % 3) }, (_, k) =>
          event('w', `${i}.${k}`, {
            event: name,
            type: (['track', 'page', 'screen'] as const)[(i + k) % 3],
            userId: 'u',
            timestamp: at(i),
          }),
        ),
      );
      events.push(
        event('w', 'null.0', { type: 'identify', userId: 'u' }),
        event('w', 'null.1', { type: 'group', userId: 'u' }),
      );
      // Two batches, the names of each spread over the whole order; another workspace's names in between.
      await store.sink.load(logBatch(1, [...events.filter((_, i) => i % 2), ...listingEvents('other')]));
      await store.sink.load(
        logBatch(
          2,
          events.filter((_, i) => i % 2 === 0),
        ),
      );
      for (const by of ['event', 'type'] as const) {
        for (const direction of ['ASC', 'DESC'] as const) {
          for (const limit of [1, 3, 7, 12, 40]) {
            const what = `${by} ${direction} limit ${limit}`;
            const seen = await everyPage(store, 'w', { orderBy: by, direction, limit }, what);
            assert.deepEqual(seen, referenceOrder(events, by, direction), what);
          }
        }
      }
      // With filters: a user's events, and the equality filter on the order's own field.
      const mine = await everyPage(store, 'w', { orderBy: 'event', limit: 2, userId: 'u' }, 'userId');
      assert.deepEqual(mine, referenceOrder(events, 'event', 'ASC'));
      const one = await everyPage(store, 'w', { orderBy: 'event', limit: 1, event: 'n2' }, 'event=n2');
      assert.deepEqual(one, ['2.0', '2.1', '2.2']);
      const pages = await everyPage(store, 'w', { orderBy: 'type', limit: 2, type: 'page' }, 'type=page');
      assert.deepEqual(
        pages,
        referenceOrder(
          events.filter((e) => e.type === 'page'),
          'type',
          'ASC',
        ),
      );
    }));

  test('listEvents by cursor in the order of event or type: names first loaded later, on any type, after a deletion, a purge or a restart are never skipped', async () => {
    const dir = tempDir('intake-store-contract-');
    const all: CanonicalEvent[] = [];
    let seq = 0;
    const load = async (store: Store, events: CanonicalEvent[]) => {
      all.push(...events);
      await store.sink.load(logBatch(++seq, events));
    };
    const check = async (store: Store, what: string) => {
      for (const by of ['event', 'type'] as const) {
        for (const direction of ['ASC', 'DESC'] as const) {
          for (const limit of [2, 5]) {
            const seen = await everyPage(
              store,
              'w',
              { orderBy: by, direction, limit },
              `${what} ${by} ${direction}`,
            );
            assert.deepEqual(
              seen,
              referenceOrder(all, by, direction),
              `${what}: ${by} ${direction} limit ${limit}`,
            );
          }
        }
      }
    };
    try {
      let store = await engine.openStore(dir);
      try {
        await load(store, [
          event('w', 'b', { event: 'b', userId: 'u' }),
          event('w', 'd', { event: 'd', userId: 'u' }),
          event('w', 'i', { type: 'identify', userId: 'u' }),
        ]);
        await check(store, 'first batch');
        // After pages were read: names before, between and after the known ones, a name on a page event (no
        // dialect sets one today; the store keeps what it is given), and the types not seen yet.
        await load(store, [
          event('w', 'a', { event: 'a', userId: 'u' }),
          event('w', 'c', { event: 'c', type: 'page', userId: 'u' }),
          event('w', 'z', { event: 'z', type: 'alias', userId: 'u', previousId: 'p' }),
          event('w', 'gone', { event: 'only gone', userId: 'gone' }),
          event('w', 'g', { type: 'group', userId: 'u', groupId: 'g' }),
        ]);
        await check(store, 'second batch');
        // A deleted user's events go, with the only event of their name; the name comes back with a new event.
        const job = await store.erasure.requestDeletion('w', 'gone');
        assert.equal((await finished(store, 'w', job.id)).status, 'done');
        all.splice(
          all.findIndex((e) => e.messageId === 'gone'),
          1,
        );
        await check(store, 'after a deletion');
        await store.erasure.purgeDeleted();
        await load(store, [
          event('w', 'back', { event: 'only gone', userId: 'u' }),
          event('w', 'purged', { event: 'after purge', type: 'screen', userId: 'u' }),
        ]);
        await check(store, 'after a purge');
      } finally {
        await store.close();
      }
      store = await engine.openStore(dir);
      try {
        await check(store, 'reopened');
        await load(store, [
          event('w', 'again', { event: 'reopened', userId: 'u' }),
          event('w', 'aa', { event: 'a', userId: 'u' }),
        ]);
        await check(store, 'reopened, then loaded');
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('listEvents counts only when asked: total is null without count unless a first page tells it', () =>
    withStore(async (store) => {
      await store.sink.load(logBatch(1, listingEvents('w')));
      const page = (q: Partial<EventQuery>) => store.events.listEvents('w', query(q));
      const first = await page({ limit: 4, count: false });
      assert.deepEqual([ids(first), first.total], [['m4', 'm3', 'm1', 'm6'], null]);
      const rest = await page({ limit: 4, count: false, after: first.next ?? undefined });
      assert.deepEqual([ids(rest), rest.total, rest.next], [['m5', 'm2'], null, null]);
      const counted = await page({ limit: 4, after: first.next ?? undefined });
      assert.deepEqual([ids(counted), counted.total], [['m5', 'm2'], 6]);
      const whole = await page({ limit: 10, count: false });
      assert.deepEqual([whole.results.length, whole.total, whole.next], [6, 6, null]);
      const past = await page({ limit: 10, after: { value: at(99).getTime() * 1000, id: '' } });
      assert.deepEqual([past.results, past.total, past.next], [[], 6, null]);
    }));

  test('exportEvents hands over every matching event once as an NDJSON line of its JSON', () =>
    withStore(async (store) => {
      const rich = event('w', 'rich', {
        userId: 'u2',
        anonymousId: 'a "quoted" \\ id',
        originalTimestamp: at(1.5),
        sentAt: at(2.25),
        receivedAt: at(3.125),
        properties: {
          s: 'ü € 😀 \n \u0001',
          n: 1.5,
          big: 12345678901234,
          list: [1, 'a', null],
          nested: { t: true },
        },
        context: { ip: '10.0.0.1', library: { name: 'x' } },
        integrations: { All: false },
      });
      const mine = [...listingEvents('w'), rich];
      await store.sink.load(logBatch(1, [...mine, ...listingEvents('other')]));
      const exported = async (filter: Partial<EventQuery>) => {
        let text = '';
        const n = await store.events.exportEvents(
          'w',
          { json: [], ...filter },
          (lines) => {
            assert.ok(lines.endsWith('\n'), 'whole lines');
            text += lines;
            return true;
          },
          60_000,
        );
        const events = text
          .split('\n')
          .slice(0, -1)
          .map((l) => JSON.parse(l) as { messageId: string });
        assert.equal(events.length, n);
        return events.sort((a, b) => (a.messageId < b.messageId ? -1 : 1));
      };
      const asJson = (events: CanonicalEvent[]) =>
        events
          .map((e) => JSON.parse(JSON.stringify(e)) as { messageId: string })
          .sort((a, b) => (a.messageId < b.messageId ? -1 : 1));
      assert.deepEqual(await exported({}), asJson(mine), 'all, as JSON.stringify writes them');
      assert.deepEqual(
        (await exported({ userId: 'u2' })).map((e) => e.messageId),
        ['m5', 'm6', 'rich'],
        'filtered like listEvents',
      );
      assert.deepEqual(await exported({ userId: 'u2', event: 'gamma' }), [], 'no match: no line');
      let shaped = '';
      await store.events.exportEvents(
        'w',
        { json: [], messageId: 'rich' },
        (lines) => {
          shaped += lines;
          return true;
        },
        60_000,
        [
          ['uuid', 'messageId'],
          ['parsedAt', 'receivedAt'],
          ['properties', 'properties'],
        ],
      );
      assert.equal(
        shaped,
        `${JSON.stringify({ uuid: 'rich', parsedAt: rich.receivedAt, properties: rich.properties })}\n`,
        'a shape names the fields, in its order',
      );
    }));

  for (const c of jsonFilterCases()) {
    test(`JSON filter: ${c.name}`, () =>
      withStore(async (store) => {
        await store.sink.load(logBatch(1, [...c.events('w'), ...c.events('other')]));
        for (const [json, expected] of c.cases) {
          const page = await store.events.listEvents('w', query({ json }));
          assert.deepEqual(ids(page), expected, JSON.stringify(json));
          assert.equal(page.total, expected.length, JSON.stringify(json));
        }
      }));
  }

  test('listRejected lists the workspace rejections newest first, paged, with their total', () =>
    withStore(async (store) => {
      const r1 = rejection('w', 'r1', { receivedAt: at(1), messageId: 'x1' });
      const r2 = rejection('w', 'r2', { receivedAt: at(3), payload: '{"n":"ü \\" quote"}' });
      const r3 = rejection('w', 'r3', {
        receivedAt: at(2),
        code: 'INTAKE_ERR_MISSING_EVENT_NAME',
        reason: 'x',
      });
      await store.sink.load(logBatch(1, [], [r1, r2, rejection('other', 'o1', { receivedAt: at(9) })]));
      await store.sink.load(logBatch(2, [event('w', 'e')], [r3]));
      assert.deepEqual(await store.events.listRejected('w', { limit: 10, offset: 0 }), {
        results: [r2, r3, r1],
        total: 3,
      });
      assert.deepEqual(await store.events.listRejected('w', { limit: 1, offset: 1 }), {
        results: [r3],
        total: 3,
      });
      assert.deepEqual(await store.events.listRejected('w', { limit: 5, offset: 3 }), {
        results: [],
        total: 3,
      });
      assert.deepEqual(await store.events.listRejected('none', { limit: 5, offset: 0 }), {
        results: [],
        total: 0,
      });
    }));
}
