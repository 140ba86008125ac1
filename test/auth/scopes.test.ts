// Key scopes: presets and explicit scopes, the 403 that names the scope a route needs, a manage key kept to its
// own workspace and to keys no stronger than itself, rate limits by scope, and keys stored before scopes existed.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { hashSecret } from '../../src/auth/keys.ts';
import { basic, bearer, KEYS, onEngine, startTestApp, type TestApp, tempDir } from '../helpers.ts';

/** What the scopes.test.ts tests below check that only the embedded engine has. */
const DUCKDB_ONLY = onEngine({
  clickhouse:
    "it writes keys the way versions before scopes did, straight into the embedded engine's DuckDB file",
  cluster:
    "it writes keys the way versions before scopes did, straight into the embedded engine's DuckDB file",
});

let t: TestApp;
let ws = '';
const admin = { authorization: bearer(KEYS.admin) };

before(async () => {
  t = await startTestApp();
  ws = t.keys.findWorkspaceByName('default')?.id ?? '';
});
after(() => t.close());

async function createKey(payload: Record<string, unknown>, headers = admin, workspace = ws) {
  return t.app.inject({ method: 'POST', url: `/admin/workspaces/${workspace}/keys`, headers, payload });
}

/** One request per scope: the route, and whether `key` got past the key check (anything but 401/403). */
async function reach(key: string): Promise<Record<string, number>> {
  const h = { authorization: bearer(key) };
  const calls = {
    ingest: t.app.inject({
      method: 'POST',
      url: '/v1/track',
      headers: { authorization: basic(key) },
      payload: { userId: 'u', event: 'E' },
    }),
    read: t.app.inject({ method: 'GET', url: '/events?limit=1', headers: h }),
    query: t.app.inject({ method: 'POST', url: '/query', headers: h, payload: { sql: 'SELECT 1' } }),
    manage: t.app.inject({ method: 'GET', url: `/admin/workspaces/${ws}/keys`, headers: h }),
    admin: t.app.inject({ method: 'GET', url: '/admin/workspaces', headers: h }),
  };
  const out: Record<string, number> = {};
  for (const [scope, call] of Object.entries(calls)) out[scope] = (await call).statusCode;
  return out;
}

test('presets are sets of scopes; each route asks for one and a 403 names it', async () => {
  const made: Record<string, { kind: string; scopes: string[]; secret: string }> = {};
  for (const kind of ['write', 'read', 'private', 'admin']) {
    const r = await createKey({ kind });
    assert.equal(r.statusCode, 201, r.body);
    made[kind] = { ...r.json().key, secret: r.json().secret };
  }
  assert.deepEqual(made.write?.scopes, ['ingest']);
  assert.deepEqual(made.read?.scopes, ['read', 'query']);
  assert.deepEqual(made.private?.scopes, ['ingest', 'read', 'query', 'manage']);
  assert.deepEqual(made.admin?.scopes, ['ingest', 'read', 'query', 'manage', 'admin']);
  assert.match(made.private?.secret ?? '', /^ipk_/);

  const ok = (s: number) => s !== 401 && s !== 403;
  const expected: Record<string, string[]> = {
    write: ['ingest'],
    read: ['read', 'query'],
    private: ['ingest', 'read', 'query', 'manage'],
    admin: ['ingest', 'read', 'query', 'manage', 'admin'],
  };
  for (const [kind, scopes] of Object.entries(expected)) {
    const got = await reach(made[kind]?.secret ?? '');
    const allowed = Object.keys(got).filter((s) => ok(got[s] as number));
    assert.deepEqual(allowed, scopes, `${kind} key reaches ${JSON.stringify(got)}`);
  }

  const denied = await t.app.inject({
    method: 'GET',
    url: '/events',
    headers: { authorization: bearer(made.write?.secret ?? '') },
  });
  assert.equal(denied.statusCode, 403);
  assert.equal(denied.json().code, 'INTAKE_ERR_WRONG_KEY_KIND');
  assert.match(denied.json().message, /needs the read scope; this write key has ingest/);
  assert.deepEqual(denied.json().details, { scope: 'read', keyScopes: ['ingest'] });
});

test('explicit scopes make a custom key unless they match a preset; kind and scopes are exclusive', async () => {
  const custom = await createKey({ scopes: ['query', 'ingest'], name: 'etl' });
  assert.equal(custom.statusCode, 201, custom.body);
  assert.equal(custom.json().key.kind, 'custom');
  assert.deepEqual(custom.json().key.scopes, ['ingest', 'query']);
  const got = await reach(custom.json().secret);
  assert.ok(got.ingest === 200 && got.query === 200, JSON.stringify(got));
  assert.equal(got.read, 403);

  const preset = await createKey({ scopes: ['query', 'read'] });
  assert.equal(preset.json().key.kind, 'read');
  for (const bad of [{}, { kind: 'read', scopes: ['read'] }, { scopes: [] }, { scopes: ['root'] }]) {
    const r = await createKey(bad);
    assert.equal(r.statusCode, 400, `${JSON.stringify(bad)}: ${r.body}`);
    assert.equal(r.json().code, 'INTAKE_ERR_INVALID_BODY');
  }
});

test('a manage key manages its own workspace only, and only with keys no stronger than itself', async () => {
  const priv = (await createKey({ kind: 'private' })).json().secret as string;
  const h = { authorization: bearer(priv) };
  const write = await createKey({ kind: 'write', name: 'browser' }, h);
  assert.equal(write.statusCode, 201, write.body);
  const settings = await t.app.inject({
    method: 'PATCH',
    url: `/admin/workspaces/${ws}/settings`,
    headers: h,
    payload: { geo: false },
  });
  assert.equal(settings.statusCode, 200, settings.body);
  await t.app.inject({
    method: 'PATCH',
    url: `/admin/workspaces/${ws}/settings`,
    headers: admin,
    payload: { geo: true },
  });

  const up = await createKey({ kind: 'admin' }, h);
  assert.equal(up.statusCode, 403);
  assert.match(up.json().message, /scope\(s\) admin it does not have itself/);
  assert.equal((await createKey({ scopes: ['ingest', 'manage'] }, h)).statusCode, 201);

  const adminKey = (await t.keys.listKeys(ws)).find((k) => k.kind === 'admin');
  const revoke = await t.app.inject({
    method: 'DELETE',
    url: `/admin/workspaces/${ws}/keys/${adminKey?.id}`,
    headers: h,
  });
  assert.equal(revoke.statusCode, 403, 'a private key cannot revoke an admin key');
  const own = await t.app.inject({
    method: 'DELETE',
    url: `/admin/workspaces/${ws}/keys/${write.json().key.id}`,
    headers: h,
  });
  assert.equal(own.statusCode, 204);

  const other = await t.keys.createWorkspace('elsewhere');
  const there = await createKey({ kind: 'write' }, h, other.id);
  assert.equal(there.statusCode, 403);
  assert.match(there.json().message, /only its own workspace/);
  const list = await t.app.inject({ method: 'GET', url: `/admin/workspaces/${other.id}/keys`, headers: h });
  assert.equal(list.statusCode, 403);
  assert.equal((await createKey({ kind: 'write' }, admin, other.id)).statusCode, 201, 'admin: any workspace');
  const workspaces = await t.app.inject({
    method: 'POST',
    url: '/admin/workspaces',
    headers: h,
    payload: { name: 'x' },
  });
  assert.equal(workspaces.statusCode, 403);
  assert.match(workspaces.json().message, /needs the admin scope/);
});

test("the workspace's rate limit applies to keys that ingest and cannot change it; a key's own to that key", async () => {
  const priv = (await createKey({ kind: 'private' })).json();
  const write = (await createKey({ kind: 'write' })).json();
  const set = await t.app.inject({
    method: 'PATCH',
    url: `/admin/workspaces/${ws}/settings`,
    headers: admin,
    payload: { rateLimit: { requests: { perSecond: 0.001, burst: 1 } } },
  });
  assert.equal(set.statusCode, 200, set.body);
  try {
    const send = (key: string) =>
      t.app.inject({
        method: 'POST',
        url: '/v1/track',
        headers: { authorization: basic(key) },
        payload: { userId: 'u', event: 'E' },
      });
    assert.equal((await send(write.secret)).statusCode, 200);
    assert.equal((await send(write.secret)).statusCode, 429, 'a write key takes the workspace limit');
    for (let i = 0; i < 3; i++) {
      assert.equal((await send(priv.secret)).statusCode, 200, 'a private key does not');
      assert.equal((await send(KEYS.admin)).statusCode, 200, 'nor an admin key');
    }
    const own = await t.app.inject({
      method: 'PATCH',
      url: `/admin/workspaces/${ws}/keys/${priv.key.id}`,
      headers: admin,
      payload: { rateLimit: { requests: { perSecond: 0.001, burst: 1 } } },
    });
    assert.equal(own.statusCode, 200, own.body);
    assert.equal((await send(priv.secret)).statusCode, 200);
    assert.equal((await send(priv.secret)).statusCode, 429, 'its own limit applies');
    const onRead = await t.app.inject({
      method: 'PATCH',
      url: `/admin/workspaces/${ws}/keys/${(await t.keys.listKeys(ws)).find((k) => k.kind === 'read')?.id}`,
      headers: admin,
      payload: { rateLimit: { requests: { perSecond: 1 } } },
    });
    assert.equal(onRead.statusCode, 400);
    assert.match(onRead.json().message, /ingest scope/);
  } finally {
    await t.app.inject({
      method: 'PATCH',
      url: `/admin/workspaces/${ws}/settings`,
      headers: admin,
      payload: { rateLimit: null },
    });
  }
});

test(
  'keys stored before scopes keep their kind as its preset; a private key is bootstrapped only when given',
  DUCKDB_ONLY,
  async () => {
    const dataDir = tempDir();
    // The tables as the release before scopes made them: api_keys with `access` but no `scopes`.
    const db = await DuckDBInstance.create(join(dataDir, 'intake.duckdb'));
    const conn = await db.connect();
    await conn.run(`CREATE TABLE workspaces (
     id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL UNIQUE, created_at TIMESTAMP NOT NULL, settings JSON)`);
    await conn.run(`CREATE TABLE api_keys (
     id VARCHAR PRIMARY KEY, workspace_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, name VARCHAR NOT NULL,
     prefix VARCHAR NOT NULL, hash VARCHAR NOT NULL UNIQUE, created_at TIMESTAMP NOT NULL, revoked_at TIMESTAMP,
     access JSON)`);
    await conn.run(`INSERT INTO workspaces VALUES ('ws-old', 'default', TIMESTAMP '2025-01-01', NULL)`);
    for (const kind of ['write', 'read', 'admin'] as const) {
      await conn.run(
        `INSERT INTO api_keys VALUES ('key-${kind}', 'ws-old', '${kind}', 'old', 'test', '${hashSecret(KEYS[kind])}', TIMESTAMP '2025-01-01', NULL, NULL)`,
      );
    }
    conn.closeSync();
    db.closeSync();

    const old = await startTestApp({ dataDir });
    try {
      const keys = await old.keys.listKeys('ws-old');
      const scopes = Object.fromEntries(keys.map((k) => [k.id, [k.kind, k.scopes]]));
      assert.deepEqual(scopes, {
        'key-write': ['write', ['ingest']],
        'key-read': ['read', ['read', 'query']],
        'key-admin': ['admin', ['ingest', 'read', 'query', 'manage', 'admin']],
      });
      assert.deepEqual(old.keys.getWorkspace('ws-old')?.properties, {});
      const track = await old.app.inject({
        method: 'POST',
        url: '/v1/track',
        headers: { authorization: basic(KEYS.write) },
        payload: { userId: 'u', event: 'E' },
      });
      assert.equal(track.statusCode, 200);
      const read = await old.app.inject({
        method: 'GET',
        url: '/events',
        headers: { authorization: bearer(KEYS.read) },
      });
      assert.equal(read.json().total, 1);
      assert.ok(!keys.some((k) => k.kind === 'private'), 'no private key unless one is given');
    } finally {
      await old.close();
    }

    // INTAKE_PRIVATE_KEY given: the default workspace gets it.
    const { bootstrap } = await import('../../src/auth/keys.ts');
    const again = await startTestApp({ dataDir });
    try {
      await bootstrap(again.keys, { private: 'trench-private-key' });
      const priv = again.keys.resolve('trench-private-key');
      assert.deepEqual([priv?.kind, priv?.workspaceId], ['private', 'ws-old']);
    } finally {
      await again.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
);
