// POST /plans/draft: a plan made from what the data dictionary saw in the last N days accepts those events,
// and flags what differs.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { basic, bearer, KEYS, startTestApp, type TestApp } from '../helpers.ts';

const DAY1 = new Date('2026-05-01T10:00:00.000Z');
const DAY2 = new Date('2026-05-02T12:00:00.000Z');
let now = DAY1;
let t: TestApp;
before(async () => {
  t = await startTestApp({ now: () => now });
});
after(() => t.close());

type Json = Record<string, unknown>;

async function send(items: Json[]): Promise<void> {
  const r = await t.app.inject({
    method: 'POST',
    url: '/v1/batch',
    headers: { authorization: basic(KEYS.write), 'content-type': 'application/json' },
    payload: { batch: items },
  });
  assert.equal(r.statusCode, 200, r.body);
  assert.equal(r.json().accepted, items.length, r.body);
}

async function call(method: 'GET' | 'PUT' | 'POST', url: string, payload?: Json) {
  const r = await t.app.inject({
    method,
    url,
    headers: { authorization: bearer(KEYS.admin), 'content-type': 'application/json' },
    ...(payload ? { payload } : {}),
  });
  return { status: r.statusCode, body: r.json() as Json };
}

const SEEN: Json[] = [
  {
    type: 'track',
    event: 'Order Completed',
    userId: 'u1',
    properties: { total: 42, currency: 'USD', items: [{ sku: 'a' }] },
  },
  { type: 'track', event: 'Order Completed', userId: 'u2', properties: { total: 9.5, currency: 'EUR' } },
  { type: 'page', name: 'Home', userId: 'u1' },
  { type: 'identify', userId: 'u1', traits: { email: 'a@x.io' } },
];

test('the draft holds what was seen in the window, with types, required paths and examples', async () => {
  now = DAY1;
  await send([{ type: 'track', event: 'Old Event', userId: 'u1', properties: { x: 1 } }]);
  now = DAY2;
  await send(SEEN);
  const r = await call('POST', '/plans/draft', { days: 1 });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.since, '2026-05-01T12:00:00.000Z');
  assert.deepEqual(r.body.plan, {
    draft: '2020-12',
    modes: {
      unplannedEvent: 'allow',
      unplannedProperty: 'allow',
      missingRequired: 'allow',
      wrongType: 'allow',
      naming: 'allow',
    },
    events: {
      'Order Completed': {
        properties: {
          type: 'object',
          properties: {
            currency: { type: 'string', examples: ['USD', 'EUR'] },
            items: {
              type: 'array',
              items: { type: 'object', properties: { sku: { type: 'string', examples: ['a'] } } },
            },
            total: { type: 'number', examples: [42, 9.5] },
          },
          required: ['currency', 'total'],
        },
      },
    },
    pages: { Home: { properties: { type: 'object', properties: {} } } },
    identify: {
      traits: {
        type: 'object',
        properties: { email: { type: 'string', examples: ['a@x.io'] } },
        required: ['email'],
      },
    },
  });
  const wide = await call('POST', '/plans/draft', { days: 2 });
  assert.ok(Object.hasOwn(wide.body.plan as Json, 'events'));
  assert.deepEqual(Object.keys((wide.body.plan as { events: Json }).events), [
    'Old Event',
    'Order Completed',
  ]);
  assert.equal((await call('POST', '/plans/draft', { days: 0 })).status, 400);
});

test('put in force, the draft accepts the events it was made from and flags new ones', async () => {
  const draft = (await call('POST', '/plans/draft', { days: 1 })).body.plan as Json;
  assert.equal((await call('PUT', '/plans/current', draft)).status, 200);
  await send(SEEN.map((e, i) => ({ ...e, messageId: `again-${i}` })));
  await send([
    {
      type: 'track',
      event: 'Order Completed',
      userId: 'u3',
      messageId: 'new',
      properties: { total: 1, coupon: 'X' },
    },
  ]);
  const events = await t.app.inject({
    method: 'GET',
    url: '/events?violations=true&limit=100',
    headers: { authorization: bearer(KEYS.read) },
  });
  assert.deepEqual(
    (events.json().results as Json[]).map((e) => [
      e.messageId,
      ((e.context as Json).violationErrors as Json[]).map((v) => v.message),
    ]),
    [['new', ['properties.currency is required', 'properties.coupon is not in the plan']]],
  );
});
