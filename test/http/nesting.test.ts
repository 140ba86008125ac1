// Deeply nested JSON: an event past the nesting limit is a coded 400 kept at /rejected, its batch's other
// events are stored, and a body 100,000 levels deep anywhere, on any ingest route, is never a 5xx.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MAX_DEPTH } from '../../src/pipeline/json.ts';
import { allEvents, bearer, KEYS, startTestApp, type TestApp } from '../helpers.ts';

let t: TestApp;
before(async () => {
  t = await startTestApp();
});
after(() => t.close());

const write = { authorization: bearer(KEYS.write), 'content-type': 'application/json' };
const post = (url: string, payload: string, headers: Record<string, string> = write) =>
  t.app.inject({ method: 'POST', url, headers, payload });

/** JSON text of `levels` nested objects ({"a":{"a":...1}}), built as text: the test must not recurse either. */
const deepObject = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
const deepArray = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;
const DEEP = 100_000;

async function rejectedRows(): Promise<{ messageId: string | null; code: string; payload: unknown }[]> {
  const r = await t.app.inject({
    method: 'GET',
    url: '/rejected?limit=1000',
    headers: { authorization: bearer(KEYS.read) },
  });
  assert.equal(r.statusCode, 200, r.body.slice(0, 300));
  return r.json().results;
}

test('a track whose properties nest 100,000 levels is a 400 INTAKE_ERR_NESTED_TOO_DEEP, kept at /rejected', async () => {
  const r = await post(
    '/v1/track',
    `{"userId":"u","event":"Deep","messageId":"deep-track","properties":${deepObject(DEEP)}}`,
  );
  assert.equal(r.statusCode, 400, r.body.slice(0, 300));
  assert.equal(r.json().code, 'INTAKE_ERR_NESTED_TOO_DEEP');
  assert.match(r.json().message, /properties/);
  assert.match(r.json().message, /64/);
  const kept = (await rejectedRows()).find((x) => x.messageId === 'deep-track');
  assert.equal(kept?.code, 'INTAKE_ERR_NESTED_TOO_DEEP');
  // The payload is the item's JSON cut at 64 Ki characters, as for any other refused item.
  const payload = kept?.payload;
  assert.ok(typeof payload === 'string');
  assert.ok(payload.startsWith('{"userId":"u","event":"Deep","messageId":"deep-track"'));
  assert.equal(payload.length, 65_536);
});

test('in a batch the deep event is rejected alone; the others are stored', async () => {
  for (const [field, deep] of [
    ['properties', deepObject(DEEP)],
    ['traits', deepArray(DEEP).replace(/^\[/, '{"x":[').replace(/\]$/, ']}')],
    ['context', deepObject(DEEP)],
    ['integrations', deepObject(MAX_DEPTH + 1)],
  ] as const) {
    const body = `{"batch":[{"type":"identify","userId":"u","messageId":"ok-a-${field}"},{"type":"identify","userId":"u","messageId":"deep-${field}","${field}":${deep}},{"type":"track","event":"E","userId":"u","messageId":"ok-b-${field}"}]}`;
    const r = await post('/v1/batch', body);
    assert.equal(r.statusCode, 200, r.body.slice(0, 300));
    assert.equal(r.json().accepted, 2, field);
    assert.deepEqual(
      r.json().rejected.map((x: { index: number; code: string; message: string }) => [x.index, x.code]),
      [[1, 'INTAKE_ERR_NESTED_TOO_DEEP']],
    );
    assert.match(r.json().rejected[0].message, new RegExp(field));
    const stored = await allEvents(t.app, KEYS.read, 'userId=u');
    assert.ok(stored.some((e) => e.messageId === `ok-a-${field}`));
    assert.ok(stored.some((e) => e.messageId === `ok-b-${field}`));
    assert.ok(!stored.some((e) => e.messageId === `deep-${field}`));
  }
});

test(`${MAX_DEPTH} levels are stored as sent; ${MAX_DEPTH + 1} are refused`, async () => {
  const at = await post(
    '/v1/track',
    `{"userId":"edge","event":"E","messageId":"at-limit","properties":${deepObject(MAX_DEPTH)}}`,
  );
  assert.equal(at.statusCode, 200, at.body);
  const over = await post(
    '/v1/track',
    `{"userId":"edge","event":"E","messageId":"over-limit","properties":${deepObject(MAX_DEPTH + 1)}}`,
  );
  assert.equal(over.statusCode, 400, over.body);
  assert.equal(over.json().code, 'INTAKE_ERR_NESTED_TOO_DEEP');
  const [e] = await allEvents(t.app, KEYS.read, 'messageId=at-limit');
  assert.equal(JSON.stringify(e?.properties), deepObject(MAX_DEPTH));
  // A refused item small enough to be kept whole is still read back from /rejected without a 5xx.
  const kept = (await rejectedRows()).find((x) => x.messageId === 'over-limit');
  assert.equal(kept?.code, 'INTAKE_ERR_NESTED_TOO_DEEP');
});

test('a refused item nesting 30,000 levels, kept whole (under 64 KiB), reads back from /rejected', async () => {
  const r = await post('/v1/batch', `{"batch":[${deepArray(30_000)}]}`);
  assert.equal(r.statusCode, 200, r.body.slice(0, 300));
  assert.equal(r.json().rejected[0].code, 'INTAKE_ERR_INVALID_EVENT');
  const rows = await rejectedRows();
  assert.ok(rows.some((x) => x.payload === deepArray(30_000)));
});

test('a body 100,000 levels deep is never a 5xx, wherever the depth is and whatever the route', async () => {
  const o = deepObject(DEEP);
  const a = deepArray(DEEP);
  const cases: [string, string, Record<string, string>?][] = [
    ['/v1/batch', a],
    ['/v1/batch', `{"batch":${a}}`],
    ['/v1/batch', `{"batch":[],"context":${o}}`],
    ['/v1/batch', `{"batch":[{"type":"track","event":"E","userId":"u"}],"context":${o}}`],
    ['/v1/batch', `{"batch":[{"type":"track","event":"E","userId":"u"}],"integrations":${o}}`],
    ['/v1/batch', `{"batch":[{"type":"track","event":"E","userId":"u","messageId":${o}}]}`],
    ['/v1/batch', `{"batch":[{"type":${o},"userId":"u"}]}`],
    ['/v1/batch', `{"batch":[],"sentAt":${o}}`],
    ['/v1/identify', `{"userId":"u","traits":${o}}`],
    ['/v1/t', `{"userId":"u","event":"E","extra":${o}}`],
    ['/v1/page', `{"anonymousId":"a","timestamp":${o}}`],
    ['/events', a],
    ['/events', o],
    ['/events', `{"events":[${o}]}`],
    ['/events', `{"events":${a}}`],
    ['/events', `{"type":${o},"customerCode":"c"}`],
    ['/events', `[{"type":"EventSale","customerCode":"c","productCode":"p","extra":${o}}]`],
    ['/event/batch', `{"batch":[${o}]}`],
    ['/event/batch', `{"batch":[{"type":${o},"userId":"u"}]}`],
    ['/event/batch', `{"batch":[{"type":"track","event":"E","userId":"u","properties":${o}}]}`],
    ['/v1/batch/events', `{"events":[{"type":"E","email":"a@b.c","details":${o}}]}`],
    ['/v1/batch/events', `{"events":[{"type":"E","email":"a@b.c","fields":{"x":${o}}}]}`],
    ['/v1/batch/events', `{"events":[{"type":${o},"email":"a@b.c"}]}`],
    ['/event/ingest', `{"name":"E","userId":"u","properties":${o}}`],
    ['/event/ingest', `{"name":"E","userId":"u","deviceData":${o}}`],
    ['/event/ingest/batch', `{"events":[{"name":"E","userId":"u","properties":${o}}]}`],
    ['/profile', `{"userId":"u","properties":${o}}`],
    ['/profile', `{"userId":"u","properties":{"x":${a}}}`],
    ['/batch/', `{"api_key":"${KEYS.write}","batch":[{"event":"E","distinct_id":"u","properties":${o}}]}`],
    ['/batch/', `{"api_key":"${KEYS.write}","batch":[{"event":"$identify","distinct_id":"u","$set":${o}}]}`],
    ['/capture/', `{"api_key":"${KEYS.write}","event":"E","distinct_id":"u","properties":{"x":${o}}}`],
    ['/e/', `[{"event":"E","properties":{"token":"${KEYS.write}","distinct_id":"u","x":${o}}}]`],
    ['/i/v0/e/', `{"api_key":"${KEYS.write}","batch":${a}}`],
    [
      '/admin/workspaces',
      `{"name":${o}}`,
      { authorization: bearer(KEYS.admin), 'content-type': 'application/json' },
    ],
    ['/nope', o],
  ];
  for (const [url, payload, headers] of cases) {
    const r = await post(url, payload, headers);
    assert.ok(r.statusCode < 500, `${url} ${payload.slice(0, 80)}: ${r.statusCode} ${r.body.slice(0, 200)}`);
  }
  assert.equal((await post('/v1/track', '{"userId":"after","event":"Still here"}')).statusCode, 200);
});
