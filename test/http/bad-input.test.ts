// Bad input gets its coded 4xx naming the problem, valid items beside it are kept, and the server keeps serving.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { allEvents, basic, bearer, KEYS, startTestApp, type TestApp } from '../helpers.ts';

let t: TestApp;
before(async () => {
  t = await startTestApp({ bodyLimit: 64 * 1024, eventLimit: 4 * 1024 });
});
after(() => t.close());

type Headers = Record<string, string>;
const write = { authorization: basic(KEYS.write), 'content-type': 'application/json' };

async function expectError(
  res: { statusCode: number; json(): unknown },
  status: number,
  code: string,
  mention?: RegExp,
): Promise<void> {
  assert.equal(res.statusCode, status, JSON.stringify(res.json()));
  const body = res.json() as { statusCode: number; code: string; error: string; message: string };
  assert.equal(body.statusCode, status);
  assert.equal(body.code, code);
  assert.equal(typeof body.error, 'string');
  assert.ok(body.message.length > 0);
  if (mention) assert.match(body.message, mention);
  assert.doesNotMatch(JSON.stringify(body), /at .*\.ts:\d+/, 'no stack trace in the body');
}

const post = (url: string, payload: string | Buffer, headers: Headers = write) =>
  t.app.inject({ method: 'POST', url, headers, payload });

test('malformed JSON is a 400 INTAKE_ERR_INVALID_JSON', async () => {
  await expectError(await post('/v1/batch', '{"batch": [}'), 400, 'INTAKE_ERR_INVALID_JSON', /JSON/);
  await expectError(await post('/v1/track', 'not json at all'), 400, 'INTAKE_ERR_INVALID_JSON');
});

test('content encodings: corrupt gzip is 400, an unknown encoding is 415, a gzip bomb is 413', async () => {
  await expectError(
    await post('/v1/batch', Buffer.from('definitely not gzip'), { ...write, 'content-encoding': 'gzip' }),
    400,
    'INTAKE_ERR_BAD_ENCODING',
    /gzip/,
  );
  await expectError(
    await post('/v1/batch', '{"batch":[]}', { ...write, 'content-encoding': 'compress' }),
    415,
    'INTAKE_ERR_UNSUPPORTED_ENCODING',
    /compress/,
  );
  const bomb = gzipSync(Buffer.from(`{"batch":[],"pad":"${'a'.repeat(1024 * 1024)}"}`));
  assert.ok(bomb.length < 64 * 1024, 'the compressed body is under the limit');
  await expectError(
    await post('/v1/batch', bomb, { ...write, 'content-encoding': 'gzip' }),
    413,
    'INTAKE_ERR_BODY_TOO_LARGE',
    /65536/,
  );
});

test('an oversize body is a 413 naming the limit', async () => {
  const body = JSON.stringify({ batch: [], pad: 'x'.repeat(70 * 1024) });
  await expectError(await post('/v1/batch', body), 413, 'INTAKE_ERR_BODY_TOO_LARGE', /65536-byte/);
});

test('an oversize event is rejected alone in a batch, and is a 413 on a single-event route', async () => {
  const big = {
    type: 'track',
    event: 'Big',
    userId: 'u',
    messageId: 'big-1',
    properties: { blob: 'x'.repeat(5000) },
  };
  const small = { type: 'track', event: 'Small', userId: 'u', messageId: 'small-1' };
  const r = await post('/v1/batch', JSON.stringify({ batch: [big, small] }));
  assert.equal(r.statusCode, 200);
  assert.equal(r.json().accepted, 1);
  assert.deepEqual(
    r.json().rejected.map((x: { index: number; code: string }) => [x.index, x.code]),
    [[0, 'INTAKE_ERR_EVENT_TOO_LARGE']],
  );
  await expectError(
    await post('/v1/track', JSON.stringify({ ...big, messageId: 'big-2' })),
    413,
    'INTAKE_ERR_EVENT_TOO_LARGE',
    /4096-byte/,
  );
});

test('invalid items are rejected one by one with their reason; the valid ones are stored and the rejects kept', async () => {
  const items = [
    { type: 'track', event: 'Ok', userId: 'keep-1', messageId: 'ok-1' },
    { type: 'track', event: 'No id', messageId: 'bad-noid' },
    { type: 'track', userId: 'u', messageId: 'bad-noname' },
    { type: 'track', event: 'E', userId: { nested: true }, messageId: 'bad-type' },
    { type: 'track', event: 'E', userId: 'u', properties: [1, 2], messageId: 'bad-props' },
    { type: 'track', event: 'E', userId: 'u', timestamp: 'yesterday', messageId: 'bad-ts' },
    { type: 'launch', userId: 'u', messageId: 'bad-kind' },
    'a string',
    { type: 'alias', userId: 'u', messageId: 'bad-alias' },
    { type: 'identify', anonymousId: 'anon', traits: { a: 1 }, messageId: 'ok-2' },
  ];
  const r = await post('/v1/batch', JSON.stringify({ batch: items }));
  assert.equal(r.statusCode, 200);
  const body = r.json() as { accepted: number; rejected: { index: number; code: string; message: string }[] };
  assert.equal(body.accepted, 2);
  const got = Object.fromEntries(body.rejected.map((x) => [x.index, [x.code, x.message]]));
  assert.deepEqual(Object.keys(got).map(Number), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(got[1]?.[0], 'INTAKE_ERR_MISSING_ID');
  assert.equal(got[2]?.[0], 'INTAKE_ERR_MISSING_EVENT_NAME');
  assert.deepEqual(got[3], ['INTAKE_ERR_INVALID_EVENT', 'userId must be a string']);
  assert.deepEqual(got[4], ['INTAKE_ERR_INVALID_EVENT', 'properties must be a JSON object']);
  assert.equal(got[5]?.[0], 'INTAKE_ERR_INVALID_TIMESTAMP');
  assert.match(got[5]?.[1] ?? '', /timestamp/);
  assert.match(got[6]?.[1] ?? '', /type must be one of/);
  assert.equal(got[7]?.[0], 'INTAKE_ERR_INVALID_EVENT');
  assert.match(got[8]?.[1] ?? '', /previousId/);

  const stored = await allEvents(t.app);
  assert.ok(stored.some((e) => e.messageId === 'ok-1'));
  assert.ok(stored.some((e) => e.messageId === 'ok-2'));
  assert.ok(!stored.some((e) => String(e.messageId).startsWith('bad-')));

  const rejected = await t.app.inject({
    method: 'GET',
    url: '/rejected?limit=1000',
    headers: { authorization: bearer(KEYS.read) },
  });
  assert.equal(rejected.statusCode, 200);
  const kept = rejected.json().results as { messageId: string | null; code: string; payload: unknown }[];
  const noid = kept.find((k) => k.messageId === 'bad-noid');
  assert.equal(noid?.code, 'INTAKE_ERR_MISSING_ID');
  assert.deepEqual(noid?.payload, items[1]);
  assert.ok(kept.some((k) => k.payload === 'a string'));
});

test('a single-event route answers the event error with its code, and keeps the event at /rejected', async () => {
  await expectError(
    await post('/v1/identify', JSON.stringify({ traits: { a: 1 }, messageId: 'single-bad' })),
    400,
    'INTAKE_ERR_MISSING_ID',
  );
  const rejected = await t.app.inject({
    method: 'GET',
    url: '/rejected?limit=1000',
    headers: { authorization: bearer(KEYS.read) },
  });
  assert.ok((rejected.json().results as { messageId: string }[]).some((k) => k.messageId === 'single-bad'));
});

test('bodies of the wrong shape are a 400 INTAKE_ERR_INVALID_BODY naming the field', async () => {
  await expectError(
    await post('/v1/batch', JSON.stringify({ batch: 'nope' })),
    400,
    'INTAKE_ERR_INVALID_BODY',
    /batch/,
  );
  await expectError(
    await post('/v1/batch', JSON.stringify({ events: [] })),
    400,
    'INTAKE_ERR_INVALID_BODY',
    /batch/,
  );
  await expectError(
    await post('/events', JSON.stringify({ events: {} }), { ...write }),
    400,
    'INTAKE_ERR_INVALID_BODY',
    /events/,
  );
});

test('keys: missing, unknown or revoked is 401; the wrong kind is 403', async () => {
  const ok = JSON.stringify({ userId: 'u', event: 'E' });
  await expectError(
    await post('/v1/track', ok, { 'content-type': 'application/json' }),
    401,
    'INTAKE_ERR_UNAUTHORIZED',
    /no API key/,
  );
  await expectError(
    await post('/v1/track', ok, { ...write, authorization: basic('who-is-this') }),
    401,
    'INTAKE_ERR_UNAUTHORIZED',
    /unknown/,
  );
  await expectError(
    await post('/v1/track', ok, { ...write, authorization: basic(KEYS.read) }),
    403,
    'INTAKE_ERR_WRONG_KEY_KIND',
    /read key/,
  );
  await expectError(
    await t.app.inject({ method: 'GET', url: '/events', headers: { authorization: bearer(KEYS.write) } }),
    403,
    'INTAKE_ERR_WRONG_KEY_KIND',
    /write key/,
  );
  await expectError(
    await t.app.inject({
      method: 'GET',
      url: '/admin/workspaces',
      headers: { authorization: bearer(KEYS.read) },
    }),
    403,
    'INTAKE_ERR_WRONG_KEY_KIND',
  );
});

test('GET /events parameters: bad values are a 400 naming the parameter; injection attempts find nothing', async () => {
  const get = (qs: string) =>
    t.app.inject({ method: 'GET', url: `/events?${qs}`, headers: { authorization: bearer(KEYS.read) } });
  await expectError(await get('limit=5000'), 400, 'INTAKE_ERR_INVALID_PARAMETER', /limit/);
  await expectError(await get('limit=abc'), 400, 'INTAKE_ERR_INVALID_PARAMETER', /limit/);
  await expectError(await get('offset=-1'), 400, 'INTAKE_ERR_INVALID_PARAMETER', /offset/);
  await expectError(await get('startDate=notadate'), 400, 'INTAKE_ERR_INVALID_PARAMETER', /startDate/);
  await expectError(
    await get('orderByField=timestamp;DROP%20TABLE%20events'),
    400,
    'INTAKE_ERR_INVALID_PARAMETER',
    /orderByField/,
  );
  await expectError(
    await get('orderByDirection=sideways'),
    400,
    'INTAKE_ERR_INVALID_PARAMETER',
    /orderByDirection/,
  );
  await expectError(
    await get("properties.x'%20OR%201=1--=1"),
    400,
    'INTAKE_ERR_INVALID_PARAMETER',
    /properties\.x/,
  );
  await expectError(await get('properties.a"b=1'), 400, 'INTAKE_ERR_INVALID_PARAMETER');
  await expectError(await get('color=red'), 400, 'INTAKE_ERR_INVALID_PARAMETER', /color/);
  for (const qs of [
    "userId='%20OR%201=1%20--",
    'event=x%27)%3B%20DELETE%20FROM%20events%3B--',
    'properties.plan=%27%20OR%20%271%27=%271',
  ]) {
    const r = await get(qs);
    assert.equal(r.statusCode, 200);
    assert.equal(r.json().total, 0, qs);
  }
  assert.ok((await allEvents(t.app)).length > 0, 'the events table is still there');
});

test('unknown routes are a coded 404, and after all of the above the server still ingests', async () => {
  await expectError(
    await t.app.inject({ method: 'GET', url: '/nope' }),
    404,
    'INTAKE_ERR_NOT_FOUND',
    /\/nope/,
  );
  const r = await post(
    '/v1/track',
    JSON.stringify({ userId: 'after', event: 'Still here', messageId: 'after-1' }),
  );
  assert.equal(r.statusCode, 200);
  assert.equal((await allEvents(t.app, KEYS.read, 'messageId=after-1')).length, 1);
});
