// GET /events?format=ndjson: every matching event as one JSON line, the same JSON GET /events answers.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { basic, bearer, KEYS, startTestApp, type TestApp } from '../helpers.ts';

let t: TestApp;
before(async () => {
  t = await startTestApp();
});
after(() => t.close());

const get = (qs: string, headers: Record<string, string> = {}) =>
  t.app.inject({
    method: 'GET',
    url: `/events?${qs}`,
    headers: { authorization: bearer(KEYS.read), ...headers },
  });

const lines = (body: string) =>
  body
    .split('\n')
    .slice(0, -1)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

const byId = (a: Record<string, unknown>, b: Record<string, unknown>) =>
  String(a.messageId) < String(b.messageId) ? -1 : 1;

test('every matching event, once each, as GET /events answers it, over several chunks', async () => {
  // More events than DuckDB hands over in one chunk (2,048), in two batches.
  for (const part of [0, 1]) {
    const r = await t.app.inject({
      method: 'POST',
      url: '/v1/batch',
      headers: { authorization: basic(KEYS.write) },
      payload: {
        batch: Array.from({ length: 1300 }, (_, i) => ({
          type: 'track',
          event: i % 2 ? 'Odd' : 'Even',
          userId: `x${i % 3}`,
          messageId: `x-${part}-${i}`,
          properties: { i, tag: 'ü "q"' },
        })),
      },
    });
    assert.equal(r.statusCode, 200, r.body);
  }
  const all = await get('format=ndjson');
  assert.equal(all.statusCode, 200, all.body);
  assert.match(String(all.headers['content-type']), /^application\/x-ndjson/);
  const events = lines(all.body);
  assert.equal(events.length, 2600);
  assert.equal(new Set(events.map((e) => e.messageId)).size, 2600);

  // The same events, the same JSON, as the paged answer.
  const filtered = lines((await get('format=ndjson&userId=x1&event=Odd')).body).sort(byId);
  const paged: Record<string, unknown>[] = [];
  let next: string | null = null;
  do {
    const r = await get(`userId=x1&event=Odd&limit=1000${next ? `&after=${next}` : ''}`);
    const body = r.json() as { results: Record<string, unknown>[]; next: string | null };
    paged.push(...body.results);
    next = body.next;
  } while (next);
  assert.ok(filtered.length > 400);
  assert.deepEqual(filtered, paged.sort(byId));

  const viaAccept = await get('userId=x2&properties.i=4', { accept: 'application/x-ndjson' });
  assert.deepEqual(
    lines(viaAccept.body).map((e) => e.messageId),
    [],
    'x2 never had i=4 (4 % 3 = 1): no line',
  );
  assert.deepEqual(
    lines((await get('userId=x1&properties.i=4', { accept: 'application/x-ndjson' })).body)
      .map((e) => e.messageId)
      .sort(),
    ['x-0-4', 'x-1-4'],
  );
  const none = await get('format=ndjson&userId=nobody');
  assert.deepEqual([none.statusCode, none.body], [200, '']);
});

test('page parameters are a 400 naming them; a bad filter is the usual 400', async () => {
  for (const name of [
    'limit=10',
    'offset=5',
    'orderByField=event',
    'orderByDirection=ASC',
    'total=true',
    'after=x',
  ]) {
    const r = await get(`format=ndjson&${name}`);
    assert.equal(r.statusCode, 400, r.body);
    const body = r.json() as { code: string; message: string };
    assert.equal(body.code, 'INTAKE_ERR_INVALID_PARAMETER');
    assert.match(body.message, new RegExp(`^${name.split('=')[0]} does not apply to format=ndjson`));
  }
  const bad = await get('format=ndjson&startDate=yesterday');
  assert.equal(bad.statusCode, 400);
  assert.match((bad.json() as { message: string }).message, /startDate/);
  const format = await get('format=xml');
  assert.equal(format.statusCode, 400);
});
