// Limits and allow-lists outlive the process: they are in the database, a data directory made before they
// existed opens and takes them, and a real SDK (analytics-node) waits out a 429's Retry-After and resends.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { Analytics } from '@segment/analytics-node';
import { hashSecret } from '../../src/auth/keys.ts';
import { allEvents, basic, bearer, KEYS, onEngine, startTestApp, type TestApp, tempDir } from '../helpers.ts';

/** What the limits-store.test.ts tests below check that only the embedded engine has. */
const DUCKDB_ONLY = onEngine({
  clickhouse: "it makes a data directory of an older version, straight in the embedded engine's DuckDB file",
  cluster: "it makes a data directory of an older version, straight in the embedded engine's DuckDB file",
});

const admin = { authorization: bearer(KEYS.admin) };
const track = (t: TestApp, key: string, headers: Record<string, string> = {}) =>
  t.app.inject({
    method: 'POST',
    url: '/v1/track',
    headers: { authorization: basic(key), ...headers },
    payload: { userId: 'u', event: 'E' },
  });
const wsOf = (t: TestApp) => t.keys.findWorkspaceByName('default')?.id ?? '';

test('workspace limits and key lists survive a restart and are enforced after it', async () => {
  const dataDir = tempDir();
  const ms = Date.parse('2026-03-01T12:00:00.000Z');
  let t = await startTestApp({ dataDir, now: () => new Date(ms) });
  try {
    const ws = wsOf(t);
    const s = await t.app.inject({
      method: 'PATCH',
      url: `/admin/workspaces/${ws}/settings`,
      headers: admin,
      payload: { rateLimit: { requests: { perSecond: 1, burst: 2 }, events: { perSecond: 1000 } } },
    });
    assert.equal(s.statusCode, 200, s.body);
    const created = await t.app.inject({
      method: 'POST',
      url: `/admin/workspaces/${ws}/keys`,
      headers: admin,
      payload: {
        kind: 'write',
        allowedOrigins: ['https://shop.example.com'],
        allowedIps: ['127.0.0.0/8'],
        rateLimit: { events: { perSecond: 5, burst: 10 } },
      },
    });
    assert.equal(created.statusCode, 201, created.body);
    const { key, secret } = created.json();
    const patched = await t.app.inject({
      method: 'PATCH',
      url: `/admin/workspaces/${ws}/keys/${key.id}`,
      headers: admin,
      payload: { allowedOrigins: ['*.example.com'] },
    });
    assert.equal(patched.statusCode, 200, patched.body);

    await t.close();
    t = await startTestApp({ dataDir, now: () => new Date(ms) });
    assert.deepEqual(t.keys.getWorkspace(ws)?.settings.rateLimit, {
      requests: { perSecond: 1, burst: 2 },
      events: { perSecond: 1000, burst: 1000 },
    });
    const keys = await t.app.inject({ method: 'GET', url: `/admin/workspaces/${ws}/keys`, headers: admin });
    const stored = (keys.json().results as Array<Record<string, unknown>>).find((k) => k.id === key.id);
    assert.deepEqual(stored?.allowedOrigins, ['*.example.com']);
    assert.deepEqual(stored?.allowedIps, ['127.0.0.0/8']);
    assert.deepEqual(stored?.rateLimit, { events: { perSecond: 5, burst: 10 } });
    const env = (keys.json().results as Array<Record<string, unknown>>).find((k) => k.kind === 'read');
    assert.deepEqual([env?.allowedOrigins, env?.allowedIps, env?.rateLimit], [[], [], null]);

    // Enforced after the restart: the workspace's requests limit, the key's origins.
    assert.equal((await track(t, KEYS.write)).statusCode, 200);
    assert.equal((await track(t, KEYS.write)).statusCode, 200);
    assert.equal((await track(t, KEYS.write)).statusCode, 429);
    assert.equal((await track(t, secret, { origin: 'https://evil.example' })).statusCode, 403);
    assert.equal((await track(t, secret, { origin: 'https://a.example.com' })).statusCode, 200);
  } finally {
    await t.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test(
  'a data directory made before keys had lists opens; its keys have none until set',
  DUCKDB_ONLY,
  async () => {
    const dataDir = tempDir();
    // The tables as the previous release created them, with the default workspace and its write key.
    const db = await DuckDBInstance.create(join(dataDir, 'intake.duckdb'));
    const conn = await db.connect();
    await conn.run(`CREATE TABLE workspaces (
     id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL UNIQUE, created_at TIMESTAMP NOT NULL, settings JSON)`);
    await conn.run(`CREATE TABLE api_keys (
     id VARCHAR PRIMARY KEY, workspace_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, name VARCHAR NOT NULL,
     prefix VARCHAR NOT NULL, hash VARCHAR NOT NULL UNIQUE, created_at TIMESTAMP NOT NULL, revoked_at TIMESTAMP)`);
    await conn.run(
      `INSERT INTO workspaces VALUES ('ws-old', 'default', TIMESTAMP '2025-01-01', '{"geo":true,"anonymizeIp":false}')`,
    );
    await conn.run(
      `INSERT INTO api_keys VALUES ('key-old', 'ws-old', 'write', 'old', 'test', '${hashSecret(KEYS.write)}', TIMESTAMP '2025-01-01', NULL)`,
    );
    conn.closeSync();
    db.closeSync();

    const t = await startTestApp({ dataDir });
    try {
      assert.equal(wsOf(t), 'ws-old');
      assert.equal((await track(t, KEYS.write, { origin: 'https://any.example' })).statusCode, 200);
      const keys = await t.app.inject({
        method: 'GET',
        url: '/admin/workspaces/ws-old/keys',
        headers: admin,
      });
      const old = (keys.json().results as Array<Record<string, unknown>>).find((k) => k.id === 'key-old');
      assert.deepEqual([old?.allowedOrigins, old?.allowedIps, old?.rateLimit], [[], [], null]);
      const p = await t.app.inject({
        method: 'PATCH',
        url: '/admin/workspaces/ws-old/keys/key-old',
        headers: admin,
        payload: { allowedOrigins: ['https://shop.example.com'] },
      });
      assert.equal(p.statusCode, 200, p.body);
      assert.equal((await track(t, KEYS.write, { origin: 'https://any.example' })).statusCode, 403);
    } finally {
      await t.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
);

test('analytics-node over a real socket waits out Retry-After and resends: every event stored once', async () => {
  const t = await startTestApp();
  try {
    const url = await t.listen();
    const r = await t.app.inject({
      method: 'PATCH',
      url: `/admin/workspaces/${wsOf(t)}/settings`,
      headers: admin,
      payload: { rateLimit: { requests: { perSecond: 2, burst: 1 } } },
    });
    assert.equal(r.statusCode, 200, r.body);
    const statuses: number[] = [];
    const analytics = new Analytics({ writeKey: KEYS.write, host: url, flushAt: 1, flushInterval: 10 });
    analytics.on('http_request', () => statuses.push(0));
    const errors: unknown[] = [];
    analytics.on('error', (e) => errors.push(e));
    for (let i = 0; i < 4; i++) analytics.track({ userId: 'sdk', event: 'E', messageId: `sdk-${i}` });
    await analytics.closeAndFlush({ timeout: 20_000 });
    assert.deepEqual(errors, []);
    const events = await allEvents(t.app, KEYS.read, 'userId=sdk');
    assert.deepEqual(events.map((e) => e.messageId).sort(), ['sdk-0', 'sdk-1', 'sdk-2', 'sdk-3']);
    assert.ok(
      statuses.length > 4,
      `the SDK was refused and resent (${statuses.length} requests for 4 events)`,
    );
  } finally {
    await t.close();
  }
});
