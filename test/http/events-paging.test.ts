// GET /events paged by token: `next` and `after` (or `cursor`), what `total` says on each page, and bad tokens.
// The store's side (every order field, ties, nulls) is in the store contract (test/store/contract/events.ts).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { basic, bearer, KEYS, startTestApp, type TestApp } from '../helpers.ts';

let t: TestApp;
before(async () => {
  t = await startTestApp();
});
after(() => t.close());

interface Answer {
  results: Array<{ messageId: string; event: string | null; timestamp: string }>;
  limit: number;
  offset: number;
  total: number | null;
  next: string | null;
}

const T0 = Date.UTC(2026, 2, 1);

async function send(batch: Array<Record<string, unknown>>, writeKey: string = KEYS.write): Promise<void> {
  const r = await t.app.inject({
    method: 'POST',
    url: '/v1/batch',
    headers: { authorization: basic(writeKey) },
    payload: { batch },
  });
  assert.equal(r.statusCode, 200, r.body);
  assert.equal((r.json() as { accepted: number }).accepted, batch.length, r.body);
}

/** A track event of user `u`, named `name`, `s` seconds after T0. */
const track = (messageId: string, u: string, s: number, name = 'Seen') => ({
  type: 'track',
  event: name,
  userId: u,
  messageId,
  timestamp: new Date(T0 + s * 1000).toISOString(),
});

async function get(qs: string, readKey: string = KEYS.read) {
  return t.app.inject({ method: 'GET', url: `/events?${qs}`, headers: { authorization: bearer(readKey) } });
}

async function page(qs: string): Promise<Answer> {
  const r = await get(qs);
  assert.equal(r.statusCode, 200, `${qs}: ${r.body}`);
  return r.json() as Answer;
}

test('paging on from each next returns every event once, in order, while others arrive; total is the first page’s', async () => {
  const orders = [
    '',
    'orderByField=timestamp&orderByDirection=ASC',
    'orderByField=receivedAt&orderByDirection=ASC',
    'orderByField=event&orderByDirection=DESC',
    'orderByField=messageId',
  ];
  for (const [k, order] of orders.entries()) {
    const user = `pager-${k}`;
    // Ten events, each time shared by two of them, names repeating.
    await send(
      Array.from({ length: 10 }, (_, i) =>
        track(`p${k}-${i}`, user, Math.floor(i / 2), ['a', 'b', 'c'][i % 3] as string),
      ),
    );
    const base = `userId=${user}${order ? `&${order}` : ''}`;
    const expected = (await page(`${base}&limit=1000`)).results.map((e) => e.messageId);
    assert.equal(expected.length, 10);
    const seen: string[] = [];
    let next: string | null = null;
    for (let pages = 0; ; pages++) {
      assert.ok(pages < 20, 'paging ends');
      const p: Answer = await page(`${base}&limit=3${next ? `&after=${next}` : ''}`);
      assert.equal(p.total, 10, `${order || 'default order'}: the total when paging began, page ${pages}`);
      assert.ok(p.results.length <= 3);
      seen.push(...p.results.map((e) => e.messageId));
      if (!p.next) break;
      next = p.next;
      if (pages >= 3) continue;
      // Events of this user arrive between the first pages, anywhere in the order.
      await send([
        track(`late${k}-${pages}a`, user, pages, 'b'),
        track(`late${k}-${pages}b`, user, -1 - pages, 'z'),
        track(`late${k}-${pages}c`, user, 100 + pages, 'a'),
      ]);
    }
    const what = order || 'default order';
    assert.equal(new Set(seen).size, seen.length, `${what}: none twice`);
    assert.deepEqual(
      seen.filter((id) => !id.startsWith('late')),
      expected,
      `${what}: every event there when paging began, once, in order`,
    );
    // total=true counts again, arrivals included.
    const now = (await page(`${base}&limit=1000`)).total as number;
    assert.ok(now > 10);
    assert.equal((await page(`${base}&limit=3&after=${next}&total=true`)).total, now);
  }
});

test('offset pages carry a next too; total=false skips the count; the cursor alias and the next page of a page', async () => {
  await send(Array.from({ length: 7 }, (_, i) => track(`o${i}`, 'offsets', i)));
  const first = await page('userId=offsets&limit=3&offset=2&orderByDirection=ASC');
  assert.deepEqual(
    [first.results.map((e) => e.messageId), first.total, first.offset],
    [['o2', 'o3', 'o4'], 7, 2],
  );
  const second = await page(`userId=offsets&limit=3&orderByDirection=asc&cursor=${first.next}`);
  assert.deepEqual(
    [second.results.map((e) => e.messageId), second.total, second.next],
    [['o5', 'o6'], 7, null],
  );
  const uncounted = await page('userId=offsets&limit=3&total=false');
  assert.deepEqual([uncounted.results.length, uncounted.total], [3, null]);
  const rest = await page(`userId=offsets&limit=10&after=${uncounted.next}`);
  assert.deepEqual([rest.results.map((e) => e.messageId), rest.total], [['o3', 'o2', 'o1', 'o0'], null]);
  const short = await page('userId=offsets&limit=10&total=false');
  assert.deepEqual(
    [short.results.length, short.total, short.next],
    [7, 7, null],
    'a short first page tells it',
  );
});

async function expectError(qs: string, status: number, code: string, message: RegExp, readKey?: string) {
  const r = await get(qs, readKey);
  assert.equal(r.statusCode, status, `${qs}: ${r.body}`);
  const body = r.json() as { code: string; message: string };
  assert.equal(body.code, code, r.body);
  assert.match(body.message, message);
}

test('a token that is not a token of this query is a coded 400 naming the parameter', async () => {
  await send(Array.from({ length: 4 }, (_, i) => track(`b${i}`, 'tokens', i, i % 2 ? 'x' : 'y')));
  const { next } = await page('userId=tokens&limit=2&orderByField=event');
  assert.ok(next);
  const ok = await page(`userId=tokens&limit=2&orderByField=event&after=${next}`);
  assert.equal(ok.results.length, 2);
  const forged = (body: unknown) => Buffer.from(JSON.stringify(body)).toString('base64url');
  const [, value, id, bound] = JSON.parse(Buffer.from(next, 'base64url').toString()) as unknown[];
  for (const [qs, message] of [
    ['after=nonsense', /after is not a page token/],
    ['after=%25%25%25', /after is not a page token/],
    [`after=${forged({ a: 1 })}`, /after is not a page token/],
    [`after=${forged([2, value, id, bound, 4])}`, /after is not a page token/],
    [`after=${forged([1, 12345, id, bound, 4])}`, /after is not a page token/],
    [`cursor=${forged([1, value, 7, bound, 4])}`, /cursor is not a page token/],
    [`after=${forged([1, value, id, bound, -1])}`, /after is not a page token/],
    [`after=${forged([1, value, id, 'other', 4])}`, /after belongs to another query/],
    [`after=${next}&orderByDirection=ASC`, /after belongs to another query/],
    [`after=${next}&event=x`, /after belongs to another query/],
    [`after=${next}&properties.plan=pro`, /after belongs to another query/],
    [`after=${next}&cursor=${next}`, /give one/],
  ] as const) {
    await expectError(
      `userId=tokens&limit=2&orderByField=event&${qs}`,
      400,
      'INTAKE_ERR_INVALID_CURSOR',
      message,
    );
  }
  // A time order's token holds a number: text in its place is refused too.
  const timeNext = (await page('userId=tokens&limit=2')).next as string;
  const [, time, tid, tb] = JSON.parse(Buffer.from(timeNext, 'base64url').toString()) as unknown[];
  assert.equal(typeof time, 'number');
  await expectError(
    `userId=tokens&limit=2&after=${forged([1, String(time), tid, tb, 4])}`,
    400,
    'INTAKE_ERR_INVALID_CURSOR',
    /not a page token/,
  );
  await expectError(
    `userId=tokens&limit=2&orderByField=event&after=${next}&offset=2`,
    400,
    'INTAKE_ERR_INVALID_PARAMETER',
    /offset cannot be used with after/,
  );
  await expectError('userId=tokens&total=maybe', 400, 'INTAKE_ERR_INVALID_PARAMETER', /total/);

  // Another workspace's token, for the same parameters, is refused.
  const admin = { authorization: bearer(KEYS.admin) };
  const created = await t.app.inject({
    method: 'POST',
    url: '/admin/workspaces',
    headers: admin,
    payload: { name: 'tokens-b' },
  });
  assert.equal(created.statusCode, 201, created.body);
  const keys = (created.json() as { keys: Array<{ key: { kind: string }; secret: string }> }).keys;
  const secret = (kind: string) => keys.find((k) => k.key.kind === kind)?.secret as string;
  await send(
    Array.from({ length: 4 }, (_, i) => track(`b${i}`, 'tokens', i, i % 2 ? 'x' : 'y')),
    secret('write'),
  );
  await expectError(
    `userId=tokens&limit=2&orderByField=event&after=${next}`,
    400,
    'INTAKE_ERR_INVALID_CURSOR',
    /another workspace/,
    secret('read'),
  );
});
