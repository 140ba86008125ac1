// The data dictionary over HTTP on the real engine: names, volumes, paths, types, shares and examples exact on
// handmade events, traits of identify and group calls, paging and filters, and the rule after a deletion (the
// deleted events' days recomputed, their paths' counts and examples taken out, a name left with none gone).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { basic, bearer, KEYS, startTestApp, type TestApp } from '../helpers.ts';

const DAY1 = new Date('2026-03-01T10:00:00.000Z');
const DAY2 = new Date('2026-03-02T09:30:00.000Z');
let now = DAY1;
let t: TestApp;
before(async () => {
  t = await startTestApp({ now: () => now });
});
after(() => t.close());

async function batch(items: Array<Record<string, unknown>>): Promise<void> {
  const r = await t.app.inject({
    method: 'POST',
    url: '/v1/batch',
    headers: { authorization: basic(KEYS.write), 'content-type': 'application/json' },
    payload: { batch: items },
  });
  assert.equal(r.statusCode, 200, r.body);
  assert.equal(r.json().accepted, items.length, r.body);
}

async function get(url: string, status = 200): Promise<Record<string, unknown>> {
  const r = await t.app.inject({ method: 'GET', url, headers: { authorization: bearer(KEYS.read) } });
  assert.equal(r.statusCode, status, r.body);
  return r.json();
}

const path = (d: Record<string, unknown>, p: string) =>
  (d.properties as Array<Record<string, unknown>>).find((x) => x.path === p);

test('names, volume per day, and every property path with its types, share and examples', async () => {
  now = DAY1;
  await batch([
    {
      type: 'track',
      event: 'Order Completed',
      userId: 'u1',
      properties: {
        total: 42,
        currency: 'USD',
        items: [
          { sku: 'a', price: 1.5 },
          { sku: 'b', price: 2 },
        ],
        coupon: null,
      },
    },
    {
      type: 'track',
      event: 'Order Completed',
      userId: 'u2',
      properties: { total: 9.99, currency: 'EUR', items: [] },
    },
    { type: 'track', event: 'Order Completed', userId: 'u1', properties: { total: '12', currency: 'USD' } },
    { type: 'page', name: 'Home', userId: 'u1', properties: { path: '/' } },
    { type: 'identify', userId: 'u1', traits: { email: 'a@x.io', plan: 'pro', address: { city: 'Paris' } } },
    { type: 'group', userId: 'u1', groupId: 'g1', traits: { name: 'Acme', employees: 12 } },
  ]);
  now = DAY2;
  await batch([
    { type: 'track', event: 'Order Completed', userId: 'u3', properties: { total: 5 } },
    { type: 'track', event: 'Signed Up', userId: 'u3', properties: { 'plan.name': 'x' } },
  ]);

  const list = await get('/schema/events');
  assert.equal(list.total, 3);
  assert.deepEqual(list.results, [
    {
      type: 'page',
      name: 'Home',
      count: 1,
      firstSeen: DAY1.toISOString(),
      lastSeen: DAY1.toISOString(),
      volume: [{ day: '2026-03-01', count: 1 }],
    },
    {
      type: 'track',
      name: 'Order Completed',
      count: 4,
      firstSeen: DAY1.toISOString(),
      lastSeen: DAY2.toISOString(),
      volume: [
        { day: '2026-03-01', count: 3 },
        { day: '2026-03-02', count: 1 },
      ],
    },
    {
      type: 'track',
      name: 'Signed Up',
      count: 1,
      firstSeen: DAY2.toISOString(),
      lastSeen: DAY2.toISOString(),
      volume: [{ day: '2026-03-02', count: 1 }],
    },
  ]);

  const order = await get('/schema/events/Order%20Completed');
  assert.equal(order.count, 4);
  const rows = (order.properties as Array<Record<string, unknown>>).map(
    ({ firstSeen: _f, lastSeen: _l, ...p }) => p,
  );
  assert.deepEqual(rows, [
    { path: 'coupon', count: 1, share: 0.25, types: { null: 1 }, examples: [] },
    { path: 'currency', count: 3, share: 0.75, types: { string: 3 }, examples: ['USD', 'EUR'] },
    { path: 'items', count: 2, share: 0.5, types: { array: 2 }, examples: [] },
    { path: 'items[]', count: 1, share: 0.25, types: { object: 1 }, examples: [] },
    { path: 'items[].price', count: 1, share: 0.25, types: { integer: 1, number: 1 }, examples: [1.5, 2] },
    { path: 'items[].sku', count: 1, share: 0.25, types: { string: 1 }, examples: ['a', 'b'] },
    {
      path: 'total',
      count: 4,
      share: 1,
      types: { string: 1, integer: 2, number: 1 },
      examples: [42, 9.99, '12'],
    },
  ]);
  assert.equal(path(order, 'total')?.firstSeen, DAY1.toISOString());
  assert.equal(path(order, 'total')?.lastSeen, DAY2.toISOString());
  assert.equal(path(order, 'coupon')?.lastSeen, DAY1.toISOString());

  // A key with a dot is quoted in its path; a page is asked for by type.
  const signed = await get('/schema/events/Signed%20Up');
  assert.deepEqual(
    (signed.properties as Array<Record<string, unknown>>).map((p) => p.path),
    ['["plan.name"]'],
  );
  const home = await get('/schema/events/Home?type=page');
  assert.equal(home.count, 1);
  await get('/schema/events/Home', 404);

  const identify = await get('/schema/traits');
  assert.equal(identify.calls, 1);
  assert.deepEqual(
    (identify.results as Array<Record<string, unknown>>).map((p) => [p.path, p.types, p.share, p.examples]),
    [
      ['address', { object: 1 }, 1, []],
      ['address.city', { string: 1 }, 1, ['Paris']],
      ['email', { string: 1 }, 1, ['a@x.io']],
      ['plan', { string: 1 }, 1, ['pro']],
    ],
  );
  const group = await get('/schema/traits?type=group');
  assert.deepEqual(
    (group.results as Array<Record<string, unknown>>).map((p) => [p.path, p.types, p.examples]),
    [
      ['employees', { integer: 1 }, [12]],
      ['name', { string: 1 }, ['Acme']],
    ],
  );
});

test('filters and paging', async () => {
  const tracks = await get('/schema/events?type=track&orderBy=count&limit=1');
  assert.equal(tracks.total, 2);
  assert.deepEqual(
    (tracks.results as Array<Record<string, unknown>>).map((n) => n.name),
    ['Order Completed'],
  );
  const next = await get('/schema/events?type=track&orderBy=count&limit=1&offset=1');
  assert.deepEqual(
    (next.results as Array<Record<string, unknown>>).map((n) => n.name),
    ['Signed Up'],
  );
  const past = await get('/schema/events?type=track&offset=5');
  assert.deepEqual([past.results, past.total], [[], 2]);
  const search = await get('/schema/events?search=order');
  assert.deepEqual(
    (search.results as Array<Record<string, unknown>>).map((n) => n.name),
    ['Order Completed'],
  );
  const recent = await get(`/schema/events?seenSince=${encodeURIComponent('2026-03-02T00:00:00Z')}`);
  assert.deepEqual(
    (recent.results as Array<Record<string, unknown>>).map((n) => n.name),
    ['Order Completed', 'Signed Up'],
  );
  // volume covers `days` up to now: 1 day is today's only.
  const oneDay = await get('/schema/events?search=order&days=1');
  assert.deepEqual((oneDay.results as Array<Record<string, unknown>>)[0]?.volume, [
    { day: '2026-03-02', count: 1 },
  ]);
  const traits = await get('/schema/traits?search=ADDR&limit=1&offset=1');
  assert.deepEqual(
    [(traits.results as Array<Record<string, unknown>>).map((p) => p.path), traits.total],
    [['address.city'], 2],
  );
  await get('/schema/events?seenSince=yesterday', 400);
  await get('/schema/events?type=alias', 400);
});

async function deleteUser(id: string): Promise<void> {
  const r = await t.app.inject({
    method: 'DELETE',
    url: `/users/${id}`,
    headers: { authorization: bearer(KEYS.admin) },
  });
  assert.equal(r.statusCode, 202, r.body);
  const job = r.json().id as string;
  for (let i = 0; i < 200; i++) {
    const s = await get(`/deletions/${job}`);
    if (s.status === 'done') return;
    assert.notEqual(s.status, 'failed', JSON.stringify(s));
    await new Promise((res) => setTimeout(res, 25));
  }
  assert.fail('deletion did not finish');
}

test("after deletions: days recomputed, paths' counts and examples taken out, a name with no event left gone", async () => {
  await deleteUser('u3');
  await deleteUser('u2');
  const list = await get('/schema/events?type=track');
  assert.deepEqual(
    (list.results as Array<Record<string, unknown>>).map((n) => [n.name, n.count, n.volume]),
    [['Order Completed', 2, [{ day: '2026-03-01', count: 2 }]]],
    'Signed Up was only u3 s',
  );
  await get('/schema/events/Signed%20Up', 404);
  const order = await get('/schema/events/Order%20Completed');
  assert.equal(order.lastSeen, DAY1.toISOString(), 'the day rows were recomputed');
  const rows = (order.properties as Array<Record<string, unknown>>).map((p) => [
    p.path,
    p.count,
    p.types,
    p.examples,
  ]);
  assert.deepEqual(rows, [
    ['coupon', 1, { null: 1 }, []],
    ['currency', 2, { string: 2 }, ['USD']],
    ['items', 1, { array: 1 }, []],
    ['items[]', 1, { object: 1 }, []],
    ['items[].price', 1, { integer: 1, number: 1 }, [1.5, 2]],
    ['items[].sku', 1, { string: 1 }, ['a', 'b']],
    ['total', 2, { string: 1, integer: 1 }, [42, '12']],
  ]);
  // A purge rewrites the file (the deleted bytes go): the dictionary is the same after it.
  const before = await get('/schema/events/Order%20Completed');
  const purge = await t.app.inject({
    method: 'POST',
    url: '/admin/purge',
    headers: { authorization: bearer(KEYS.admin) },
  });
  assert.equal(purge.statusCode, 200, purge.body);
  assert.deepEqual(await get('/schema/events/Order%20Completed'), before);
  // New events fill the examples back in.
  await batch([
    { type: 'track', event: 'Order Completed', userId: 'u4', properties: { total: 7, currency: 'GBP' } },
  ]);
  const again = await get('/schema/events/Order%20Completed');
  assert.deepEqual(path(again, 'currency')?.examples, ['USD', 'GBP']);
  assert.deepEqual(path(again, 'total')?.examples, [42, '12', 7]);
});

test('each workspace sees its own dictionary', async () => {
  const r = await t.app.inject({
    method: 'POST',
    url: '/admin/workspaces',
    headers: { authorization: bearer(KEYS.admin), 'content-type': 'application/json' },
    payload: { name: 'other-dictionary' },
  });
  assert.equal(r.statusCode, 201, r.body);
  const read = (r.json().keys as Array<{ key: { kind: string }; secret: string }>).find(
    (k) => k.key.kind === 'read',
  );
  const list = await t.app.inject({
    method: 'GET',
    url: '/schema/events',
    headers: { authorization: bearer(read?.secret ?? '') },
  });
  assert.deepEqual(list.json().results, []);
});
