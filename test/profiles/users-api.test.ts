// The users API: isolation between workspaces, listing with search and trait filters, groups, and the
// UserFlux profile pair.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { bearer, KEYS, startTestApp, type TestApp } from '../helpers.ts';
import { at, get, type Item, send } from './util.ts';

let t: TestApp;
before(async () => {
  t = await startTestApp();
});
after(() => t.close());

async function newWorkspace(name: string) {
  const r = await t.app.inject({
    method: 'POST',
    url: '/admin/workspaces',
    headers: { authorization: bearer(KEYS.admin) },
    payload: { name },
  });
  assert.equal(r.statusCode, 201, r.body);
  const keys = r.json().keys as { key: { kind: string }; secret: string }[];
  const secret = (kind: string) => keys.find((k) => k.key.kind === kind)?.secret as string;
  return { write: secret('write'), read: secret('read'), admin: secret('admin') };
}

test('the same userId in two workspaces is two people', async () => {
  const other = await newWorkspace('profiles-other');
  await send(t.app, [
    {
      type: 'identify',
      userId: 'same-user',
      anonymousId: 'anon-a',
      traits: { plan: 'pro' },
      messageId: 'iso-1',
    },
  ]);
  await send(
    t.app,
    [
      {
        type: 'identify',
        userId: 'same-user',
        anonymousId: 'anon-b',
        traits: { plan: 'free' },
        messageId: 'iso-1',
      },
    ],
    other.write,
  );
  const a = await get(t.app, '/users/same-user');
  const b = await get(t.app, '/users/same-user', other.read);
  assert.deepEqual([a.body.anonymousIds, a.body.traits], [['anon-a'], { plan: 'pro' }]);
  assert.deepEqual([b.body.anonymousIds, b.body.traits], [['anon-b'], { plan: 'free' }]);
  assert.equal((await get(t.app, '/users/anon-b')).status, 404, "workspace A cannot see B's ids");
  assert.equal((await get(t.app, '/users/anon-a', other.read)).status, 404);
  assert.equal((await get(t.app, '/users/same-user/events', other.read)).body.total, 1);
  // Deleting in one workspace leaves the other's person alone.
  const del = await t.app.inject({
    method: 'DELETE',
    url: '/users/same-user',
    headers: { authorization: bearer(other.admin) },
  });
  assert.equal(del.statusCode, 202);
  const job = del.json().id as string;
  for (
    let i = 0;
    i < 100 && (await get(t.app, `/deletions/${job}`, other.read)).body.status !== 'done';
    i++
  ) {
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(
    (await get(t.app, `/deletions/${job}`)).status,
    404,
    'a job is not visible from another workspace',
  );
  assert.equal((await get(t.app, '/users/same-user', other.read)).status, 404);
  assert.equal((await get(t.app, '/users/same-user')).status, 200);
  assert.equal((await get(t.app, '/users/same-user/events')).body.total, 1);
});

test('GET /users searches ids and common traits, filters on traits, and pages', async () => {
  const people: Item[] = Array.from({ length: 5 }, (_, i) => ({
    type: 'identify',
    userId: `list-${i}`,
    traits: {
      email: `person${i}@list.example`,
      name: i === 3 ? 'Zelda Q' : `P ${i}`,
      plan: i % 2 ? 'pro' : 'free',
    },
    messageId: `list-${i}`,
    timestamp: at(i),
  }));
  await send(t.app, people);
  const pro = await get(t.app, '/users?trait.plan=pro&search=list-');
  assert.deepEqual((pro.body.results as Item[]).map((u) => u.id).sort(), ['list-1', 'list-3']);
  assert.equal((await get(t.app, '/users?search=zelda')).body.total, 1, 'search matches the name trait');
  assert.equal(
    (await get(t.app, '/users?search=PERSON4@')).body.total,
    1,
    'and the email, case-insensitively',
  );
  const page = await get(t.app, '/users?search=list.example&limit=2&offset=0');
  assert.equal(page.body.total, 5);
  assert.deepEqual(
    (page.body.results as Item[]).map((u) => u.id),
    ['list-4', 'list-3'],
    'most recently seen first',
  );
  const bad = await get(t.app, '/users?plan=pro');
  assert.equal(bad.status, 400);
  assert.equal(bad.body.code, 'INTAKE_ERR_INVALID_PARAMETER');
  assert.equal((await get(t.app, '/users', KEYS.write)).status, 403);
});

test('group calls create and merge group profiles and memberships; events carry their group', async () => {
  await send(t.app, [
    {
      type: 'group',
      userId: 'g-ann',
      groupId: 'org-1',
      traits: { name: 'Org', plan: 'a' },
      messageId: 'g1',
      timestamp: at(1),
    },
    {
      type: 'group',
      anonymousId: 'g-anon',
      groupId: 'org-1',
      traits: { plan: 'b', size: 3 },
      messageId: 'g2',
      timestamp: at(2),
    },
    {
      type: 'group',
      userId: 'g-bob',
      groupId: 'org-1',
      traits: { plan: null },
      messageId: 'g3',
      timestamp: at(0),
    },
  ]);
  const g = await get(t.app, '/groups/org-1');
  assert.equal(g.status, 200);
  assert.deepEqual(g.body.traits, { name: 'Org', plan: 'b', size: 3 });
  assert.equal(g.body.memberCount, 3);
  const members = await get(t.app, '/groups/org-1/users');
  assert.deepEqual(
    (members.body.results as Item[]).map((u) => u.id),
    ['g-ann', 'g-anon', 'g-bob'],
  );
  assert.deepEqual((await get(t.app, '/users/g-ann')).body.groups, ['org-1']);
  const ev = await get(t.app, '/users/g-ann/events');
  assert.equal((ev.body.results as Item[])[0]?.groupId, 'org-1');
  assert.equal((await get(t.app, '/groups/nope')).status, 404);
});

test('UserFlux POST /profile merges properties as traits; GET /profile/:userId reads them back', async () => {
  const post = (body: unknown, key: string = KEYS.write) =>
    t.app.inject({
      method: 'POST',
      url: '/profile',
      headers: { authorization: bearer(key) },
      payload: body as object,
    });
  const first = await post({ userId: 'uf-1', anonymousId: 'uf-anon', properties: { plan: 'pro', seats: 3 } });
  assert.equal(first.statusCode, 204, first.body);
  assert.equal((await post({ userId: 'uf-1', properties: { seats: null, role: 'admin' } })).statusCode, 204);
  assert.equal((await post({ properties: { a: 1 } })).statusCode, 400, 'needs an id');
  assert.equal((await post({ userId: 'uf-1' }, KEYS.read)).statusCode, 403);
  const p = await get(t.app, '/profile/uf-anon');
  assert.equal(p.status, 200);
  assert.deepEqual(p.body, {
    userId: 'uf-1',
    userIds: ['uf-1'],
    anonymousIds: ['uf-anon'],
    properties: { plan: 'pro', role: 'admin' },
    groups: [],
    firstSeen: p.body.firstSeen,
    lastSeen: p.body.lastSeen,
    eventCount: 2,
  });
  assert.equal((await get(t.app, '/profile/nobody')).status, 404);
});
