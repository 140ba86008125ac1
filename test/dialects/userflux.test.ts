// UserFlux POST /event/ingest and /event/ingest/batch: tracks from {userId, anonymousId, name, timestamp (ms),
// properties}, 204 with no body, the 50-event limit, Bearer key, and ?locationEnrichment passed to enrichment.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { allEvents, bearer, KEYS, startTestApp, type TestApp, testGeoReader } from '../helpers.ts';

let t: TestApp;
before(async () => {
  t = await startTestApp({ geo: await testGeoReader(), trustProxy: ['127.0.0.1'] });
});
after(() => t.close());

const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
  t.app.inject({
    method: 'POST',
    url,
    headers: { authorization: bearer(KEYS.write), 'content-type': 'application/json', ...headers },
    payload: JSON.stringify(payload),
  });

test('one event: 204 with no body, stored as a track with its epoch-ms timestamp', async () => {
  const res = await post('/event/ingest', {
    userId: 'uf-user-1',
    anonymousId: 'uf-anon-1',
    name: 'signup',
    timestamp: Date.UTC(2024, 0, 2, 3, 4, 5, 678),
    properties: { referringDomain: 'https://google.com', nested: { a: [1, 2] } },
  });
  assert.equal(res.statusCode, 204, res.body);
  assert.equal(res.body, '');
  const [e, ...rest] = await allEvents(t.app, KEYS.read, 'userId=uf-user-1');
  assert.equal(rest.length, 0);
  assert.equal(e?.type, 'track');
  assert.equal(e?.event, 'signup');
  assert.equal(e?.anonymousId, 'uf-anon-1');
  assert.equal(e?.source, 'userflux');
  assert.equal(e?.timestamp, '2024-01-02T03:04:05.678Z');
  assert.deepEqual(e?.properties, { referringDomain: 'https://google.com', nested: { a: [1, 2] } });
});

test('a batch as the browser SDK sends it (null userId, deviceData) is stored in full', async () => {
  const events = Array.from({ length: 50 }, (_, i) => ({
    timestamp: Date.now() - i,
    userId: null,
    anonymousId: 'uf-batch-anon',
    name: i % 2 ? 'click' : 'page_view',
    properties: { i },
    deviceData: { browser: 'Firefox', platform: 'web' },
  }));
  const res = await post('/event/ingest/batch', { events });
  assert.equal(res.statusCode, 204, res.body);
  assert.equal(res.body, '');
  const stored = await allEvents(t.app, KEYS.read, 'anonymousId=uf-batch-anon');
  assert.equal(stored.length, 50);
  assert.deepEqual(
    stored.map((e) => (e.properties as { i: number }).i).sort((a, b) => a - b),
    [...Array(50).keys()],
  );
  const first = stored[0] as { userId: unknown; context: { deviceData: unknown } };
  assert.equal(first.userId, null);
  assert.deepEqual(first.context.deviceData, { browser: 'Firefox', platform: 'web' });
});

test('more than 50 events is a 400; a single invalid event is a 400 naming the problem', async () => {
  const tooMany = await post('/event/ingest/batch', {
    events: Array.from({ length: 51 }, () => ({ name: 'x', userId: 'u' })),
  });
  assert.equal(tooMany.statusCode, 400);
  assert.equal(tooMany.json().code, 'INTAKE_ERR_TOO_MANY_EVENTS');
  const noName = await post('/event/ingest', { userId: 'u-no-name' });
  assert.equal(noName.statusCode, 400);
  assert.equal(noName.json().code, 'INTAKE_ERR_MISSING_EVENT_NAME');
  const noUser = await post('/event/ingest', { name: 'orphan' });
  assert.equal(noUser.statusCode, 400);
  assert.equal(noUser.json().code, 'INTAKE_ERR_MISSING_ID');
  const badTime = await post('/event/ingest', { name: 'x', userId: 'u', timestamp: 'yesterday' });
  assert.equal(badTime.statusCode, 400);
});

test('the key is a Bearer token; an unknown one is a 401', async () => {
  const res = await post('/event/ingest', { name: 'x', userId: 'u' }, { authorization: bearer('nope') });
  assert.equal(res.statusCode, 401);
  assert.equal(res.json().code, 'INTAKE_ERR_UNAUTHORIZED');
});

test('?locationEnrichment reaches enrichment: true locates, false leaves the location out', async () => {
  const ip = { 'x-forwarded-for': '8.8.8.8' };
  const on = await post(
    '/event/ingest/batch?locationEnrichment=true',
    { events: [{ name: 'geo-on', userId: 'uf-geo' }] },
    ip,
  );
  assert.equal(on.statusCode, 204);
  const off = await post('/event/ingest?locationEnrichment=false', { name: 'geo-off', userId: 'uf-geo' }, ip);
  assert.equal(off.statusCode, 204);
  const events = await allEvents(t.app, KEYS.read, 'userId=uf-geo');
  const ctxOf = (name: string) => events.find((e) => e.event === name)?.context as Record<string, unknown>;
  const loc = ctxOf('geo-on').location as { country?: unknown } | undefined;
  assert.ok(
    loc && typeof loc.country === 'string',
    `location from the request IP: ${JSON.stringify(ctxOf('geo-on'))}`,
  );
  assert.equal(ctxOf('geo-off').location, undefined);
});
