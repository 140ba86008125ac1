// Biteral POST /events (X-API-Key): one typed event or an array of at most 100, the required fields of each
// type answered as fieldErrors, and the same path still serving Trench's {events: [...]}.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { allEvents, bearer, KEYS, startTestApp, type TestApp } from '../helpers.ts';

let t: TestApp;
before(async () => {
  t = await startTestApp();
});
after(() => t.close());

const post = (payload: unknown, headers: Record<string, string> = { 'x-api-key': KEYS.write }) =>
  t.app.inject({
    method: 'POST',
    url: '/events',
    headers: { 'content-type': 'application/json', 'x-api-version': '1', ...headers },
    payload: JSON.stringify(payload),
  });

interface FieldError {
  field: string;
  code: string;
  description: string;
}

test("the seed's single event is stored as a track: type the name, customerCode the user, the rest properties", async () => {
  const res = await post({
    type: 'EventSale',
    timestamp: '2025-11-18T07:21:16.527Z',
    customerCode: 'D314K1432',
    productCode: 'N30122',
    quantity: 2,
  });
  assert.equal(res.statusCode, 200, res.body);
  assert.deepEqual(res.json(), { ingested: 1, duplicates: 0, rejected: [] });
  const [e, ...rest] = await allEvents(t.app, KEYS.read, 'userId=D314K1432');
  assert.equal(rest.length, 0);
  assert.equal(e?.type, 'track');
  assert.equal(e?.event, 'EventSale');
  assert.equal(e?.source, 'biteral');
  assert.equal(e?.timestamp, '2025-11-18T07:21:16.527Z');
  assert.deepEqual(e?.properties, { productCode: 'N30122', quantity: 2 });
});

test("the seed's array, and one event of every type with its required fields", async () => {
  const seed = [
    {
      type: 'EventSale',
      timestamp: '2025-11-18T07:21:16.527Z',
      customerCode: 'C-ARR',
      productCode: 'N30122',
    },
    {
      type: 'EventProductViewed',
      timestamp: '2025-11-18T07:18:13.527Z',
      customerCode: 'C-ARR',
      productCode: 'N30122',
    },
  ];
  const p = { productCode: 'P1' };
  const all = [
    { type: 'EventAddedToCart', ...p },
    { type: 'EventRemovedFromCart', ...p, quantity: 3 },
    { type: 'EventAddedToWishlist', ...p },
    { type: 'EventRemovedFromWishlist', ...p },
    { type: 'EventReturnRequested', ...p },
    { type: 'EventStockAlertRequested', ...p },
    { type: 'EventReviewWritten', ...p, review: 'Great shoes' },
    { type: 'EventCategoryViewed', categoryCode: 'MC418292' },
    { type: 'EventBrandViewed', brandCode: 'OW142302' },
    { type: 'EventSearch', query: 'zapatillas' },
    { type: 'EventFilterApplied', filterName: 'color', filterValue: 'rojo' },
    { type: 'EventOrderApplied', orderDescription: 'price', orderDirection: 'desc' },
    { type: 'EventCouponApplied' },
  ].map((e) => ({ ...e, customerCode: 'C-ALL' }));
  const res = await post([...seed, ...all]);
  assert.equal(res.statusCode, 200, res.body);
  assert.deepEqual(res.json(), { ingested: 15, duplicates: 0, rejected: [] });

  const stored = await allEvents(t.app, KEYS.read, 'userId=C-ALL');
  assert.deepEqual(stored.map((e) => e.event).sort(), all.map((e) => e.type).sort());
  const props = (type: string) => stored.find((e) => e.event === type)?.properties;
  assert.deepEqual(props('EventAddedToCart'), { productCode: 'P1', quantity: 1 }, 'quantity defaults to 1');
  assert.deepEqual(props('EventRemovedFromCart'), { productCode: 'P1', quantity: 3 });
  assert.deepEqual(props('EventFilterApplied'), { filterName: 'color', filterValue: 'rojo' });
  assert.deepEqual(props('EventCouponApplied'), {});
  assert.equal((await allEvents(t.app, KEYS.read, 'userId=C-ARR')).length, 2);
});

test('missing or invalid fields refuse the whole request with fieldErrors, and nothing is stored', async () => {
  const res = await post([
    { type: 'EventSale', customerCode: 'C-BAD', productCode: 'ok' },
    { type: 'EventSale', customerCode: 'C-BAD' },
    { type: 'EventFilterApplied', customerCode: 'C-BAD', filterName: 'color' },
    { type: 'EventOrderApplied', customerCode: 'C-BAD', orderDescription: 'price', orderDirection: 'up' },
    { type: 'EventTeleported', customerCode: 'C-BAD' },
    { type: 'EventSearch', query: 'x' },
    { type: 'EventSale', customerCode: 'C-BAD', productCode: 'p', quantity: 0, timestamp: 'yesterday' },
  ]);
  assert.equal(res.statusCode, 400, res.body);
  const body = res.json() as { statusCode: number; code: string; message: string; fieldErrors: FieldError[] };
  assert.equal(body.statusCode, 400);
  assert.equal(body.code, 'INTAKE_ERR_INVALID_EVENT');
  const got = body.fieldErrors.map((e) => `${e.field}:${e.code}`).sort();
  assert.deepEqual(got, [
    '[1].productCode:required',
    '[2].filterValue:required',
    '[3].orderDirection:invalid_value',
    '[4].type:invalid_value',
    '[5].customerCode:required',
    '[6].quantity:invalid_value',
    '[6].timestamp:invalid_value',
  ]);
  for (const e of body.fieldErrors) assert.ok(e.description.length > 0);
  assert.equal((await allEvents(t.app, KEYS.read, 'userId=C-BAD')).length, 0, 'nothing stored');

  const single = await post({ type: 'EventCategoryViewed', customerCode: 'C-BAD' });
  assert.equal(single.statusCode, 400);
  assert.equal(single.json().code, 'INTAKE_ERR_MISSING_FIELD');
  assert.deepEqual(single.json().fieldErrors, [
    {
      field: 'categoryCode',
      code: 'required',
      description: 'categoryCode is required for EventCategoryViewed',
    },
  ]);
  const noType = await post({ customerCode: 'C-BAD', productCode: 'x' });
  assert.equal(noType.statusCode, 400);
  assert.deepEqual(
    noType.json().fieldErrors.map((e: FieldError) => e.field),
    ['type'],
  );
});

test('an array holds 1 to 100 events', async () => {
  const ev = { type: 'EventCouponApplied', customerCode: 'C-LIMIT' };
  const tooMany = await post(Array.from({ length: 101 }, () => ev));
  assert.equal(tooMany.statusCode, 400);
  assert.equal(tooMany.json().code, 'INTAKE_ERR_TOO_MANY_EVENTS');
  assert.equal(tooMany.json().fieldErrors.length, 1);
  const empty = await post([]);
  assert.equal(empty.statusCode, 400);
  const hundred = await post(Array.from({ length: 100 }, () => ev));
  assert.deepEqual(hundred.json(), { ingested: 100, duplicates: 0, rejected: [] });
});

test('the key goes in X-API-Key; an unknown key is a 401', async () => {
  const res = await post({ type: 'EventCouponApplied', customerCode: 'C' }, { 'x-api-key': 'unknown' });
  assert.equal(res.statusCode, 401);
  assert.equal(res.json().code, 'INTAKE_ERR_UNAUTHORIZED');
});

test('Trench bodies on the same path keep their behaviour and 201 response', async () => {
  const res = await post(
    {
      events: [
        { type: 'track', event: 'UserSignedUp', userId: 'trench-1', messageId: 'tr-1', instanceId: 'org-1' },
        { type: 'identify', userId: 'trench-1', traits: { email: 'john.doe@example.com' } },
        { type: 'bogus', userId: 'trench-1' },
      ],
    },
    { authorization: bearer(KEYS.write) },
  );
  assert.equal(res.statusCode, 201, res.body);
  const body = res.json();
  assert.equal(body.total, 2);
  assert.equal(body.limit, 2);
  assert.equal(body.offset, 0);
  assert.equal(body.duplicates, 0);
  assert.equal(body.results[0].messageId, 'tr-1');
  assert.equal(body.results[0].instanceId, 'org-1');
  assert.equal(body.results[0].source, 'trench');
  assert.equal(body.rejected.length, 1);
  assert.equal(body.rejected[0].index, 2);

  const again = await post(
    { events: [{ type: 'track', event: 'UserSignedUp', userId: 'trench-1', messageId: 'tr-1' }] },
    {
      authorization: bearer(KEYS.write),
    },
  );
  assert.equal(again.statusCode, 201);
  assert.equal(again.json().duplicates, 1);
  assert.equal(again.json().total, 0);
  assert.equal((await allEvents(t.app, KEYS.read, 'userId=trench-1')).length, 2);

  const notArray = await post({ events: {} }, { authorization: bearer(KEYS.write) });
  assert.equal(notArray.statusCode, 400);
  assert.equal(notArray.json().code, 'INTAKE_ERR_INVALID_BODY');
  const scalar = await post('hello', { authorization: bearer(KEYS.write) });
  assert.equal(scalar.statusCode, 400);
  assert.equal(scalar.json().code, 'INTAKE_ERR_INVALID_BODY');
});
