// Sequence POST /event/batch: the seed's request, per-item outcomes, its error shape, and the round trip.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { allEvents, basic, bearer, KEYS, startTestApp, type TestApp } from '../helpers.ts';

let t: TestApp;
before(async () => {
  t = await startTestApp();
});
after(() => t.close());

const post = (payload: unknown, authorization = bearer(KEYS.write)) =>
  t.app.inject({
    method: 'POST',
    url: '/event/batch',
    headers: { authorization, 'content-type': 'application/json' },
    payload: JSON.stringify(payload),
  });

test("the seed's example batch is stored as a track and an identify, each reported", async () => {
  const res = await post({
    batch: [
      {
        type: 'track',
        event: 'User Registered',
        userId: '6319fea8-80d1-4488-8a7b-2d524e3c1f2f',
        properties: { firstName: 'Tom', lastName: 'Jones', clickedButtonTimes: 5 },
        messageId: 'seq-1',
        timestamp: '2024-03-01T10:00:00.000Z',
      },
      {
        type: 'identify',
        userId: '6319fea8-80d1-4488-8a7b-2d524e3c1f2f',
        traits: { firstName: 'Tom', companyName: 'Tesla', phone: '+17173332222' },
      },
    ],
  });
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json();
  assert.equal(body.success, true);
  assert.equal(body.total, 2);
  assert.equal(body.errors, 0);
  assert.equal(body.processed, 2);
  assert.deepEqual(body.batch[0], { messageId: 'seq-1', success: true, processed: true });
  assert.equal(body.batch[1].success, true);
  assert.equal(body.batch[1].processed, true);
  assert.match(body.batch[1].messageId, /^[0-9a-f-]{36}$/, 'an assigned messageId is reported');

  const stored = await allEvents(t.app, KEYS.read, 'userId=6319fea8-80d1-4488-8a7b-2d524e3c1f2f');
  assert.equal(stored.length, 2);
  const track = stored.find((e) => e.type === 'track');
  const identify = stored.find((e) => e.type === 'identify');
  assert.equal(track?.event, 'User Registered');
  assert.equal(track?.messageId, 'seq-1');
  assert.equal(track?.source, 'sequence');
  assert.equal(track?.timestamp, '2024-03-01T10:00:00.000Z');
  assert.deepEqual(track?.properties, { firstName: 'Tom', lastName: 'Jones', clickedButtonTimes: 5 });
  assert.deepEqual(identify?.traits, { firstName: 'Tom', companyName: 'Tesla', phone: '+17173332222' });
  assert.equal(identify?.messageId, body.batch[1].messageId);
});

test('a repeated messageId is acknowledged as not processed and stored once', async () => {
  const item = { type: 'track', event: 'Paid', userId: 'dup-user', messageId: 'seq-dup-1' };
  const first = (await post({ batch: [item] })).json();
  assert.deepEqual(first.batch, [{ messageId: 'seq-dup-1', success: true, processed: true }]);
  const again = await post({ batch: [item, { ...item, messageId: 'seq-dup-2' }] });
  assert.equal(again.statusCode, 200);
  assert.deepEqual(again.json(), {
    success: true,
    total: 2,
    errors: 0,
    processed: 1,
    batch: [
      { messageId: 'seq-dup-1', success: true, processed: false },
      { messageId: 'seq-dup-2', success: true, processed: true },
    ],
  });
  const stored = await allEvents(t.app, KEYS.read, 'userId=dup-user');
  assert.deepEqual(stored.map((e) => e.messageId).sort(), ['seq-dup-1', 'seq-dup-2']);
});

test('items Sequence does not accept are refused one by one, with the reason, and kept at /rejected', async () => {
  const res = await post(
    {
      batch: [
        { type: 'page', userId: 'u-page', messageId: 'seq-page' },
        { type: 'track', event: 'Anon', anonymousId: 'anon-1', messageId: 'seq-anon' },
        { type: 'track', userId: 'u-noname', messageId: 'seq-noname' },
        { type: 'track', event: 'Fine', userId: 'u-fine', messageId: 'seq-fine' },
      ],
    },
    basic(KEYS.write),
  );
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json();
  assert.equal(body.success, false);
  assert.equal(body.total, 4);
  assert.equal(body.errors, 3);
  assert.equal(body.processed, 1);
  assert.deepEqual(
    body.batch.map((b: { messageId: string; success: boolean }) => [b.messageId, b.success]),
    [
      ['seq-page', false],
      ['seq-anon', false],
      ['seq-noname', false],
      ['seq-fine', true],
    ],
  );
  assert.match(body.batch[0].error, /track.*identify/);
  assert.match(body.batch[1].error, /userId/);
  assert.match(body.batch[2].error, /event/);
  assert.equal(body.batch[3].error, undefined);

  const rejected = await t.app.inject({
    method: 'GET',
    url: '/rejected?limit=100',
    headers: { authorization: bearer(KEYS.read) },
  });
  const ids = (rejected.json().results as { messageId: string; code: string }[]).map((r) => r.messageId);
  for (const id of ['seq-page', 'seq-anon', 'seq-noname']) assert.ok(ids.includes(id), `${id} kept`);
  assert.equal((await allEvents(t.app, KEYS.read, 'messageId=seq-page')).length, 0);
  assert.equal((await allEvents(t.app, KEYS.read, 'messageId=seq-fine')).length, 1);
});

test('a body without `batch` is a 400 in Sequence shape', async () => {
  for (const payload of [{}, { batch: 'nope' }, [1, 2]]) {
    const res = await post(payload);
    assert.equal(res.statusCode, 400, res.body);
    const body = res.json();
    assert.equal(body.success, false);
    assert.match(body.error, /batch/);
  }
});

test('an unknown key is a 401 in Sequence shape; a read key is refused', async () => {
  const res = await post({ batch: [] }, bearer('no-such-key'));
  assert.equal(res.statusCode, 401);
  assert.equal(res.json().success, false);
  assert.equal(res.json().code, 'INTAKE_ERR_UNAUTHORIZED');
  assert.ok(res.json().error.length > 0);
  const missing = await t.app.inject({ method: 'POST', url: '/event/batch', payload: { batch: [] } });
  assert.equal(missing.statusCode, 401);
  assert.equal(missing.json().success, false);
  const read = await post({ batch: [] }, bearer(KEYS.read));
  assert.equal(read.statusCode, 403);
  assert.equal(read.json().success, false);
});
