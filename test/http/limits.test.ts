// Rate limits per write key through the HTTP API, on a clock the test moves: requests/s checked before the body
// is read (key in a header) or after (key in the body), events/s charged for the whole request, per-key buckets,
// key limits over workspace limits, and what a refused request leaves behind (nothing).
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { allEvents, basic, bearer, KEYS, startTestApp, type TestApp } from '../helpers.ts';

let t: TestApp;
let ms = Date.parse('2026-03-01T12:00:00.000Z');
const tick = (by: number) => {
  ms += by;
};
let wsId = '';
const admin = { authorization: bearer(KEYS.admin) };

before(async () => {
  t = await startTestApp({ now: () => new Date(ms) });
  wsId = t.keys.findWorkspaceByName('default')?.id ?? '';
});
after(() => t.close());

const setLimit = async (rateLimit: unknown) => {
  const r = await t.app.inject({
    method: 'PATCH',
    url: `/admin/workspaces/${wsId}/settings`,
    headers: admin,
    payload: { rateLimit },
  });
  assert.equal(r.statusCode, 200, r.body);
  return r.json();
};
beforeEach(async () => {
  await setLimit(null);
  tick(3_600_000); // every bucket of the previous test is full again
});

let seq = 0;
const track = (key: string = KEYS.write, extra: Record<string, string> = {}) =>
  t.app.inject({
    method: 'POST',
    url: '/v1/track',
    headers: { authorization: basic(key), ...extra },
    payload: { userId: 'u', event: 'E', messageId: `lim-${seq++}` },
  });
const batch = (n: number, key: string = KEYS.write, prefix = `b-${seq++}`) =>
  t.app.inject({
    method: 'POST',
    url: '/v1/batch',
    headers: { authorization: basic(key) },
    payload: {
      batch: Array.from({ length: n }, (_, i) => ({
        type: 'track',
        userId: 'u',
        event: 'E',
        messageId: `${prefix}-${i}`,
      })),
    },
  });

function assertLimited(res: Awaited<ReturnType<typeof track>>, limit: string, retryAfter: number) {
  assert.equal(res.statusCode, 429, res.body);
  assert.equal(res.headers['retry-after'], String(retryAfter));
  const body = res.json();
  assert.equal(body.code, 'INTAKE_ERR_RATE_LIMITED');
  assert.equal(body.statusCode, 429);
  assert.equal(body.details.limit, limit);
  assert.equal(body.details.retryAfter, retryAfter);
  assert.match(body.message, new RegExp(`${limit}/s`));
}

test('no limit by default: a burst of requests all pass', async () => {
  const ws = t.keys.getWorkspace(wsId);
  assert.equal(ws?.settings.rateLimit, undefined);
  for (let i = 0; i < 50; i++) assert.equal((await track()).statusCode, 200);
});

test('requests/s: the burst passes, then 429 + Retry-After until tokens come back', async () => {
  const ws = await setLimit({ requests: { perSecond: 2, burst: 3 } });
  assert.deepEqual(ws.settings.rateLimit, { requests: { perSecond: 2, burst: 3 } });
  for (let i = 0; i < 3; i++) assert.equal((await track()).statusCode, 200);
  assertLimited(await track(), 'requests', 1);
  tick(499);
  assertLimited(await track(), 'requests', 1);
  tick(1);
  assert.equal((await track()).statusCode, 200, 'one token after 500 ms');
  assertLimited(await track(), 'requests', 1);
  tick(10_000);
  for (let i = 0; i < 3; i++) assert.equal((await track()).statusCode, 200, 'refilled to the burst, no more');
  assertLimited(await track(), 'requests', 1);
});

test('requests/s is checked before the body is read when the key is in a header', async () => {
  await setLimit({ requests: { perSecond: 1, burst: 1 } });
  const badJson = () =>
    t.app.inject({
      method: 'POST',
      url: '/v1/batch',
      headers: { authorization: basic(KEYS.write), 'content-type': 'application/json' },
      payload: '{"batch": [',
    });
  assert.equal((await badJson()).json().code, 'INTAKE_ERR_INVALID_JSON', 'the first one is read');
  assertLimited(await badJson(), 'requests', 1); // a parse would have answered 400
});

test('keys sent in the body (Segment writeKey, PostHog api_key) are limited once the body is parsed', async () => {
  await setLimit({ requests: { perSecond: 1, burst: 2 } });
  const segment = () =>
    t.app.inject({
      method: 'POST',
      url: '/v1/track',
      payload: { writeKey: KEYS.write, userId: 'u', event: 'E', messageId: `body-${seq++}` },
    });
  const posthog = () =>
    t.app.inject({
      method: 'POST',
      url: '/capture/',
      payload: { api_key: KEYS.write, event: 'e', distinct_id: 'u', uuid: `ph-${seq++}` },
    });
  assert.equal((await segment()).statusCode, 200);
  assert.equal((await posthog()).statusCode, 200);
  assertLimited(await segment(), 'requests', 1);
  assertLimited(await posthog(), 'requests', 1);
  tick(1000);
  assert.equal((await posthog()).statusCode, 200);
});

test('events/s: a batch over the bucket is refused whole and stores nothing; batches over the burst pass from a full bucket', async () => {
  await setLimit({ events: { perSecond: 10, burst: 20 } });
  assert.equal((await batch(15)).statusCode, 200);
  const refused = await batch(10, KEYS.write, 'refused');
  assertLimited(refused, 'events', 1);
  assert.match(refused.json().message, /10 events were not stored/);
  tick(500);
  assert.equal((await batch(10)).statusCode, 200, '5 left + 5 refilled');
  assertLimited(await track(), 'events', 1);

  tick(2000); // full again
  assert.equal((await batch(50)).statusCode, 200, 'larger than the burst, from a full bucket');
  assertLimited(await track(), 'events', 4); // 30 below zero: 31 tokens = 3.1 s
  tick(3100);
  assert.equal((await track()).statusCode, 200);

  const stored = await allEvents(t.app, KEYS.read, 'messageId=refused-0');
  assert.equal(stored.length, 0);
});

test('a refused request keeps nothing: no rejections of a dialect either', async () => {
  await setLimit({ events: { perSecond: 1, burst: 3 } });
  const rejectedCount = async () =>
    (
      await t.app.inject({
        method: 'GET',
        url: '/rejected?limit=1',
        headers: { authorization: bearer(KEYS.read) },
      })
    ).json().total as number;
  const before = await rejectedCount();
  const seqBatch = () =>
    t.app.inject({
      method: 'POST',
      url: '/event/batch',
      headers: { authorization: bearer(KEYS.write) },
      payload: {
        batch: [
          { type: 'track', event: 'E', userId: 'u', messageId: `sq-${seq++}` },
          { type: 'page', userId: 'u' }, // Sequence refuses pages itself
        ],
      },
    });
  assert.equal((await seqBatch()).statusCode, 200);
  assert.equal(await rejectedCount(), before + 1);
  // Sequence answers its errors in its own shape ({success: false, error, code}), a 429 included.
  const refused = await seqBatch(); // 1 token left, 2 items
  assert.equal(refused.statusCode, 429, refused.body);
  assert.equal(refused.headers['retry-after'], '1');
  assert.equal(refused.json().success, false);
  assert.equal(refused.json().code, 'INTAKE_ERR_RATE_LIMITED');
  assert.equal(await rejectedCount(), before + 1, 'the refused request wrote no rejection');
});

test("each key has its own buckets; a key's own limit replaces the workspace's; read keys are not limited", async () => {
  await setLimit({ requests: { perSecond: 1, burst: 1 } });
  const other = await t.app.inject({
    method: 'POST',
    url: `/admin/workspaces/${wsId}/keys`,
    headers: admin,
    payload: { kind: 'write', name: 'server', rateLimit: { requests: { perSecond: 100 } } },
  });
  assert.equal(other.statusCode, 201, other.body);
  const { key, secret } = other.json();
  assert.deepEqual(key.rateLimit, { requests: { perSecond: 100, burst: 100 } }, 'burst defaults to 1 s');

  assert.equal((await track()).statusCode, 200);
  assertLimited(await track(), 'requests', 1);
  for (let i = 0; i < 50; i++) assert.equal((await track(secret)).statusCode, 200, 'its own bucket');

  const third = await t.app.inject({
    method: 'POST',
    url: `/admin/workspaces/${wsId}/keys`,
    headers: admin,
    payload: { kind: 'write' },
  });
  const thirdSecret = third.json().secret;
  assert.equal((await track(thirdSecret)).statusCode, 200, 'the workspace limit, in a bucket of its own');
  assertLimited(await track(thirdSecret), 'requests', 1);

  // Lowering the key's limit applies to the next request.
  const patched = await t.app.inject({
    method: 'PATCH',
    url: `/admin/workspaces/${wsId}/keys/${key.id}`,
    headers: admin,
    payload: { rateLimit: { requests: { perSecond: 1, burst: 1 } } },
  });
  assert.equal(patched.statusCode, 200, patched.body);
  tick(1000);
  assert.equal((await track(secret)).statusCode, 200);
  assertLimited(await track(secret), 'requests', 1);
  // null: back to the workspace's limit.
  const back = await t.app.inject({
    method: 'PATCH',
    url: `/admin/workspaces/${wsId}/keys/${key.id}`,
    headers: admin,
    payload: { rateLimit: null },
  });
  assert.equal(back.json().rateLimit, null);

  for (let i = 0; i < 5; i++) {
    const r = await t.app.inject({
      method: 'GET',
      url: '/events?limit=1',
      headers: { authorization: bearer(KEYS.read) },
    });
    assert.equal(r.statusCode, 200);
  }
});

test('an unknown key is still a 401, not a 429', async () => {
  await setLimit({ requests: { perSecond: 1, burst: 1 } });
  const r = await track('no-such-key');
  assert.equal(r.statusCode, 401);
});

test('bad limits are a coded 400 naming the field, and change nothing', async () => {
  await setLimit({ events: { perSecond: 5 } });
  const patch = (payload: unknown) =>
    t.app.inject({
      method: 'PATCH',
      url: `/admin/workspaces/${wsId}/settings`,
      headers: admin,
      payload: payload as object,
    });
  for (const [rateLimit, field] of [
    [{ events: { perSecond: 0 } }, 'perSecond'],
    [{ events: { perSecond: -1 } }, 'perSecond'],
    [{ events: { perSecond: 5, burst: 0 } }, 'burst'],
    [{ events: { perSecond: 5, burst: 1.5 } }, 'burst'],
    [{ events: { perSecond: 1e12 } }, 'perSecond'],
    [{ events: { burst: 5 } }, 'perSecond'],
    [{ events: { perSecond: 5, extra: 1 } }, 'additional'],
    [{ bytes: { perSecond: 5 } }, 'additional'],
    [{}, 'rateLimit'],
    ['fast', 'rateLimit'],
  ] as const) {
    const r = await patch({ rateLimit });
    assert.equal(r.statusCode, 400, `${JSON.stringify(rateLimit)}: ${r.body}`);
    assert.equal(r.json().code, 'INTAKE_ERR_INVALID_BODY');
    assert.match(r.json().message, new RegExp(field), r.json().message);
  }
  assert.deepEqual(t.keys.getWorkspace(wsId)?.settings.rateLimit, { events: { perSecond: 5, burst: 5 } });
  const readKey = t.keys.resolve(KEYS.read);
  const onRead = await t.app.inject({
    method: 'PATCH',
    url: `/admin/workspaces/${wsId}/keys/${readKey?.id}`,
    headers: admin,
    payload: { rateLimit: { requests: { perSecond: 1 } } },
  });
  assert.equal(onRead.statusCode, 400);
  assert.equal(onRead.json().code, 'INTAKE_ERR_INVALID_BODY');
  assert.match(onRead.json().message, /ingest scope/);
  const byWrite = await t.app.inject({
    method: 'PATCH',
    url: `/admin/workspaces/${wsId}/settings`,
    headers: { authorization: bearer(KEYS.write) },
    payload: { rateLimit: null },
  });
  assert.equal(byWrite.statusCode, 403);
});
