// Tracking plans over HTTP on the real engine: versions, what a bad plan is told, every mode of every kind of
// violation, where violations show (the event's context, GET /events?violations, SQL, /rejected, /violations),
// and a plan change applying to the very next request.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { basic, bearer, KEYS, startTestApp, type TestApp } from '../helpers.ts';

const NOW = new Date('2026-04-10T08:00:00.000Z');
let t: TestApp;
before(async () => {
  t = await startTestApp({ now: () => NOW });
});
after(() => t.close());

type Json = Record<string, unknown>;

async function call(method: 'GET' | 'PUT' | 'POST', url: string, key: string, payload?: unknown) {
  const r = await t.app.inject({
    method,
    url,
    headers: {
      authorization: bearer(key),
      ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(payload === undefined ? {} : { payload: payload as Json }),
  });
  return { status: r.statusCode, body: r.json() as Json };
}

async function putPlan(plan: Json): Promise<number> {
  const r = await call('PUT', '/plans/current', KEYS.admin, plan);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.version as number;
}

async function send(items: Json[]): Promise<Json> {
  const r = await t.app.inject({
    method: 'POST',
    url: '/v1/batch',
    headers: { authorization: basic(KEYS.write), 'content-type': 'application/json' },
    payload: { batch: items },
  });
  assert.equal(r.statusCode, 200, r.body);
  return r.json();
}

async function stored(messageId: string): Promise<Json | undefined> {
  const r = await call('GET', `/events?messageId=${messageId}`, KEYS.read);
  assert.equal(r.status, 200);
  return (r.body.results as Json[])[0];
}

async function contextOf(messageId: string): Promise<Json> {
  const e = await stored(messageId);
  assert.ok(e, `${messageId} is stored`);
  return e.context as Json;
}

const ORDER = {
  type: 'object',
  properties: { total: { type: 'number' }, currency: { type: 'string' } },
  required: ['total'],
};
const BASE = {
  naming: { case: 'Title Case' },
  events: { 'Order Completed': { properties: ORDER }, order_completed: {} },
};

test('a plan is refused with the field named; versions are kept; only an admin key changes it', async () => {
  assert.equal((await call('GET', '/plans/current', KEYS.read)).status, 404);
  const bad: Array<[Json, string]> = [
    [{ events: { X: { properties: { type: 'nope' } } } }, 'events.X.properties'],
    [{ modes: { wrongType: 'drop' } }, 'modes.wrongType'],
    [{ modes: { typo: 'allow' } }, 'modes.typo'],
    [{ colour: 'red' }, 'colour'],
    [{ naming: { case: 'SHOUTING' } }, 'naming.case'],
    [{ naming: { pattern: '(' } }, 'naming.pattern'],
    [{ draft: '04' }, 'draft'],
  ];
  for (const [plan, field] of bad) {
    const r = await call('PUT', '/plans/current', KEYS.admin, plan);
    assert.equal(r.status, 400, JSON.stringify(plan));
    assert.equal(r.body.code, 'INTAKE_ERR_INVALID_BODY');
    assert.deepEqual(r.body.details, { field }, String(r.body.message));
    assert.ok(String(r.body.message).startsWith(field), String(r.body.message));
  }
  assert.equal((await call('PUT', '/plans/current', KEYS.write, BASE)).status, 403);
  assert.equal((await call('PUT', '/plans/current', KEYS.read, BASE)).status, 403);

  assert.equal(await putPlan(BASE), 1);
  assert.equal(await putPlan({ ...BASE, draft: '07' }), 2);
  const current = await call('GET', '/plans/current', KEYS.read);
  assert.deepEqual([current.body.version, current.body.plan], [2, { ...BASE, draft: '07' }]);
  const versions = await call('GET', '/plans/versions', KEYS.read);
  assert.deepEqual(
    (versions.body.results as Json[]).map((v) => [v.version, v.createdAt]),
    [
      [2, NOW.toISOString()],
      [1, NOW.toISOString()],
    ],
  );
  assert.deepEqual((await call('GET', '/plans/versions/1', KEYS.read)).body.plan, BASE);
  assert.equal((await call('GET', '/plans/versions/3', KEYS.read)).status, 404);
  assert.equal((await call('GET', '/plans/versions/0', KEYS.read)).status, 400);
});

/** An event that breaks exactly one kind of rule of BASE, and what `omit` leaves of its properties. */
const CASES: Array<{ kind: string; event: Json; omitted: Json; type: string }> = [
  {
    kind: 'unplannedEvent',
    event: { event: 'Refund Issued', properties: { total: 1 } },
    omitted: { total: 1 },
    type: 'Unplanned-Event',
  },
  {
    kind: 'unplannedProperty',
    event: { event: 'Order Completed', properties: { total: 1, coupon: 'X' } },
    omitted: { total: 1 },
    type: 'Additional-Properties',
  },
  {
    kind: 'missingRequired',
    event: { event: 'Order Completed', properties: { currency: 'USD' } },
    omitted: { currency: 'USD' },
    type: 'Required-Missing',
  },
  {
    kind: 'wrongType',
    event: { event: 'Order Completed', properties: { total: 'ten', currency: 'USD' } },
    omitted: { currency: 'USD' },
    type: 'Datatype-Mismatch',
  },
  {
    kind: 'naming',
    event: { event: 'order_completed', properties: { a: 1 } },
    omitted: { a: 1 },
    type: 'Unknown-Violation',
  },
];

for (const c of CASES) {
  for (const mode of ['allow', 'omit', 'reject'] as const) {
    test(`${c.kind}: ${mode}`, async () => {
      await putPlan({ ...BASE, modes: { [c.kind]: mode } });
      const messageId = `${c.kind}-${mode}`;
      const answer = await send([{ type: 'track', userId: 'u1', messageId, ...c.event }]);
      const event = await stored(messageId);
      if (mode === 'reject') {
        assert.equal(answer.accepted, 0);
        const rejected = (answer.rejected as Json[])[0];
        assert.equal(rejected?.code, 'INTAKE_ERR_PLAN_VIOLATION');
        assert.match(String(rejected?.message), /^tracking plan: /);
        assert.equal(event, undefined, 'not stored');
        const kept = await call('GET', '/rejected?limit=1', KEYS.read);
        const item = (kept.body.results as Json[])[0] as Json;
        assert.equal(item.messageId, messageId);
        assert.equal(item.code, 'INTAKE_ERR_PLAN_VIOLATION');
        assert.deepEqual(
          (item.violations as Json[]).map((v) => [v.kind, v.type]),
          [[c.kind, c.type]],
        );
        return;
      }
      assert.equal(answer.accepted, 1);
      assert.ok(event, 'stored');
      const marks = (event.context as Json).violationErrors as Json[];
      assert.deepEqual(
        marks.map((v) => [v.kind, v.type]),
        [[c.kind, c.type]],
      );
      const mark = marks[0] as Json;
      assert.equal(typeof mark.message, 'string');
      assert.equal(typeof (mark.meta as Json).instancePath, 'string');
      const removes = mode === 'omit' && JSON.stringify(c.omitted) !== JSON.stringify(c.event.properties);
      assert.deepEqual(event.properties, removes ? c.omitted : c.event.properties);
      assert.equal(mark.omitted, removes ? true : undefined);
    });
  }
}

test('violations name their field and their rule; a reject anywhere refuses the event; a single call answers 400', async () => {
  await putPlan({
    ...BASE,
    common: { properties: { type: 'object', properties: { source: { type: 'string' } } } },
    modes: { unplannedProperty: 'omit', wrongType: 'allow' },
  });
  await send([
    {
      type: 'track',
      userId: 'u1',
      messageId: 'many',
      event: 'Order Completed',
      properties: { total: 'x', source: 3, extra: { deep: 1 } },
    },
  ]);
  const marks = (await contextOf('many')).violationErrors as Json[];
  assert.deepEqual(
    marks.map((v) => [
      v.kind,
      v.message,
      (v.meta as Json).instancePath,
      (v.meta as Json).schemaPath,
      v.omitted,
    ]),
    [
      [
        'unplannedProperty',
        'properties.extra is not in the plan',
        '/properties/extra',
        '#/events/Order Completed/properties/additionalProperties',
        true,
      ],
      [
        'wrongType',
        'properties.source must be string',
        '/properties/source',
        '#/common/properties/properties/source/type',
        undefined,
      ],
      [
        'wrongType',
        'properties.total must be number',
        '/properties/total',
        '#/events/Order Completed/properties/properties/total/type',
        undefined,
      ],
    ],
  );
  await putPlan({ ...BASE, modes: { unplannedProperty: 'omit', wrongType: 'reject' } });
  const r = await t.app.inject({
    method: 'POST',
    url: '/v1/track',
    headers: { authorization: basic(KEYS.write), 'content-type': 'application/json' },
    payload: {
      userId: 'u1',
      messageId: 'single',
      event: 'Order Completed',
      properties: { total: 'x', extra: 1 },
    },
  });
  assert.equal(r.statusCode, 400);
  assert.equal(r.json().code, 'INTAKE_ERR_PLAN_VIOLATION');
  assert.equal(
    r.json().message,
    'tracking plan: properties.extra is not in the plan; properties.total must be number',
  );
  assert.equal(await stored('single'), undefined);
});

test('a plan change applies to the next request', async () => {
  await putPlan({ ...BASE, modes: { wrongType: 'allow' } });
  const bad = { type: 'track', userId: 'u1', event: 'Order Completed', properties: { total: 'ten' } };
  assert.equal((await send([{ ...bad, messageId: 'next-1' }])).accepted, 1);
  await putPlan({ ...BASE, modes: { wrongType: 'reject' } });
  assert.equal((await send([{ ...bad, messageId: 'next-2' }])).accepted, 0);
  await putPlan({});
  const r = await send([{ ...bad, messageId: 'next-3' }]);
  assert.equal(r.accepted, 1);
  assert.equal((await contextOf('next-3')).violationErrors, undefined, 'an empty plan checks nothing');
});

test('identify and group traits, and context, have schemas of their own', async () => {
  await putPlan({
    identify: {
      traits: {
        type: 'object',
        properties: { email: { type: 'string', format: 'email' } },
        required: ['email'],
      },
    },
    group: { traits: { type: 'object', properties: { name: { type: 'string' } } } },
    events: {
      Clicked: {
        context: { type: 'object', properties: { app: { type: 'object', required: ['version'] } } },
      },
    },
  });
  await send([
    { type: 'identify', userId: 'u1', messageId: 'id-1', traits: { email: 'not-an-email', age: 3 } },
    { type: 'group', userId: 'u1', groupId: 'g', messageId: 'gr-1', traits: { name: 7 } },
    {
      type: 'track',
      userId: 'u1',
      event: 'Clicked',
      messageId: 'ctx-1',
      context: { app: {}, library: { name: 'x' } },
    },
  ]);
  const kinds = async (id: string) =>
    ((await contextOf(id)).violationErrors as Json[]).map((v) => [v.kind, (v.meta as Json).instancePath]);
  assert.deepEqual(await kinds('id-1'), [
    ['unplannedProperty', '/traits/age'],
    ['wrongType', '/traits/email'],
  ]);
  assert.deepEqual(await kinds('gr-1'), [['wrongType', '/traits/name']]);
  assert.deepEqual(await kinds('ctx-1'), [['missingRequired', '/context/app/version']], 'context stays open');
});

test('a client cannot set violationErrors itself', async () => {
  await putPlan({});
  await send([
    {
      type: 'track',
      userId: 'u1',
      event: 'Fake',
      messageId: 'fake',
      context: { violationErrors: [{ kind: 'x' }] },
    },
  ]);
  assert.equal((await contextOf('fake')).violationErrors, undefined);
});

test('violations are queryable by SQL: the flagged events are those whose context holds violationErrors', async () => {
  const flagged = await call('GET', '/events?violations=true&limit=1000', KEYS.read);
  const sql = await call('POST', '/query', KEYS.read, {
    sql: "SELECT count(*) AS n FROM events WHERE (context->'violationErrors') IS NOT NULL",
    params: [],
  });
  assert.equal(sql.status, 200, JSON.stringify(sql.body));
  assert.deepEqual(sql.body.rows, [[flagged.body.total]]);
});

test('violations are queryable: GET /events?violations and GET /violations per name and kind', async () => {
  const flagged = await call('GET', '/events?violations=true&limit=1000', KEYS.read);
  const clean = await call('GET', '/events?violations=false&limit=1000', KEYS.read);
  const all = await call('GET', '/events?limit=1000', KEYS.read);
  assert.ok((flagged.body.total as number) > 0 && (clean.body.total as number) > 0);
  assert.equal((flagged.body.total as number) + (clean.body.total as number), all.body.total);
  for (const e of flagged.body.results as Json[]) assert.ok((e.context as Json).violationErrors);
  assert.equal((await call('GET', '/events?violations=maybe', KEYS.read)).status, 400);

  const v = await call('GET', '/violations?type=track&event=Order%20Completed&kind=wrongType', KEYS.read);
  assert.equal(v.status, 200, JSON.stringify(v.body));
  const row = (v.body.results as Json[])[0] as Json;
  // wrongType on Order Completed: allow and omit (2 stored) + many, next-1 (stored); reject + single + next-2 refused.
  assert.deepEqual(
    [row.type, row.event, row.kind, row.flagged, row.rejected],
    ['track', 'Order Completed', 'wrongType', 4, 3],
  );
  assert.deepEqual(row.days, [{ day: '2026-04-10', flagged: 4, rejected: 3 }]);
  const sample = await call('GET', `/events?limit=1000&violations=true`, KEYS.read);
  assert.ok((sample.body.results as Json[]).some((e) => e.id === row.sampleEventId));
  const rejected = await call('GET', '/rejected?limit=1000', KEYS.read);
  assert.ok((rejected.body.results as Json[]).some((e) => e.id === row.sampleRejectedId));

  const every = await call('GET', '/violations', KEYS.read);
  const kinds = new Set((every.body.results as Json[]).map((r) => r.kind));
  assert.deepEqual([...kinds].sort(), [
    'missingRequired',
    'naming',
    'unplannedEvent',
    'unplannedProperty',
    'wrongType',
  ]);
  const none = await call('GET', '/violations?startDate=2026-04-11T00:00:00Z', KEYS.read);
  assert.deepEqual([none.body.results, none.body.total], [[], 0]);
});
