// POST /query: answers on handmade data, workspace isolation, parameters, limits, streaming, and a battery of
// escape attempts that must each be refused with a coded 400 (or stopped by a limit) while the server stays up.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { basic, bearer, KEYS, startTestApp, type TestApp } from '../helpers.ts';
import { ESCAPES } from './escapes.ts';

let t: TestApp;
let otherRead = '';

before(async () => {
  t = await startTestApp({ queryTimeoutMs: 1500 });
  // A second workspace with its own events, which no query of the first may see.
  const ws = await t.keys.createWorkspace('other');
  const w = await t.keys.createKey(ws.id, 'write');
  otherRead = (await t.keys.createKey(ws.id, 'read')).secret;
  const send = (key: string, batch: unknown[]) =>
    t.app.inject({
      method: 'POST',
      url: '/v1/batch',
      headers: { authorization: basic(key) },
      payload: { batch },
    });
  const mine = [
    ...['a', 'b', 'c'].map((u, i) => ({
      type: 'track',
      event: 'Signed Up',
      userId: u,
      messageId: `s${i}`,
      properties: { plan: i === 0 ? 'pro' : 'free', n: i },
    })),
    { type: 'track', event: 'Paid', userId: 'a', messageId: 'p1', properties: { total: 42.5 } },
    { type: 'identify', userId: 'a', messageId: 'i1', traits: { email: 'a@example.com' } },
  ];
  assert.equal((await send(KEYS.write, mine)).statusCode, 200);
  const theirs = [
    { type: 'track', event: 'Secret', userId: 'z', messageId: 'x1', properties: { secret: 'other-ws' } },
  ];
  assert.equal((await send(w.secret, theirs)).statusCode, 200);
});

after(() => t.close());

async function query(body: Record<string, unknown>, key: string = KEYS.read, url = '/query') {
  return t.app.inject({ method: 'POST', url, headers: { authorization: bearer(key) }, payload: body });
}

test('a query answers columns, rows and counts over the workspace tables only', async () => {
  const r = await query({ sql: 'SELECT event, count(*) AS n FROM events GROUP BY event ORDER BY event' });
  assert.equal(r.statusCode, 200, r.body);
  const body = r.json();
  assert.deepEqual(body.columns, [
    { name: 'event', type: 'VARCHAR' },
    { name: 'n', type: 'BIGINT' },
  ]);
  assert.deepEqual(body.rows, [
    ['Paid', 1],
    ['Signed Up', 3],
    [null, 1],
  ]);
  assert.equal(body.rowCount, 3);
  assert.equal(body.truncated, false);
  assert.equal(typeof body.elapsedMs, 'number');
  const theirs = await query({ sql: 'SELECT event, properties FROM events' }, otherRead);
  assert.deepEqual(theirs.json().rows, [['Secret', { secret: 'other-ws' }]]);
});

test('parameters are bound; JSON columns come back as JSON; limit cuts and says so', async () => {
  const r = await query({
    sql: "SELECT user_id, properties->>'plan' AS plan FROM events WHERE event = $1 AND (properties->>'n')::INT >= $2 ORDER BY user_id",
    params: ['Signed Up', 1],
  });
  assert.equal(r.statusCode, 200, r.body);
  assert.deepEqual(r.json().rows, [
    ['b', 'free'],
    ['c', 'free'],
  ]);
  const injected = await query({
    sql: 'SELECT count(*) FROM events WHERE user_id = $1',
    params: ["a' OR '1'='1"],
  });
  assert.deepEqual(injected.json().rows, [[0]], 'a parameter is a value, never SQL');
  const cut = await query({ sql: 'SELECT * FROM range(5000) t(i)', limit: 10 });
  assert.equal(cut.json().rowCount, 10);
  assert.equal(cut.json().truncated, true);
  const users = await query({ sql: "SELECT id, traits->>'email' FROM users" });
  assert.deepEqual(users.json().rows, [['a', 'a@example.com']]);
  const ids = await query({ sql: 'SELECT count(*) FROM identities' });
  assert.deepEqual(ids.json().rows, [[3]]);
});

test('a write key cannot query; a read key of another workspace sees only its rows', async () => {
  const r = await query({ sql: 'SELECT 1' }, KEYS.write);
  assert.equal(r.statusCode, 403);
});

test('every row streams as NDJSON or CSV', async () => {
  const nd = await query(
    { sql: 'SELECT i, i * 2 AS d FROM range(3) t(i)' },
    KEYS.read,
    '/query?format=ndjson',
  );
  assert.equal(nd.statusCode, 200, nd.body);
  assert.match(String(nd.headers['content-type']), /ndjson/);
  assert.deepEqual(
    nd.body
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l)),
    [
      { i: 0, d: 0 },
      { i: 1, d: 2 },
      { i: 2, d: 4 },
    ],
  );
  const csv = await t.app.inject({
    method: 'POST',
    url: '/query',
    headers: { authorization: bearer(KEYS.read), accept: 'text/csv' },
    payload: { sql: "SELECT 'a,b' AS s, 1 AS n, NULL AS z" },
  });
  assert.equal(csv.body, 's,n,z\r\n"a,b",1,\r\n');
  const many = await query({ sql: 'SELECT * FROM range(20000) t(i)' }, KEYS.read, '/query?format=ndjson');
  assert.equal(many.body.trim().split('\n').length, 20000, 'no row cap on a stream');
  const refused = await query({ sql: 'SELECT * FROM api_keys' }, KEYS.read, '/query?format=csv');
  assert.equal(refused.statusCode, 400);
  assert.equal(refused.json().code, 'INTAKE_ERR_QUERY_FORBIDDEN');
});

test('escape attempts are refused with a coded 400 or stopped by the limits, and the server stays healthy', async () => {
  const wrong: string[] = [];
  for (const [sql, code] of ESCAPES) {
    const r = await query({ sql });
    if (r.statusCode !== 400 || !code.split('|').includes(r.json().code))
      wrong.push(`${sql} => ${r.statusCode} ${r.body}`);
    assert.doesNotMatch(r.body, /iwk_|irk_|iak_|other-ws/, `${sql} leaks nothing`);
    const ok = await query({ sql: 'SELECT count(*) FROM events' });
    assert.deepEqual(ok.json().rows, [[5]], `the server answers after: ${sql}`);
  }
  assert.deepEqual(wrong, [], 'each attempt answered with its coded 400');
  const health = await t.app.inject({ method: 'GET', url: '/health' });
  assert.equal(health.statusCode, 200);
});
