// The identity graph over HTTP: anonymous browsing, sign-in and alias end in one person whatever the arrival
// order, and the ids-per-person cap stops a shared id from merging everyone.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestApp, type TestApp } from '../helpers.ts';
import { at, get, type Item, permutations, send } from './util.ts';

let t: TestApp;
before(async () => {
  t = await startTestApp();
});
after(() => t.close());

/** Browse anonymously, sign in (identify), act signed in, alias an old CRM id that has its own history. */
function story(s: string): Item[] {
  const anon = `anon-${s}`;
  const user = `user-${s}`;
  const crm = `crm-${s}`;
  return [
    { type: 'page', name: 'Home', anonymousId: anon, messageId: `${s}-1`, timestamp: at(1) },
    {
      type: 'identify',
      userId: user,
      anonymousId: anon,
      traits: { email: `${s}@x.io`, plan: 'free', address: { city: 'Berlin' } },
      messageId: `${s}-2`,
      timestamp: at(2),
    },
    {
      type: 'track',
      event: 'Upgraded',
      userId: user,
      context: { traits: { plan: 'pro' } },
      messageId: `${s}-3`,
      timestamp: at(3),
    },
    { type: 'alias', previousId: crm, userId: user, messageId: `${s}-4`, timestamp: at(4) },
    {
      type: 'identify',
      userId: crm,
      traits: { plan: 'legacy', address: { zip: '10115' } },
      messageId: `${s}-5`,
      timestamp: at(0),
    },
  ];
}

async function assertOnePerson(s: string, label: string): Promise<void> {
  const ids = [`anon-${s}`, `user-${s}`, `crm-${s}`];
  for (const id of ids) {
    const u = await get(t.app, `/users/${id}`);
    assert.equal(u.status, 200, `${label}: GET /users/${id}`);
    // The canonical id is the smallest userId: crm-... sorts before user-....
    assert.equal(u.body.id, `crm-${s}`, label);
    assert.deepEqual(u.body.userIds, [`crm-${s}`, `user-${s}`], label);
    assert.deepEqual(u.body.anonymousIds, [`anon-${s}`], label);
    assert.deepEqual(
      u.body.traits,
      { email: `${s}@x.io`, plan: 'pro', address: { city: 'Berlin', zip: '10115' } },
      label,
    );
    assert.equal(u.body.eventCount, 5, label);
  }
  const ev = await get(t.app, `/users/anon-${s}/events?limit=10`);
  assert.equal(ev.status, 200);
  assert.equal(ev.body.total, 5, label);
  assert.deepEqual(
    (ev.body.results as Item[]).map((e) => e.messageId),
    [`${s}-4`, `${s}-3`, `${s}-2`, `${s}-1`, `${s}-5`],
    `${label}: all five events, newest first`,
  );
  const list = await get(t.app, `/users?search=${encodeURIComponent(`-${s}`)}`);
  assert.equal(list.body.total, 1, `${label}: exactly one person holds these ids`);
}

test('every arrival order of the story (one event per commit) ends in the same single person', async () => {
  const orders = permutations([0, 1, 2, 3, 4]);
  assert.equal(orders.length, 120);
  const run = async (n: number) => {
    const order = orders[n] as number[];
    const events = story(`p${n}`);
    for (const i of order) await send(t.app, [events[i] as Item]);
    await assertOnePerson(`p${n}`, `order ${order.join('')}`);
  };
  // Eight stories at a time: each one's events still arrive in its order, one commit after another.
  for (let n = 0; n < orders.length; n += 8) {
    await Promise.all(Array.from({ length: 8 }, (_, k) => run(n + k)));
  }
});

test('the whole story in one batch, newest first, gives the same person', async () => {
  await send(t.app, story('batch').reverse());
  await assertOnePerson('batch', 'one batch');
});

test('a retried batch changes nothing (duplicates have no profile effect)', async () => {
  await send(t.app, story('retry'));
  await send(t.app, story('retry'));
  await assertOnePerson('retry', 'retried');
});

test('the ids-per-person cap (default 100) stops a shared device id from merging everyone', async () => {
  const users = Array.from({ length: 150 }, (_, i) => `shared-user-${String(i).padStart(3, '0')}`);
  const events = users.map((u, i) => ({
    type: 'track',
    event: 'Opened',
    userId: u,
    anonymousId: 'kiosk-device',
    messageId: `kiosk-${i}`,
    timestamp: at(i),
  }));
  for (let i = 0; i < events.length; i += 50) await send(t.app, events.slice(i, i + 50));
  // The same users on the same device again: still refused, recorded once per pair.
  await send(
    t.app,
    events.slice(100).map((e) => ({ ...e, messageId: `${e.messageId}-again`, timestamp: at(500) })),
  );
  const device = await get(t.app, '/users/kiosk-device');
  assert.equal(device.status, 200);
  const size = (device.body.userIds as string[]).length + (device.body.anonymousIds as string[]).length;
  assert.equal(size, 100, 'the device person stops at the cap');
  const last = await get(t.app, `/users/${users[149]}`);
  assert.equal(last.body.id, users[149], 'a user past the cap stays a person of its own');
  assert.deepEqual(last.body.anonymousIds, []);
  const refused = last.body.refusedMerges as Array<{ a: string; b: string; reason: string }>;
  assert.equal(refused.length, 1);
  assert.deepEqual([refused[0]?.a, refused[0]?.b], ['kiosk-device', users[149]]);
  assert.match(refused[0]?.reason ?? '', /cap of 100/);
  const evs = await get(t.app, `/users/${users[149]}/events`);
  assert.equal(evs.body.total, 2, 'the events themselves are stored');
});
