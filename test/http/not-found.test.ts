// Route first, parse after: an unknown route is a coded 404 whatever body comes with it (not JSON, bad
// encoding, over the limit), and known routes still parse and refuse bad bodies as before.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { bearer, KEYS, startTestApp, type TestApp } from '../helpers.ts';

let t: TestApp;
before(async () => {
  t = await startTestApp({ bodyLimit: 64 * 1024 });
});
after(() => t.close());

const json = { authorization: bearer(KEYS.write), 'content-type': 'application/json' };

function assertNotFound(res: { statusCode: number; body: string }, what: string) {
  assert.equal(res.statusCode, 404, `${what}: ${res.body.slice(0, 200)}`);
  const body = JSON.parse(res.body);
  assert.equal(body.code, 'INTAKE_ERR_NOT_FOUND', what);
  assert.match(body.message, /no route for/);
}

test('an unknown route is a 404 whatever the body', async () => {
  const bodies: [string, string | Buffer, Record<string, string>][] = [
    ['not JSON', 'not json at all', json],
    ['text/plain', '{"batch": [}', { 'content-type': 'text/plain' }],
    ['JSON', '{"a":1}', json],
    ['corrupt gzip', Buffer.from('definitely not gzip'), { ...json, 'content-encoding': 'gzip' }],
    ['unknown encoding', '{}', { ...json, 'content-encoding': 'compress' }],
    ['gzip bomb', gzipSync(Buffer.alloc(1024 * 1024, 32)), { ...json, 'content-encoding': 'gzip' }],
    ['over the limit', 'x'.repeat(100 * 1024), json],
    ['no content type', 'garbage', {}],
  ];
  for (const method of ['POST', 'PUT', 'PATCH', 'DELETE'] as const) {
    for (const [what, payload, headers] of bodies) {
      for (const url of ['/nope', '/v1/trak', '/v2/batch?x=1', '/batch/extra']) {
        const res = await t.app.inject({ method, url, headers, payload });
        assertNotFound(res, `${method} ${url} with ${what}`);
      }
    }
  }
  assertNotFound(await t.app.inject({ method: 'GET', url: '/nope' }), 'GET without a body');
});

test('the 404 keeps the CORS headers of every answer', async () => {
  const res = await t.app.inject({
    method: 'POST',
    url: '/nope',
    headers: { origin: 'https://shop.example', 'content-type': 'text/plain' },
    payload: 'not json',
  });
  assertNotFound(res, 'cross-origin');
  assert.equal(res.headers['access-control-allow-origin'], 'https://shop.example');
});

test('known routes still parse their body first', async () => {
  const bad = await t.app.inject({ method: 'POST', url: '/v1/batch', headers: json, payload: 'not json' });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().code, 'INTAKE_ERR_INVALID_JSON');
  const big = await t.app.inject({
    method: 'POST',
    url: '/v1/batch',
    headers: json,
    payload: 'x'.repeat(100 * 1024),
  });
  assert.equal(big.statusCode, 413);
  assert.equal(big.json().code, 'INTAKE_ERR_BODY_TOO_LARGE');
  const ok = await t.app.inject({ method: 'POST', url: '/v1/batch', headers: json, payload: '{"batch":[]}' });
  assert.equal(ok.statusCode, 200);
  // A known path with a method it does not serve is an unknown route too.
  assertNotFound(
    await t.app.inject({ method: 'PUT', url: '/v1/batch', headers: json, payload: 'not json' }),
    'PUT /v1/batch',
  );
});

test('on a socket, an unknown route answers 404 before the body and reads the rest of it', async () => {
  const url = await t.listen();
  for (let i = 0; i < 3; i++) {
    const r = await fetch(`${url}/nope`, {
      method: 'POST',
      headers: json,
      body: Buffer.alloc(512 * 1024, 120),
    });
    assertNotFound({ statusCode: r.status, body: await r.text() }, `socket #${i}`);
  }
});
