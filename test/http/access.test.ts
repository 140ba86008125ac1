// Allowed origins and IPs per key through the HTTP API: set on creation or later, allowed and refused requests
// with their codes, CORS preflights as before, X-Forwarded-For only from a trusted proxy, and a real socket.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { basic, bearer, KEYS, startTestApp, type TestApp } from '../helpers.ts';

let t: TestApp;
let wsId = '';
const admin = { authorization: bearer(KEYS.admin) };

before(async () => {
  t = await startTestApp({ trustProxy: ['127.0.0.1'] });
  wsId = t.keys.findWorkspaceByName('default')?.id ?? '';
});
after(() => t.close());

async function createKey(payload: Record<string, unknown>) {
  const r = await t.app.inject({
    method: 'POST',
    url: `/admin/workspaces/${wsId}/keys`,
    headers: admin,
    payload,
  });
  assert.equal(r.statusCode, 201, r.body);
  return r.json() as { key: { id: string; allowedOrigins: string[]; allowedIps: string[] }; secret: string };
}
const patchKey = (id: string, payload: unknown) =>
  t.app.inject({
    method: 'PATCH',
    url: `/admin/workspaces/${wsId}/keys/${id}`,
    headers: admin,
    payload: payload as object,
  });

let seq = 0;
const track = (key: string, headers: Record<string, string> = {}, remoteAddress?: string) =>
  t.app.inject({
    method: 'POST',
    url: '/v1/track',
    headers: { authorization: basic(key), ...headers },
    payload: { userId: 'u', event: 'E', messageId: `acc-${seq++}` },
    ...(remoteAddress ? { remoteAddress } : {}),
  });

test('a browser key: its origins (and their subdomains by wildcard) pass, others and none are 403', async () => {
  const { key, secret } = await createKey({
    kind: 'write',
    name: 'web',
    allowedOrigins: ['https://Shop.Example.com', '*.example.org', 'http://localhost:3000'],
  });
  assert.deepEqual(key.allowedOrigins, [
    'https://shop.example.com',
    '*.example.org',
    'http://localhost:3000',
  ]);
  for (const origin of [
    'https://shop.example.com',
    'https://a.example.org',
    'http://b.c.example.org',
    'http://localhost:3000',
  ]) {
    const r = await track(secret, { origin });
    assert.equal(r.statusCode, 200, `${origin}: ${r.body}`);
    assert.equal(r.headers['access-control-allow-origin'], origin);
  }
  for (const origin of [
    'https://evil.example',
    'http://shop.example.com',
    'https://example.org',
    'http://localhost:3001',
  ]) {
    const r = await track(secret, { origin });
    assert.equal(r.statusCode, 403, origin);
    assert.equal(r.json().code, 'INTAKE_ERR_ORIGIN_NOT_ALLOWED');
    assert.match(r.json().message, new RegExp(origin.replace(/[.:/]/g, '\\$&')));
    // The browser can read why (CORS headers are on refusals too).
    assert.equal(r.headers['access-control-allow-origin'], origin);
  }
  const none = await track(secret);
  assert.equal(none.statusCode, 403);
  assert.equal(none.json().code, 'INTAKE_ERR_ORIGIN_NOT_ALLOWED');
  assert.match(none.json().message, /Origin header/);

  // The key in the body (analytics.js sends writeKey there with text/plain) is checked the same way.
  const body = (origin: string) =>
    t.app.inject({
      method: 'POST',
      url: '/v1/t',
      headers: { origin, 'content-type': 'text/plain' },
      payload: JSON.stringify({ writeKey: secret, type: 'track', userId: 'u', event: 'E' }),
    });
  assert.equal((await body('https://shop.example.com')).statusCode, 200);
  assert.equal((await body('https://evil.example')).json().code, 'INTAKE_ERR_ORIGIN_NOT_ALLOWED');
});

test('CORS preflights are answered as before, whatever the key', async () => {
  await createKey({ kind: 'write', allowedOrigins: ['https://shop.example.com'] });
  for (const origin of ['https://shop.example.com', 'https://evil.example']) {
    const r = await t.app.inject({
      method: 'OPTIONS',
      url: '/v1/batch',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,authorization',
      },
    });
    assert.equal(r.statusCode, 204, r.body);
    assert.equal(r.headers['access-control-allow-origin'], origin);
  }
  const r = await track(KEYS.write, { origin: 'https://shop.example.com' });
  assert.equal(r.headers['access-control-expose-headers'], 'Retry-After');
});

test('a server key: its IPs and CIDRs pass (IPv4 and IPv6), others are 403; X-Forwarded-For only from the trusted proxy', async () => {
  const { key, secret } = await createKey({ kind: 'write', allowedIps: ['203.0.113.0/24', '2001:DB8::/32'] });
  assert.deepEqual(key.allowedIps, ['203.0.113.0/24', '2001:db8::/32']);
  const via = (xff: string, from = '127.0.0.1') => track(secret, { 'x-forwarded-for': xff }, from);
  assert.equal((await via('203.0.113.50')).statusCode, 200);
  assert.equal((await via('2001:db8::7')).statusCode, 200);
  const other = await via('198.51.100.1');
  assert.equal(other.statusCode, 403);
  assert.equal(other.json().code, 'INTAKE_ERR_IP_NOT_ALLOWED');
  assert.equal(other.json().details.ip, '198.51.100.1');
  assert.equal((await via('2001:db9::1')).json().code, 'INTAKE_ERR_IP_NOT_ALLOWED');
  // From an address that is not a trusted proxy, X-Forwarded-For is not believed: the peer's IP counts.
  assert.equal((await via('203.0.113.50', '198.51.100.9')).json().code, 'INTAKE_ERR_IP_NOT_ALLOWED');
  assert.equal((await track(secret, {}, '203.0.113.9')).statusCode, 200);
  assert.equal(
    (await track(secret, {}, '::ffff:203.0.113.9')).statusCode,
    200,
    'IPv4 on a dual-stack socket',
  );

  // Emptied later: any IP again.
  const cleared = await patchKey(key.id, { allowedIps: [] });
  assert.equal(cleared.statusCode, 200, cleared.body);
  assert.deepEqual(cleared.json().allowedIps, []);
  assert.equal((await via('198.51.100.1')).statusCode, 200);
});

test('every ingest route of every dialect refuses with the coded 403 (never a 500), before reading the body', async () => {
  const { secret } = await createKey({ kind: 'write', allowedIps: ['192.0.2.1'] });
  for (const url of [
    '/v1/batch',
    '/v1/track',
    '/events',
    '/event/batch',
    '/v1/batch/events',
    '/event/ingest',
    '/batch/',
    '/profile',
  ]) {
    const r = await t.app.inject({
      method: 'POST',
      url,
      headers: { authorization: bearer(secret), 'content-type': 'application/json' },
      payload: '{"not json',
    });
    assert.equal(r.statusCode, 403, `${url}: ${r.body}`);
    assert.equal(r.json().code, 'INTAKE_ERR_IP_NOT_ALLOWED', url);
  }
});

test('lists set later apply from the next request, on any kind of key; keys without lists behave as before', async () => {
  const { key, secret } = await createKey({ kind: 'write' });
  assert.deepEqual(key.allowedOrigins, []);
  assert.equal((await track(secret, { origin: 'https://anything.example' })).statusCode, 200);
  const p = await patchKey(key.id, {
    allowedOrigins: ['https://app.example.com'],
    allowedIps: ['127.0.0.1'],
  });
  assert.equal(p.statusCode, 200, p.body);
  assert.equal((await track(secret, { origin: 'https://anything.example' })).statusCode, 403);
  assert.equal((await track(secret, { origin: 'https://app.example.com' })).statusCode, 200);
  assert.equal(
    (await track(secret, { origin: 'https://app.example.com' }, '10.0.0.1')).json().code,
    'INTAKE_ERR_IP_NOT_ALLOWED',
  );
  // Other keys are untouched.
  assert.equal((await track(KEYS.write, { origin: 'https://anything.example' }, '10.0.0.1')).statusCode, 200);

  // An admin key restricted to an office network.
  const office = await createKey({ kind: 'admin', allowedIps: ['192.0.2.0/24'] });
  const list = (from: string) =>
    t.app.inject({
      method: 'GET',
      url: '/admin/workspaces',
      headers: { authorization: bearer(office.secret) },
      remoteAddress: from,
    });
  assert.equal((await list('192.0.2.10')).statusCode, 200);
  assert.equal((await list('10.0.0.1')).json().code, 'INTAKE_ERR_IP_NOT_ALLOWED');
});

test('bad lists are a coded 400 naming the entry; unknown or revoked keys are 404', async () => {
  const { key } = await createKey({ kind: 'write' });
  for (const [payload, field] of [
    [{ allowedOrigins: ['https://ok.example', 'https://example.com/path'] }, 'allowedOrigins\\[1\\]'],
    [{ allowedOrigins: ['*'] }, 'allowedOrigins\\[0\\]'],
    [{ allowedIps: ['10.0.0.0/33'] }, 'allowedIps\\[0\\]'],
    [{ allowedIps: ['example.com'] }, 'allowedIps\\[0\\]'],
    [{ allowedIps: '10.0.0.1' }, 'allowedIps'],
    [{ allowedOrigins: [''] }, 'allowedOrigins'],
    [{}, 'fewer than 1|must NOT have fewer'],
    [{ name: 'renamed' }, 'additional'],
  ] as const) {
    const r = await patchKey(key.id, payload);
    assert.equal(r.statusCode, 400, `${JSON.stringify(payload)}: ${r.body}`);
    assert.equal(r.json().code, 'INTAKE_ERR_INVALID_BODY');
    assert.match(r.json().message, new RegExp(field), r.json().message);
  }
  const created = await t.app.inject({
    method: 'POST',
    url: `/admin/workspaces/${wsId}/keys`,
    headers: admin,
    payload: { kind: 'write', allowedIps: ['300.1.1.1'] },
  });
  assert.equal(created.statusCode, 400);
  assert.match(created.json().message, /allowedIps\[0\] "300\.1\.1\.1"/);
  assert.equal((await patchKey('no-such-key', { allowedIps: [] })).json().code, 'INTAKE_ERR_NOT_FOUND');
  await t.app.inject({ method: 'DELETE', url: `/admin/workspaces/${wsId}/keys/${key.id}`, headers: admin });
  assert.equal((await patchKey(key.id, { allowedIps: [] })).statusCode, 404);
});

test('on a real socket: the peer address is what the IP list sees', async () => {
  const url = await t.listen();
  const { key, secret } = await createKey({ kind: 'write', allowedIps: ['127.0.0.1'] });
  const send = () =>
    fetch(`${url}/v1/track`, {
      method: 'POST',
      headers: { authorization: basic(secret), 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'u', event: 'E' }),
    });
  assert.equal((await send()).status, 200);
  await patchKey(key.id, { allowedIps: ['10.0.0.0/8'] });
  const r = await send();
  assert.equal(r.status, 403);
  assert.equal(((await r.json()) as { code: string }).code, 'INTAKE_ERR_IP_NOT_ALLOWED');
});
