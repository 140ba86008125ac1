// Bento POST /v1/batch/events: events as tracks and identifies, the special $ events, idempotent purchases,
// {results, failed}, Basic publishable:secret auth, and the round trip through GET /events.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { allEvents, bearer, KEYS, startTestApp, type TestApp } from '../helpers.ts';

let t: TestApp;
before(async () => {
  t = await startTestApp();
});
after(() => t.close());

const basicPair = (user: string, pass: string) =>
  `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
// Bento SDKs send publishable key as user and secret key as password; Intake's write key may be either.
const AUTH = basicPair('some-publishable-key', KEYS.write);

const post = (events: unknown, authorization = AUTH) =>
  t.app.inject({
    method: 'POST',
    url: '/v1/batch/events',
    headers: { authorization, 'content-type': 'application/json' },
    payload: JSON.stringify({ events }),
  });

const byUser = (email: string) => allEvents(t.app, KEYS.read, `userId=${encodeURIComponent(email)}`);

test('a plain event is a track for the email user; fields become an identify, details the properties', async () => {
  const res = await post([
    {
      type: '$completed_onboarding',
      email: 'Ada@Example.com',
      fields: { first_name: 'Ada', plan: 'pro' },
      details: { step: { name: 'final', n: 3 } },
      date: '2024-05-01T12:00:00.000Z',
    },
    { type: 'page_view', email: 'ada@example.com', details: { url: '/pricing' } },
  ]);
  assert.equal(res.statusCode, 200, res.body);
  assert.deepEqual(res.json(), { results: 2, failed: 0 });

  const events = await byUser('ada@example.com');
  assert.equal(events.length, 3);
  const onboarding = events.find((e) => e.event === '$completed_onboarding');
  assert.equal(onboarding?.type, 'track');
  assert.equal(onboarding?.source, 'bento');
  assert.equal(onboarding?.timestamp, '2024-05-01T12:00:00.000Z');
  assert.deepEqual(onboarding?.properties, { step: { name: 'final', n: 3 } });
  const identify = events.find((e) => e.type === 'identify');
  assert.deepEqual(identify?.traits, { first_name: 'Ada', plan: 'pro', email: 'ada@example.com' });
  assert.equal(identify?.timestamp, '2024-05-01T12:00:00.000Z');
  const pv = events.find((e) => e.event === 'page_view');
  assert.deepEqual(pv?.properties, { url: '/pricing' });
});

test('$update_fields is an identify only; $subscribe/$unsubscribe set traits.subscribed beside the track', async () => {
  const res = await post([
    { type: '$update_fields', email: 'grace@example.com', fields: { company: 'Navy' } },
    { type: '$subscribe', email: 'grace@example.com' },
    { type: '$unsubscribe', email: 'linus@example.com' },
  ]);
  assert.deepEqual(res.json(), { results: 3, failed: 0 });
  const grace = await byUser('grace@example.com');
  const identifies = grace.filter((e) => e.type === 'identify').map((e) => e.traits);
  assert.deepEqual(
    identifies.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    [
      { company: 'Navy', email: 'grace@example.com' },
      { email: 'grace@example.com', subscribed: true },
    ],
  );
  assert.deepEqual(
    grace.filter((e) => e.type === 'track').map((e) => e.event),
    ['$subscribe'],
    '$update_fields makes no track',
  );
  const linus = await byUser('linus@example.com');
  assert.deepEqual(linus.find((e) => e.type === 'identify')?.traits, {
    email: 'linus@example.com',
    subscribed: false,
  });
  assert.equal(linus.find((e) => e.type === 'track')?.event, '$unsubscribe');
});

test('$tag and $remove_tag carry tags_added / tags_removed traits; without details.tag the item fails', async () => {
  const res = await post([
    { type: '$tag', email: 'tags@example.com', details: { tag: 'vip' } },
    { type: '$remove_tag', email: 'tags@example.com', details: { tag: 'trial' } },
    { type: '$tag', email: 'tags@example.com' },
  ]);
  assert.deepEqual(res.json(), { results: 2, failed: 1 });
  const events = await byUser('tags@example.com');
  const traits = events.filter((e) => e.type === 'identify').map((e) => e.traits as Record<string, unknown>);
  assert.ok(traits.some((tr) => JSON.stringify(tr.tags_added) === '["vip"]'));
  assert.ok(traits.some((tr) => JSON.stringify(tr.tags_removed) === '["trial"]'));
  assert.equal(events.filter((e) => e.type === 'track').length, 2);
});

test('$purchase needs unique.key and value.amount/currency, and the unique key makes it idempotent', async () => {
  const purchase = {
    type: '$purchase',
    email: 'buyer@example.com',
    details: { unique: { key: 'order-1001' }, value: { amount: 4900, currency: 'USD' }, cart: { items: 2 } },
  };
  const first = await post([purchase]);
  assert.deepEqual(first.json(), { results: 1, failed: 0 });
  // A retry (same email, same key; email case differs) is recorded as a duplicate, not a second sale.
  const retry = await post([{ ...purchase, email: 'BUYER@example.com' }]);
  assert.deepEqual(retry.json(), { results: 1, failed: 0 });
  const bad = await post([
    { type: '$purchase', email: 'buyer@example.com', details: { value: { amount: 1, currency: 'USD' } } },
    {
      type: '$purchase',
      email: 'buyer@example.com',
      details: { unique: { key: 'k2' }, value: { amount: '1' } },
    },
  ]);
  assert.deepEqual(bad.json(), { results: 0, failed: 2 });

  const purchases = (await byUser('buyer@example.com')).filter((e) => e.event === '$purchase');
  assert.equal(purchases.length, 1, 'stored exactly once');
  const stored = purchases[0] as { properties: Record<string, unknown> };
  assert.deepEqual(stored.properties.value, { amount: 4900, currency: 'USD' });

  const rejected = await t.app.inject({
    method: 'GET',
    url: '/rejected?limit=100',
    headers: { authorization: bearer(KEYS.read) },
  });
  const reasons = (rejected.json().results as { reason: string; source: string }[])
    .filter((r) => r.source === 'bento')
    .map((r) => r.reason);
  assert.ok(
    reasons.some((r) => /unique\.key/.test(r)),
    'missing unique key named',
  );
  assert.ok(
    reasons.some((r) => /value\.amount/.test(r)),
    'missing amount named',
  );
});

test('invalid events are counted as failed; the batch must hold 1 to 1000 events', async () => {
  const res = await post([
    { type: 'x' },
    { email: 'no-type@example.com' },
    'nope',
    { type: 'ok', email: 'fine@example.com' },
  ]);
  assert.deepEqual(res.json(), { results: 1, failed: 3 });
  const empty = await post([]);
  assert.equal(empty.statusCode, 400);
  assert.equal(empty.json().code, 'INTAKE_ERR_INVALID_BODY');
  const tooMany = await post(Array.from({ length: 1001 }, () => ({ type: 't', email: 'a@b.c' })));
  assert.equal(tooMany.statusCode, 400);
  assert.equal(tooMany.json().code, 'INTAKE_ERR_TOO_MANY_EVENTS');
});

test('the write key works as either half of Basic auth; an unknown pair is a 401', async () => {
  const asUser = await post(
    [{ type: 'auth-user', email: 'auth@example.com' }],
    basicPair(KEYS.write, 'whatever'),
  );
  assert.equal(asUser.statusCode, 200);
  const unknown = await post([{ type: 'x', email: 'a@b.c' }], basicPair('pub', 'secret'));
  assert.equal(unknown.statusCode, 401);
  assert.equal(unknown.json().code, 'INTAKE_ERR_UNAUTHORIZED');
});
