// --role: a node serves the routes of its roles. Ingest nodes take events in every dialect (and PostHog's flags
// and settings, which its SDKs ask for); api nodes answer reads, queries and admin; every node answers /health.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/core/config.ts';
import { basic, bearer, KEYS, startTestApp } from '../helpers.ts';

const batch = { batch: [{ type: 'track', event: 'Clicked', userId: 'u1' }] };

test('--role parses a comma list, all, and refuses what is not a role', () => {
  assert.deepEqual(loadConfig([], {}).roles, ['ingest', 'loader', 'api']);
  assert.deepEqual(loadConfig(['--role', 'api,ingest'], {}).roles, ['ingest', 'api'], 'in one order');
  assert.deepEqual(loadConfig([], { INTAKE_ROLE: 'loader' }).roles, ['loader']);
  assert.deepEqual(loadConfig(['--role', 'ALL'], {}).roles, ['ingest', 'loader', 'api']);
  assert.throws(() => loadConfig(['--role', 'ingest,writer'], {}), ConfigError);
  assert.throws(() => loadConfig(['--role', ','], {}), /names no role/);
});

test('an ingest node takes events and answers 404 to reads, naming its roles', async () => {
  const t = await startTestApp({ roles: ['ingest', 'loader'] });
  try {
    const sent = await t.app.inject({
      method: 'POST',
      url: '/v1/batch',
      headers: { authorization: basic(KEYS.write) },
      payload: batch,
    });
    assert.equal(sent.statusCode, 200, sent.body);
    const trench = await t.app.inject({
      method: 'POST',
      url: '/events',
      headers: { authorization: bearer(KEYS.write) },
      payload: { events: [{ type: 'track', event: 'Trenched', userId: 'u1' }] },
    });
    assert.equal(trench.statusCode, 201, 'POST /events is ingest');
    for (const [method, url] of [
      ['GET', '/events'],
      ['GET', '/users/u1'],
      ['POST', '/query'],
      ['POST', '/queries'],
      ['POST', '/insights/trends'],
      ['GET', '/workspaces/x'],
    ] as const) {
      const res = await t.app.inject({
        method,
        url,
        headers: { authorization: bearer(KEYS.admin) },
        payload: {},
      });
      assert.equal(res.statusCode, 404, `${method} ${url}`);
      assert.equal(res.json().code, 'INTAKE_ERR_NOT_FOUND');
      assert.match(res.json().message, /this node's roles: ingest, loader/);
    }
    assert.equal((await t.app.inject({ method: 'GET', url: '/health' })).statusCode, 200);
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    assert.ok(doc.paths['/v1/batch']?.post, 'its own routes are documented');
    assert.ok(doc.paths['/events']?.post && !doc.paths['/events'].get, 'the other role’s are left out');
    assert.equal(doc.paths['/query'], undefined);
  } finally {
    await t.close();
  }
});

test('an api node answers reads and admin, and 404 to ingest', async () => {
  const t = await startTestApp({ roles: ['api'] });
  try {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/batch',
      headers: { authorization: basic(KEYS.write) },
      payload: batch,
    });
    assert.equal(res.statusCode, 404);
    assert.match(res.json().message, /no route for POST \/v1\/batch \(this node's roles: api\)/);
    const read = await t.app.inject({
      method: 'GET',
      url: '/events',
      headers: { authorization: bearer(KEYS.read) },
    });
    assert.equal(read.statusCode, 200);
    const ws = await t.app.inject({
      method: 'POST',
      url: '/workspaces',
      headers: { authorization: bearer(KEYS.admin) },
      payload: { name: 'roles' },
    });
    assert.equal(ws.statusCode, 201, 'Trench workspaces are admin: served by api nodes');
  } finally {
    await t.close();
  }
});
