// The Segment HTTP API's transport details: where keys come from, encodings, CORS, batch defaults, time and IP.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { allEvents, basic, KEYS, startTestApp, type TestApp } from '../helpers.ts';

const NOW = new Date('2026-06-01T12:00:00.000Z');
let t: TestApp;
before(async () => {
  t = await startTestApp({ now: () => NOW, trustProxy: ['10.0.0.1'] });
});
after(() => t.close());

const stored = async (messageId: string) => {
  const found = await allEvents(t.app, KEYS.read, `messageId=${messageId}`);
  assert.equal(found.length, 1, `${messageId} stored once`);
  return found[0] as Record<string, unknown>;
};

test('the write key is accepted as Basic user, Bearer, X-Write-Key and body writeKey', async () => {
  const ways: [string, Record<string, string>, Record<string, unknown>][] = [
    ['basic', { authorization: basic(KEYS.write) }, {}],
    ['bearer', { authorization: `Bearer ${KEYS.write}` }, {}],
    ['header', { 'x-write-key': KEYS.write }, {}],
    ['body', {}, { writeKey: KEYS.write }],
  ];
  for (const [name, headers, extra] of ways) {
    const r = await t.app.inject({
      method: 'POST',
      url: '/v1/track',
      headers: { ...headers, 'content-type': 'application/json' },
      payload: { userId: 'k', event: 'Key', messageId: `key-${name}`, ...extra },
    });
    assert.equal(r.statusCode, 200, `${name}: ${r.body}`);
    await stored(`key-${name}`);
  }
});

test('text/plain and gzip bodies are accepted on every path, short ones included', async () => {
  const body = { userId: 'p', name: 'Home', messageId: 'plain-1', writeKey: KEYS.write };
  const plain = await t.app.inject({
    method: 'POST',
    url: '/v1/p',
    headers: { 'content-type': 'text/plain' },
    payload: JSON.stringify(body),
  });
  assert.equal(plain.statusCode, 200, plain.body);
  assert.equal((await stored('plain-1')).type, 'page');

  const gz = gzipSync(
    JSON.stringify({ batch: [{ type: 'identify', userId: 'g', traits: { a: 1 }, messageId: 'gz-1' }] }),
  );
  const zipped = await t.app.inject({
    method: 'POST',
    url: '/v1/b',
    headers: {
      authorization: basic(KEYS.write),
      'content-encoding': 'gzip',
      'content-type': 'application/json',
    },
    payload: gz,
  });
  assert.equal(zipped.statusCode, 200, zipped.body);
  assert.deepEqual((await stored('gz-1')).traits, { a: 1 });

  for (const [path, type] of [
    ['/v1/t', 'track'],
    ['/v1/i', 'identify'],
    ['/v1/s', 'screen'],
    ['/v1/g', 'group'],
    ['/v1/a', 'alias'],
  ]) {
    const r = await t.app.inject({
      method: 'POST',
      url: path as string,
      headers: { authorization: basic(KEYS.write) },
      payload: {
        userId: 'short',
        previousId: 'prev',
        groupId: 'grp',
        event: 'E',
        messageId: `short-${type}`,
      },
    });
    assert.equal(r.statusCode, 200, `${path}: ${r.body}`);
    assert.equal((await stored(`short-${type}`)).type, type);
  }
});

test('CORS: a browser preflight is answered and the origin is allowed', async () => {
  const pre = await t.app.inject({
    method: 'OPTIONS',
    url: '/v1/t',
    headers: {
      origin: 'https://shop.example',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type',
    },
  });
  assert.equal(pre.statusCode, 204);
  assert.equal(pre.headers['access-control-allow-origin'], 'https://shop.example');
  assert.equal(pre.headers['access-control-allow-methods'], 'GET, POST, PUT, DELETE, OPTIONS');
  assert.equal(pre.headers['access-control-allow-headers'], 'content-type');
  assert.equal(pre.headers['access-control-max-age'], '86400');
  assert.equal(pre.headers.vary, 'Origin, Access-Control-Request-Headers');
  assert.equal(pre.headers['content-length'], '0');
  // Any path: the browser asks before it knows whether the route exists.
  const anyPath = await t.app.inject({
    method: 'OPTIONS',
    url: '/nope',
    headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST' },
  });
  assert.equal(anyPath.statusCode, 204);
  assert.equal(anyPath.headers['access-control-allow-headers'], undefined);
  // Not a preflight without its Origin and Access-Control-Request-Method.
  const bare = await t.app.inject({
    method: 'OPTIONS',
    url: '/v1/t',
    headers: { origin: 'https://shop.example' },
  });
  assert.equal(bare.statusCode, 400);
  assert.equal(bare.body, 'Invalid Preflight Request');
  const r = await t.app.inject({
    method: 'POST',
    url: '/v1/t',
    headers: { origin: 'https://shop.example', 'content-type': 'text/plain' },
    payload: JSON.stringify({ userId: 'c', event: 'Cors', writeKey: KEYS.write, messageId: 'cors-1' }),
  });
  assert.equal(r.statusCode, 200);
  assert.equal(r.headers['access-control-allow-origin'], 'https://shop.example');
  assert.equal(r.headers['access-control-expose-headers'], 'Retry-After');
  assert.equal(r.headers.vary, 'Origin');
  assert.equal(r.headers['content-type'], 'application/json; charset=utf-8');
  assert.deepEqual(r.json(), { success: true });
});

test('batch-level context and integrations are merged into each item; the item wins', async () => {
  const r = await t.app.inject({
    method: 'POST',
    url: '/v1/batch',
    headers: { authorization: basic(KEYS.write) },
    payload: {
      context: { library: { name: 'lib' }, locale: 'fr-FR' },
      integrations: { All: false },
      batch: [
        { type: 'track', event: 'A', userId: 'm', messageId: 'merge-1' },
        {
          type: 'track',
          event: 'B',
          userId: 'm',
          messageId: 'merge-2',
          context: { locale: 'de-DE' },
          integrations: { Mixpanel: true },
        },
      ],
    },
  });
  assert.equal(r.statusCode, 200);
  const one = await stored('merge-1');
  assert.deepEqual(one.context, { library: { name: 'lib' }, locale: 'fr-FR', ip: '127.0.0.1' });
  assert.deepEqual(one.integrations, { All: false });
  const two = await stored('merge-2');
  assert.deepEqual(two.context, { library: { name: 'lib' }, locale: 'de-DE', ip: '127.0.0.1' });
  assert.deepEqual(two.integrations, { All: false, Mixpanel: true });
});

test('timestamps: skew corrected from sentAt and originalTimestamp; else the client timestamp; else now', async () => {
  // The client's clock is 1 hour fast; the event happened 10 s before it was sent.
  const r = await t.app.inject({
    method: 'POST',
    url: '/v1/batch',
    headers: { authorization: basic(KEYS.write) },
    payload: {
      sentAt: '2026-06-01T13:00:00.000Z',
      batch: [
        {
          type: 'track',
          event: 'Skewed',
          userId: 's',
          messageId: 'skew-1',
          timestamp: '2026-06-01T12:59:50.000Z',
        },
        {
          type: 'track',
          event: 'Own',
          userId: 's',
          messageId: 'skew-2',
          originalTimestamp: '2026-06-01T12:59:00.000Z',
          sentAt: '2026-06-01T12:59:30.000Z',
        },
      ],
    },
  });
  assert.equal(r.statusCode, 200);
  const skewed = await stored('skew-1');
  assert.equal(skewed.timestamp, '2026-06-01T11:59:50.000Z');
  assert.equal(skewed.originalTimestamp, '2026-06-01T12:59:50.000Z');
  assert.equal(skewed.sentAt, '2026-06-01T13:00:00.000Z');
  assert.equal(skewed.receivedAt, NOW.toISOString());
  assert.equal((await stored('skew-2')).timestamp, '2026-06-01T11:59:30.000Z');

  await t.app.inject({
    method: 'POST',
    url: '/v1/track',
    headers: { authorization: basic(KEYS.write) },
    payload: { userId: 's', event: 'Client time', messageId: 'skew-3', timestamp: '2020-01-01T00:00:00Z' },
  });
  assert.equal((await stored('skew-3')).timestamp, '2020-01-01T00:00:00.000Z');
  await t.app.inject({
    method: 'POST',
    url: '/v1/track',
    headers: { authorization: basic(KEYS.write) },
    payload: { userId: 's', event: 'No time', messageId: 'skew-4' },
  });
  assert.equal((await stored('skew-4')).timestamp, NOW.toISOString());
});

test('ids: a messageId is assigned when missing, every event gets a UUIDv7 id', async () => {
  const r = await t.app.inject({
    method: 'POST',
    url: '/events',
    headers: { authorization: `Bearer ${KEYS.write}` },
    payload: { events: [{ type: 'track', event: 'NoMsg', userId: 'ids' }] },
  });
  assert.equal(r.statusCode, 201);
  const [e] = await allEvents(t.app, KEYS.read, 'userId=ids');
  assert.match(String(e?.messageId), /^[0-9a-f-]{36}$/);
  assert.match(String(e?.id), /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

test('context.ip: from the socket; the client value wins; X-Forwarded-For only from a trusted proxy', async () => {
  const send = (
    messageId: string,
    headers: Record<string, string>,
    context?: object,
    remoteAddress?: string,
  ) =>
    t.app.inject({
      method: 'POST',
      url: '/v1/track',
      headers: { authorization: basic(KEYS.write), ...headers },
      payload: { userId: 'ip', event: 'Ip', messageId, context },
      remoteAddress,
    });
  await send('ip-1', { 'x-forwarded-for': '203.0.113.9' });
  assert.equal(
    (await stored('ip-1')).context && ((await stored('ip-1')).context as { ip: string }).ip,
    '127.0.0.1',
  );
  await send('ip-2', {}, { ip: '198.51.100.7' });
  assert.equal(((await stored('ip-2')).context as { ip: string }).ip, '198.51.100.7');
  await send('ip-3', { 'x-forwarded-for': '203.0.113.9' }, undefined, '10.0.0.1');
  assert.equal(((await stored('ip-3')).context as { ip: string }).ip, '203.0.113.9');
});
