// Trench, from its public API reference (Create Events, Get Events, Execute Queries, Workspaces): every call sent
// over a real socket as a Trench client sends it (Bearer key, JSON body), with Trench's public key (a write key)
// and its private key (a private key), checking Trench's status codes and body shapes. Also: the ClickHouse JSON
// functions against ClickHouse's results, and the SQL sandbox's escape battery on POST /queries.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { VERSION } from '../../src/core/version.ts';
import { KEYS, startTestApp, type TestApp } from '../helpers.ts';
import { ESCAPES } from '../query/escapes.ts';

let t: TestApp;
let url = '';
const PUBLIC = KEYS.write;
const PRIVATE = 'trench-private-key';
/** Another workspace (made through POST /workspaces): none of its rows may show in the first one's answers. */
let other = { workspaceId: '', publicApiKey: '', privateApiKey: '' };

/** A Trench client's request: Bearer key, JSON body. */
async function call(method: string, path: string, key: string | null, body?: unknown) {
  const headers: Record<string, string> = {};
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, text };
}

const TRENCH_EVENT_FIELDS = [
  'uuid',
  'type',
  'event',
  'userId',
  'groupId',
  'anonymousId',
  'instanceId',
  'properties',
  'traits',
  'context',
  'timestamp',
  'parsedAt',
];
const TRENCH_COLUMNS = [
  'uuid',
  'type',
  'event',
  'user_id',
  'group_id',
  'anonymous_id',
  'instance_id',
  'properties',
  'traits',
  'context',
  'timestamp',
  'parsed_at',
];
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

function assertTrenchEvent(e: Record<string, unknown>): void {
  for (const f of TRENCH_EVENT_FIELDS) assert.ok(f in e, `an event carries ${f}: ${JSON.stringify(e)}`);
  assert.match(String(e.uuid), /\S/);
  assert.match(String(e.timestamp), ISO);
  assert.match(String(e.parsedAt), ISO);
  for (const f of ['properties', 'traits', 'context'])
    assert.equal(typeof e[f], 'object', `${f} is an object`);
}

before(async () => {
  t = await startTestApp({ queryTimeoutMs: 1500 });
  const ws = t.keys.findWorkspaceByName('default');
  await t.keys.createKey(ws?.id ?? '', 'private', 'trench private', PRIVATE);
  url = await t.listen();
});
after(() => t.close());

test('GET / answers 200 with the server name and version, no key needed', async () => {
  const r = await call('GET', '/', null);
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { name: 'intake', version: VERSION, status: 'ok' });
});

test('Workspaces: create, get, update, delete with the server admin key; public and private keys are refused', async () => {
  const created = await call('POST', '/workspaces', KEYS.admin, {
    name: 'acme',
    properties: { plan: 'pro' },
  });
  assert.equal(created.status, 201, created.text);
  const w = created.body;
  assert.deepEqual(Object.keys(w).sort(), [
    'createdAt',
    'isDefault',
    'name',
    'privateApiKey',
    'properties',
    'publicApiKey',
    'workspaceId',
  ]);
  assert.equal(w.name, 'acme');
  assert.equal(w.isDefault, false);
  assert.deepEqual(w.properties, { plan: 'pro' });
  other = w;

  const got = await call('GET', `/workspaces/${w.workspaceId}`, KEYS.admin);
  assert.equal(got.status, 200);
  assert.deepEqual(got.body, {
    workspaceId: w.workspaceId,
    name: 'acme',
    isDefault: false,
    createdAt: w.createdAt,
    properties: { plan: 'pro' },
  });
  const put = await call('PUT', `/workspaces/${w.workspaceId}`, KEYS.admin, {
    name: 'acme-eu',
    properties: { plan: 'team', region: 'eu' },
  });
  assert.equal(put.status, 200, put.text);
  assert.deepEqual([put.body.name, put.body.properties], ['acme-eu', { plan: 'team', region: 'eu' }]);
  assert.equal((await call('GET', `/workspaces/${w.workspaceId}`, KEYS.admin)).body.name, 'acme-eu');

  for (const key of [PUBLIC, PRIVATE, w.privateApiKey]) {
    const r = await call('POST', '/workspaces', key, { name: 'nope' });
    assert.equal(r.status, 403, r.text);
    assert.match(r.body.message, /admin scope/);
    assert.equal((await call('GET', `/workspaces/${w.workspaceId}`, key)).status, 403);
  }
  assert.equal((await call('GET', `/workspaces/${w.workspaceId}`, null)).status, 401);
  assert.equal((await call('GET', '/workspaces/no-such', KEYS.admin)).status, 404);
  assert.equal((await call('POST', '/workspaces', KEYS.admin, { name: 'acme-eu' })).status, 409);

  const doomed = (await call('POST', '/workspaces', KEYS.admin, { name: 'doomed' })).body;
  assert.deepEqual(doomed.properties, {});
  const del = await call('DELETE', `/workspaces/${doomed.workspaceId}`, KEYS.admin);
  assert.equal(del.status, 200);
  assert.equal(del.body.workspaceId, doomed.workspaceId);
  assert.equal((await call('GET', `/workspaces/${doomed.workspaceId}`, KEYS.admin)).status, 404);
  const gone = await call('POST', '/events', doomed.publicApiKey, {
    events: [{ type: 'track', event: 'x' }],
  });
  assert.equal(gone.status, 401, "a deleted workspace's keys are gone with it");
});

test('Create Events: the public and the private key send; 201 with the events in Trench’s shape', async () => {
  const events = [
    {
      userId: '550e8400-e29b-41d4-a716-446655440000',
      type: 'track',
      event: 'ConnectedAccount',
      properties: { totalAccounts: 4, country: 'Denmark' },
      context: { country: 'Denmark' },
      instanceId: 'customer-1234567890',
      timestamp: '2026-01-02T10:00:00Z',
    },
    {
      type: 'identify',
      userId: 'user-123',
      traits: { email: 'john.doe@example.com', name: 'John Doe' },
      timestamp: '2026-01-02T10:01:00Z',
    },
    {
      type: 'group',
      userId: 'user-123',
      groupId: 'group-456',
      traits: { name: 'Acme' },
      timestamp: '2026-01-02T10:02:00Z',
    },
    {
      type: 'page',
      anonymousId: 'guest-1234567890',
      properties: { page: '/home', referrer: 'https://www.google.com' },
      timestamp: '2026-01-02T10:03:00Z',
    },
  ];
  const r = await call('POST', '/events', PUBLIC, { events });
  assert.equal(r.status, 201, r.text);
  assert.deepEqual([r.body.limit, r.body.offset, r.body.total], [4, 0, 4]);
  assert.equal(r.body.results.length, 4);
  r.body.results.forEach(assertTrenchEvent);
  const [track, identify, group, page] = r.body.results;
  assert.deepEqual(
    [track.type, track.event, track.userId, track.instanceId, track.properties],
    ['track', 'ConnectedAccount', events[0]?.userId, 'customer-1234567890', events[0]?.properties],
  );
  assert.equal(track.timestamp, '2026-01-02T10:00:00.000Z');
  assert.equal(track.uuid, track.messageId, "Intake's own fields come along");
  assert.deepEqual(identify.traits, events[1]?.traits);
  assert.equal(group.groupId, 'group-456');
  assert.deepEqual([page.anonymousId, page.userId], ['guest-1234567890', null]);

  // Only `events` is required: an event with no user id is stored (it joins no profile).
  const anonymous = await call('POST', '/events', PRIVATE, {
    events: [{ type: 'track', event: 'User SignedUp', timestamp: '2026-01-02T10:04:00Z' }],
  });
  assert.equal(anonymous.status, 201, anonymous.text);
  assert.equal(anonymous.body.results.length, 1);
  assert.deepEqual([anonymous.body.results[0].userId, anonymous.body.results[0].anonymousId], [null, null]);
  const segment = await fetch(`${url}/v1/track`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${PUBLIC}:`).toString('base64')}` },
    body: JSON.stringify({ event: 'User SignedUp' }),
  });
  assert.equal(segment.status, 400, 'the Segment dialect keeps its rule: a userId or an anonymousId');
  assert.equal(((await segment.json()) as { code: string }).code, 'INTAKE_ERR_MISSING_ID');

  // No timestamp: autogenerated. A client uuid is the event's id; a resend of it is a duplicate.
  const uuid = '123e4567-e89b-12d3-a456-426614174000';
  const mine = await call('POST', '/events', PRIVATE, {
    events: [{ uuid, type: 'track', event: 'Created Account', userId: 'user-123' }],
  });
  assert.equal(mine.status, 201);
  assert.equal(mine.body.results[0].uuid, uuid);
  assert.match(mine.body.results[0].timestamp, ISO);
  const again = await call('POST', '/events', PRIVATE, {
    events: [{ uuid, type: 'track', event: 'Created Account', userId: 'user-123' }],
  });
  assert.equal(again.status, 201);
  assert.deepEqual([again.body.results, again.body.duplicates], [[], 1]);

  // Another workspace's events, which no answer here may show.
  const theirs = await call('POST', '/events', other.publicApiKey, {
    events: [{ type: 'track', event: 'Secret', userId: 'z', properties: { secret: 'other-ws' } }],
  });
  assert.equal(theirs.status, 201);

  const users = await call('GET', '/users', KEYS.read);
  assert.deepEqual(
    users.body.results.map((u: { id: string }) => u.id).sort(),
    ['550e8400-e29b-41d4-a716-446655440000', 'guest-1234567890', 'user-123'],
    'the event without ids made no person',
  );
  const bad = await call('POST', '/events', PUBLIC, { events: 'nope' });
  assert.equal(bad.status, 400);
  assert.equal((await call('POST', '/events', null, { events: [] })).status, 401);
});

test('Get Events: the private key reads with every documented filter; the public key is refused', async () => {
  const all = await call('GET', '/events?limit=100', PRIVATE);
  assert.equal(all.status, 200, all.text);
  assert.deepEqual([all.body.limit, all.body.offset, all.body.total], [100, 0, 6]);
  all.body.results.forEach(assertTrenchEvent);
  const uuid = all.body.results.find((e: { event: string }) => e.event === 'ConnectedAccount').uuid;

  const cases: Array<[string, number]> = [
    ['event=Created%20Account', 1],
    [`uuid=${uuid}`, 1],
    ['userId=user-123', 3],
    ['groupId=group-456', 1],
    ['anonymousId=guest-1234567890', 1],
    ['instanceId=customer-1234567890', 1],
    ['startDate=2026-01-02T10:01:00Z&endDate=2026-01-02T10:03:00Z', 3],
    ['limit=2&offset=1&orderByField=timestamp&orderByDirection=ASC', 6],
  ];
  for (const [query, total] of cases) {
    const r = await call('GET', `/events?${query}`, PRIVATE);
    assert.equal(r.status, 200, `${query}: ${r.text}`);
    assert.equal(r.body.total, total, query);
  }
  const page = await call(
    'GET',
    '/events?limit=2&offset=1&orderByField=timestamp&orderByDirection=ASC',
    PRIVATE,
  );
  assert.deepEqual(
    page.body.results.map((e: { type: string }) => e.type),
    ['identify', 'group'],
  );
  const byUuid = await call('GET', `/events?uuid=${uuid}`, PRIVATE);
  assert.equal(byUuid.body.results[0].uuid, uuid);

  const denied = await call('GET', '/events', PUBLIC);
  assert.equal(denied.status, 403);
  assert.match(denied.body.message, /read scope/);
  const theirs = await call('GET', '/events', other.privateApiKey);
  assert.deepEqual(
    theirs.body.results.map((e: { event: string }) => e.event),
    ['Secret'],
  );
});

test('Execute Queries: Trench’s events table and ClickHouse functions; 201 with one result list per query', async () => {
  const uuid = (await call('GET', '/events?event=ConnectedAccount', PRIVATE)).body.results[0].uuid;
  const r = await call('POST', '/queries', PRIVATE, {
    queries: [`SELECT * FROM events WHERE uuid = '${uuid}'`, 'SELECT count(*) AS n FROM events'],
  });
  assert.equal(r.status, 201, r.text);
  assert.deepEqual([r.body.offset, r.body.total], [0, 2]);
  assert.equal(typeof r.body.limit, 'number');
  const [[row], [count]] = r.body.results;
  assert.deepEqual(Object.keys(row), TRENCH_COLUMNS);
  assert.equal(row.uuid, uuid);
  assert.equal(row.user_id, '550e8400-e29b-41d4-a716-446655440000');
  assert.deepEqual(
    JSON.parse(row.properties),
    { totalAccounts: 4, country: 'Denmark' },
    'JSON text, as in Trench',
  );
  assert.match(row.timestamp, ISO);
  assert.deepEqual(count, { n: 6 }, 'only this workspace');

  // The examples of Trench's Execute Queries page.
  const examples: Array<[string, number]> = [
    ["SELECT * FROM events WHERE JSONExtract(properties, 'totalAccounts', 'UInt64') > 3", 1],
    ["SELECT * FROM events WHERE JSONExtract(context, 'country', 'String') = 'Denmark'", 1],
    ["SELECT * FROM events WHERE userId = 'user-123'", 3],
    [
      `SELECT i.email, e.* FROM events e
       LEFT JOIN (SELECT userId, type, JSONExtract(traits, 'email', 'String') AS email FROM events) i
       ON e.userId = i.userId WHERE e.type = 'track' AND i.type = 'identify'`,
      1,
    ],
  ];
  const ex = await call('POST', '/queries', PRIVATE, { queries: examples.map(([q]) => q) });
  assert.equal(ex.status, 201, ex.text);
  examples.forEach(([q, n], i) => {
    assert.equal(ex.body.results[i].length, n, q);
  });
  assert.equal(ex.body.results[3][0].email, 'john.doe@example.com');

  const more = await call('POST', '/queries', PRIVATE, {
    queries: [
      "SELECT JSONExtractString(properties, 'country') AS country, JSONExtractInt(properties, 'totalAccounts') AS n FROM events WHERE event = 'ConnectedAccount'",
      "SELECT count() AS n FROM events WHERE JSONHas(properties, 'referrer') AND parsedAt >= timestamp",
    ],
  });
  assert.equal(more.status, 201, more.text);
  assert.deepEqual(more.body.results, [[{ country: 'Denmark', n: 4 }], [{ n: 1 }]]);

  const denied = await call('POST', '/queries', PUBLIC, { queries: ['SELECT 1'] });
  assert.equal(denied.status, 403);
  assert.match(denied.body.message, /query scope/);
  const theirs = await call('POST', '/queries', other.privateApiKey, {
    queries: ["SELECT event, JSONExtractString(properties, 'secret') AS s FROM events"],
  });
  assert.deepEqual(theirs.body.results, [[{ event: 'Secret', s: 'other-ws' }]]);
  const bad = await call('POST', '/queries', PRIVATE, { queries: ['SELECT 1', 'SELECT * FROM api_keys'] });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.code, 'INTAKE_ERR_QUERY_FORBIDDEN');
  assert.match(bad.body.message, /^queries\[1\]: /);
});

test('the ClickHouse JSON functions give ClickHouse’s results: nested keys, 1-based indices, defaults', async () => {
  const doc = `'{"a":{"b":"x","n":42,"f":2.5,"t":true,"arr":[10,"s",{"k":"v"}],"q\\"k":"quoted"},"s":"str"}'`;
  const cases: Array<[string, unknown]> = [
    [`JSONExtractString(${doc}, 'a', 'b')`, 'x'],
    [`JSONExtractString(${doc}, 'a', 'n')`, ''],
    [`JSONExtractString(${doc}, 'missing')`, ''],
    [`JSONExtractString(${doc}, 'a', 'arr', 3, 'k')`, 'v'],
    [`JSONExtractString(${doc}, 'a', 'arr', -2)`, 's'],
    [`JSONExtractString(${doc}, 'a', 'q"k')`, 'quoted'],
    [`JSONExtractInt(${doc}, 'a', 'n')`, 42],
    [`JSONExtractInt(${doc}, 'a', 'f')`, 2],
    [`JSONExtractInt(${doc}, 'a', 'b')`, 0],
    [`JSONExtractUInt(${doc}, 'a', 'arr', 1)`, 10],
    [`JSONExtractFloat(${doc}, 'a', 'f')`, 2.5],
    [`JSONExtractFloat(${doc}, 'a', 'n')`, 42],
    [`JSONExtractFloat(${doc}, 'nope')`, 0],
    [`JSONExtractBool(${doc}, 'a', 't')`, 1],
    [`JSONExtractBool(${doc}, 'a', 'b')`, 0],
    [`JSONHas(${doc}, 'a', 'arr')`, 1],
    [`JSONHas(${doc}, 'a', 'zz')`, 0],
    [`JSONExtractRaw(${doc}, 'a', 'arr')`, '[10,"s",{"k":"v"}]'],
    [`JSONExtractRaw(${doc}, 'nope')`, ''],
    [`JSONLength(${doc}, 'a', 'arr')`, 3],
    [`JSONExtract(${doc}, 'a', 'n', 'Int64')`, 42],
    [`JSONExtract(${doc}, 'a', 'b', 'String')`, 'x'],
    [`JSONExtract(${doc}, 'nope', 'Nullable(String)')`, null],
    [`JSONExtract(${doc}, 'a', 'f', 'Float64')`, 2.5],
  ];
  const r = await call('POST', '/queries', PRIVATE, { queries: cases.map(([e]) => `SELECT ${e} AS v`) });
  assert.equal(r.status, 201, r.text);
  const wrong = cases.filter(([, want], i) => r.body.results[i][0].v !== want);
  assert.deepEqual(
    wrong.map(
      ([e, want]) =>
        `${e}: ${JSON.stringify(r.body.results[cases.findIndex((c) => c[0] === e)][0].v)} !== ${JSON.stringify(want)}`,
    ),
    [],
  );

  const refused: Array<[string, string]> = [
    ['SELECT JSONExtractString(properties, event) FROM events', 'INTAKE_ERR_QUERY_INVALID'],
    ['SELECT JSONExtractString(properties, 0) FROM events', 'INTAKE_ERR_QUERY_INVALID'],
    ["SELECT JSONExtract(properties, 'a', 'Map(String, String)') FROM events", 'INTAKE_ERR_QUERY_INVALID'],
    ["SELECT JSONExtractString((SELECT hash FROM api_keys), 'a')", 'INTAKE_ERR_QUERY_FORBIDDEN'],
    ["SELECT JSONExtractString(properties, 'a') FROM main.events", 'INTAKE_ERR_QUERY_FORBIDDEN'],
    ["SELECT JSONExtractRaw(read_text('/etc/passwd'), 'a')", 'INTAKE_ERR_QUERY_FORBIDDEN'],
    ["SELECT main.JSONExtractString(properties, 'a') FROM events", 'INTAKE_ERR_QUERY_FORBIDDEN'],
    ['SELECT * FROM users', 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ];
  for (const [sql, code] of refused) {
    const x = await call('POST', '/queries', PRIVATE, { queries: [sql] });
    assert.equal(x.status, 400, `${sql}: ${x.text}`);
    assert.equal(x.body.code, code, `${sql}: ${x.text}`);
  }
});

test('a few other ClickHouse functions: toStartOf*, toDate, toUnixTimestamp, uniq', async () => {
  const r = await call('POST', '/queries', PRIVATE, {
    queries: [
      `SELECT toStartOfWeek(DATE '2026-01-02') AS w, toStartOfMonth(TIMESTAMP '2026-01-15 10:00:00') AS m,
         toDate(TIMESTAMP '2026-01-15 10:00:00') AS d, toUnixTimestamp(TIMESTAMP '2026-01-01 00:00:00') AS u,
         toStartOfHour(TIMESTAMP '2026-01-15 10:20:00') AS h`,
      `SELECT toStartOfDay(timestamp) AS day, uniq(userId) AS users, uniqExact(anonymousId) AS anons, count() AS n
         FROM events WHERE timestamp < '2026-01-03' GROUP BY day`,
    ],
  });
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(r.body.results, [
    [
      {
        w: '2025-12-28T00:00:00.000Z',
        m: '2026-01-01T00:00:00.000Z',
        d: '2026-01-15T00:00:00.000Z',
        u: 1767225600,
        h: '2026-01-15T10:00:00.000Z',
      },
    ],
    [{ day: '2026-01-02T00:00:00.000Z', users: 2, anons: 1, n: 5 }],
  ]);
  const x = await call('POST', '/queries', PRIVATE, { queries: ['SELECT uniq(userId, event) FROM events'] });
  assert.equal(x.status, 400);
  assert.equal(x.body.code, 'INTAKE_ERR_QUERY_INVALID');
});

test('POST /queries meets the escape battery of POST /query: each refused, the server answering after', async () => {
  const wrong: string[] = [];
  for (const [sql, code] of ESCAPES) {
    const r = await call('POST', '/queries', PRIVATE, { queries: [sql] });
    if (r.status !== 400 || !code.split('|').includes(r.body?.code))
      wrong.push(`${sql} => ${r.status} ${r.text}`);
    assert.doesNotMatch(r.text, /iwk_|irk_|iak_|ipk_|other-ws|trench-private/, `${sql} leaks nothing`);
    const ok = await call('POST', '/queries', PRIVATE, { queries: ['SELECT count(*) AS n FROM events'] });
    assert.deepEqual(ok.body.results, [[{ n: 6 }]], `the server answers after: ${sql}`);
  }
  assert.deepEqual(wrong, [], 'each attempt answered with its coded 400');
});
