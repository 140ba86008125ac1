// Workspaces and keys: isolation between tenants, key management, immediate revocation.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { allEvents, basic, bearer, KEYS, startTestApp, type TestApp } from '../helpers.ts';

let t: TestApp;
before(async () => {
  t = await startTestApp();
});
after(() => t.close());

const admin = { authorization: bearer(KEYS.admin) };

async function newWorkspace(name: string) {
  const r = await t.app.inject({
    method: 'POST',
    url: '/admin/workspaces',
    headers: admin,
    payload: { name },
  });
  assert.equal(r.statusCode, 201, r.body);
  const body = r.json() as {
    workspace: { id: string };
    keys: { key: { kind: string; id: string }; secret: string }[];
  };
  const secret = (kind: string) => body.keys.find((k) => k.key.kind === kind)?.secret as string;
  return { id: body.workspace.id, write: secret('write'), read: secret('read'), admin: secret('admin') };
}

const track = (writeKey: string, userId: string, messageId: string) =>
  t.app.inject({
    method: 'POST',
    url: '/v1/track',
    headers: { authorization: basic(writeKey) },
    payload: { userId, event: 'E', messageId },
  });

test("a key of workspace A never reads workspace B's events", async () => {
  const a = await newWorkspace('iso-a');
  const b = await newWorkspace('iso-b');
  assert.equal((await track(a.write, 'alice', 'iso-a-1')).statusCode, 200);
  assert.equal((await track(b.write, 'bob', 'iso-b-1')).statusCode, 200);
  const seenByA = await allEvents(t.app, a.read);
  const seenByB = await allEvents(t.app, b.read);
  assert.deepEqual(
    seenByA.map((e) => e.userId),
    ['alice'],
  );
  assert.deepEqual(
    seenByB.map((e) => e.userId),
    ['bob'],
  );
  // Filters cannot reach across either: B's messageId and userId asked with A's key find nothing.
  assert.equal((await allEvents(t.app, a.read, 'messageId=iso-b-1')).length, 0);
  assert.equal((await allEvents(t.app, a.read, 'userId=bob')).length, 0);
  const rejected = await t.app.inject({
    method: 'GET',
    url: '/rejected',
    headers: { authorization: bearer(a.read) },
  });
  assert.equal(rejected.json().total, 0);
});

test('workspaces are listed, keys created, listed without secrets, and revoked with immediate effect', async () => {
  const ws = await newWorkspace('keys-ws');
  const list = await t.app.inject({ method: 'GET', url: '/admin/workspaces', headers: admin });
  assert.ok((list.json().results as { name: string }[]).some((w) => w.name === 'keys-ws'));
  assert.ok((list.json().results as { name: string }[]).some((w) => w.name === 'default'));

  const created = await t.app.inject({
    method: 'POST',
    url: `/admin/workspaces/${ws.id}/keys`,
    headers: admin,
    payload: { kind: 'write', name: 'ci' },
  });
  assert.equal(created.statusCode, 201);
  const { key, secret } = created.json() as { key: { id: string; prefix: string }; secret: string };
  assert.ok(secret.startsWith(key.prefix));
  assert.equal((await track(secret, 'u', 'rev-1')).statusCode, 200);

  const keys = await t.app.inject({ method: 'GET', url: `/admin/workspaces/${ws.id}/keys`, headers: admin });
  const listed = keys.json().results as Record<string, unknown>[];
  assert.equal(listed.length, 4);
  assert.ok(!JSON.stringify(listed).includes(secret), 'secrets are never listed');
  assert.ok(listed.every((k) => !('hash' in k)));

  const revoked = await t.app.inject({
    method: 'DELETE',
    url: `/admin/workspaces/${ws.id}/keys/${key.id}`,
    headers: admin,
  });
  assert.equal(revoked.statusCode, 204);
  const after = await track(secret, 'u', 'rev-2');
  assert.equal(after.statusCode, 401);
  assert.equal(after.json().code, 'INTAKE_ERR_UNAUTHORIZED');
  const again = await t.app.inject({
    method: 'DELETE',
    url: `/admin/workspaces/${ws.id}/keys/${key.id}`,
    headers: admin,
  });
  assert.equal(again.statusCode, 404);
});

test('keys are stored as sha256 hashes, never as the secret', async () => {
  const rows = await t.store.admin.listKeys();
  assert.ok(rows.every((k) => /^[0-9a-f]{64}$/.test(k.hash)));
  assert.ok(!rows.some((k) => k.hash === KEYS.write));
});

test('deleting a workspace removes its data and its keys; names are unique; bad names are 400', async () => {
  const ws = await newWorkspace('doomed');
  assert.equal((await track(ws.write, 'u', 'doomed-1')).statusCode, 200);
  const dup = await t.app.inject({
    method: 'POST',
    url: '/admin/workspaces',
    headers: admin,
    payload: { name: 'doomed' },
  });
  assert.equal(dup.statusCode, 409);
  assert.equal(dup.json().code, 'INTAKE_ERR_CONFLICT');
  const badName = await t.app.inject({
    method: 'POST',
    url: '/admin/workspaces',
    headers: admin,
    payload: { name: "x'; DROP TABLE events" },
  });
  assert.equal(badName.statusCode, 400);
  assert.equal(badName.json().code, 'INTAKE_ERR_INVALID_BODY');

  assert.ok(await t.store.profiles.getUser(ws.id, 'u'), 'the profile exists before');
  const del = await t.app.inject({ method: 'DELETE', url: `/admin/workspaces/${ws.id}`, headers: admin });
  assert.equal(del.statusCode, 204);
  assert.equal(await t.store.profiles.getUser(ws.id, 'u'), null, 'profiles go with the workspace');
  assert.equal(
    (
      await t.store.events.listEvents(ws.id, {
        json: [],
        orderBy: 'timestamp',
        direction: 'ASC',
        limit: 10,
        offset: 0,
      })
    ).total,
    0,
  );
  assert.equal((await track(ws.write, 'u', 'doomed-2')).statusCode, 401);
  const own = await t.app.inject({ method: 'GET', url: '/admin/workspaces', headers: admin });
  const me = (own.json().results as { id: string; name: string }[]).find((w) => w.name === 'default');
  const self = await t.app.inject({ method: 'DELETE', url: `/admin/workspaces/${me?.id}`, headers: admin });
  assert.equal(self.statusCode, 409, 'an admin key cannot delete its own workspace');
  const missing = await t.app.inject({ method: 'DELETE', url: `/admin/workspaces/${ws.id}`, headers: admin });
  assert.equal(missing.statusCode, 404);
});
