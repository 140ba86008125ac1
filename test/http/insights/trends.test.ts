// POST /insights/trends on handmade data, every answer counted by hand: zero-filled buckets, a time zone moving
// an event to the day before, distinct persons across an identity merge, breakdown with "other", the previous
// period, aggregates of a numeric property, and the workspace's time zone setting.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { bearer, KEYS, startTestApp, TEST_ENGINE, type TestApp } from '../../helpers.ts';
import { identify, insight, NOW, send, stable, track } from './util.ts';

let t: TestApp;

before(async () => {
  t = await startTestApp({ now: () => NOW });
  await send(t.app, [
    track('u1', 'Signed Up', '2026-01-12T10:00:00Z'),
    track('u2', 'Signed Up', '2026-01-13T03:00:00Z'), // 22:00 on the 12th in New York
    track('u3', 'Signed Up', '2026-01-14T09:00:00Z'),
    track('anon-x1', 'Signed Up', '2026-01-14T10:00:00Z'),
    // x1 and u4 are one person; u1 another.
    track('anon-x1', 'Page Viewed', '2026-01-13T08:00:00Z'),
    identify('u4', 'anon-x1', '2026-01-13T08:30:00Z'),
    track('u4', 'Page Viewed', '2026-01-13T09:00:00Z'),
    track('u1', 'Page Viewed', '2026-01-13T10:00:00Z'),
    // Purchases of the current period (12th-14th) and the previous one (9th-11th).
    track('u1', 'Purchased', '2026-01-12T09:00:00Z', { plan: 'pro', amount: 10 }),
    track('u2', 'Purchased', '2026-01-12T10:00:00Z', { plan: 'free', amount: 30 }),
    track('u1', 'Purchased', '2026-01-13T09:00:00Z', { plan: 'pro', amount: 20 }),
    track('u3', 'Purchased', '2026-01-13T10:00:00Z', { plan: 'team', amount: '12' }),
    track('u3', 'Purchased', '2026-01-13T11:00:00Z', {}),
    track('u1', 'Purchased', '2026-01-14T09:00:00Z', { plan: 'pro', amount: 40 }),
    track('u2', 'Purchased', '2026-01-14T10:00:00Z', { plan: 'free', amount: 50 }),
    track('u1', 'Purchased', '2026-01-10T09:00:00Z', { plan: 'pro', amount: 5 }),
    track('u2', 'Purchased', '2026-01-09T09:00:00Z', { plan: 'team', amount: 5 }),
    track('u3', 'Purchased', '2026-01-11T09:00:00Z', { plan: 'team', amount: 5 }),
    track('u3', 'Purchased', '2026-01-11T10:00:00Z', { plan: 'enterprise', amount: 5 }),
  ]);
});

after(() => t.close());

test('every bucket of the range is answered, empty ones with 0', async () => {
  const r = await insight(t.app, 'trends', {
    series: [{ event: 'Signed Up' }],
    interval: 'day',
    dateRange: { from: '2026-01-10', to: '2026-01-14' },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(stable(r.body), {
    interval: 'day',
    timezone: 'UTC',
    range: { from: '2026-01-10T00:00:00.000Z', to: '2026-01-15T00:00:00.000Z' },
    buckets: [
      '2026-01-10T00:00:00+00:00',
      '2026-01-11T00:00:00+00:00',
      '2026-01-12T00:00:00+00:00',
      '2026-01-13T00:00:00+00:00',
      '2026-01-14T00:00:00+00:00',
    ],
    series: [
      { index: 0, event: 'Signed Up', math: 'total', breakdown: null, data: [0, 0, 1, 1, 2], total: 4 },
    ],
    previous: null,
  });
});

test("days are the time zone's: 03:00 UTC on the 13th is the 12th in New York", async () => {
  const r = await insight(t.app, 'trends', {
    series: [{ event: 'Signed Up' }],
    dateRange: { from: '2026-01-10', to: '2026-01-14' },
    timezone: 'America/New_York',
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body.range, { from: '2026-01-10T05:00:00.000Z', to: '2026-01-15T05:00:00.000Z' });
  assert.equal((r.body.buckets as string[])[0], '2026-01-10T00:00:00-05:00');
  assert.deepEqual((r.body.series as Array<{ data: number[] }>)[0]?.data, [0, 0, 2, 0, 2]);
});

test('unique persons count an anonymous id and the user it was identified as once', async () => {
  const r = await insight(t.app, 'trends', {
    series: [{ event: 'Page Viewed', math: 'unique_persons' }, { event: 'Page Viewed' }],
    dateRange: { from: '2026-01-13', to: '2026-01-13' },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const series = r.body.series as Array<{ data: number[]; total: number }>;
  assert.deepEqual(
    series.map((s) => [s.data, s.total]),
    [
      [[2], 2],
      [[3], 3],
    ],
  );
});

test('breakdown keeps the top values and counts the rest as "other"; compare answers the previous period', async () => {
  const r = await insight(t.app, 'trends', {
    series: [{ event: 'Purchased' }],
    dateRange: { from: '2026-01-12', to: '2026-01-14' },
    breakdown: { property: 'properties.plan', limit: 2 },
    compare: true,
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const rows = (s: Array<{ breakdown: unknown; data: number[]; total: number }>) =>
    s.map((x) => [x.breakdown, x.data, x.total]);
  const body = r.body as { series: never; previous: { range: unknown; buckets: string[]; series: never } };
  // pro 3, free 2; team and the purchase without a plan are "other".
  assert.deepEqual(rows(body.series), [
    [{ value: 'pro', other: false }, [1, 1, 1], 3],
    [{ value: 'free', other: false }, [1, 0, 1], 2],
    [{ value: null, other: true }, [0, 2, 0], 2],
  ]);
  assert.deepEqual(body.previous.range, { from: '2026-01-09T00:00:00.000Z', to: '2026-01-12T00:00:00.000Z' });
  assert.deepEqual(body.previous.buckets, [
    '2026-01-09T00:00:00+00:00',
    '2026-01-10T00:00:00+00:00',
    '2026-01-11T00:00:00+00:00',
  ]);
  // The same values as the current period: team and enterprise fall in "other" there too.
  assert.deepEqual(rows(body.previous.series), [
    [{ value: 'pro', other: false }, [0, 1, 0], 1],
    [{ value: 'free', other: false }, [0, 0, 0], 0],
    [{ value: null, other: true }, [1, 0, 2], 3],
  ]);
});

test('aggregates read JSON numbers only; an empty bucket is 0 for sums and null for the others', async () => {
  const maths = ['sum', 'avg', 'min', 'max', 'p50', 'p90'];
  const r = await insight(t.app, 'trends', {
    series: maths.map((math) => ({ event: 'Purchased', math, property: 'properties.amount' })),
    dateRange: { from: '2026-01-12', to: '2026-01-15' },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const got = (r.body.series as Array<{ math: string; data: unknown[]; total: unknown }>).map((s) => [
    s.math,
    s.data,
    s.total,
  ]);
  // Amounts 10 and 30 on the 12th, 20 (and "12", text) on the 13th, 40 and 50 on the 14th, nothing on the 15th.
  assert.deepEqual(got, [
    ['sum', [40, 20, 90, 0], 150],
    ['avg', [20, 20, 45, null], 30],
    ['min', [10, 20, 40, null], 10],
    ['max', [30, 20, 50, null], 50],
    ['p50', [20, 20, 45, null], 30],
    ['p90', [28, 20, 49, null], 46],
  ]);
});

test('weeks start on Monday, and the range starts with its first whole bucket', async () => {
  const r = await insight(t.app, 'trends', {
    series: [{ event: 'Purchased' }],
    interval: 'week',
    dateRange: { from: '2026-01-01', to: '2026-01-14' },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body.buckets, [
    '2025-12-29T00:00:00+00:00',
    '2026-01-05T00:00:00+00:00',
    '2026-01-12T00:00:00+00:00',
  ]);
  assert.deepEqual((r.body.series as Array<{ data: number[] }>)[0]?.data, [0, 4, 7]);
});

test('?explain=true shows the SQL and its bound values; relative ranges count back from now', async () => {
  const res = await t.app.inject({
    method: 'POST',
    url: '/insights/trends?explain=true',
    headers: { authorization: bearer(KEYS.read) },
    payload: {
      series: [{ event: 'Signed Up', filters: [{ property: 'properties.plan', op: 'eq', value: 'pro' }] }],
      dateRange: { from: '-3d' },
    },
  });
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json();
  assert.deepEqual(body.range, { from: '2026-01-12T00:00:00.000Z', to: '2026-01-15T12:00:00.000Z' });
  assert.equal(body.buckets.length, 4);
  assert.equal(body.sql.length, 1);
  assert.match(body.sql[0].sql, /FROM events\b/);
  if (TEST_ENGINE === 'clickhouse' || TEST_ENGINE === 'cluster') {
    // ClickHouse 18.16 binds no parameters: values are quoted literals in the text (store/clickhouse/http.ts lit).
    assert.deepEqual(body.sql[0].params, []);
    assert.ok(body.sql[0].sql.includes("'Signed Up'") && body.sql[0].sql.includes("'pro'"));
  } else {
    assert.ok(body.sql[0].params.includes('Signed Up'));
    assert.ok(body.sql[0].params.includes('pro'), 'filter values are bound, not pasted');
    assert.ok(!body.sql[0].sql.includes("'pro'"));
  }
});

test("the workspace's time zone setting is every insight's default", async () => {
  const ws = t.keys.findWorkspaceByName('default');
  assert.ok(ws);
  const patch = (timezone: string) =>
    t.app.inject({
      method: 'PATCH',
      url: `/admin/workspaces/${ws.id}/settings`,
      headers: { authorization: bearer(KEYS.admin) },
      payload: { timezone },
    });
  const bad = await patch('Mars/Olympus_Mons');
  assert.equal(bad.statusCode, 400, bad.body);
  assert.equal(bad.json().code, 'INTAKE_ERR_INVALID_TIMEZONE');
  const ok = await patch('America/New_York');
  assert.equal(ok.statusCode, 200, ok.body);
  assert.equal(ok.json().settings.timezone, 'America/New_York');
  try {
    const r = await insight(t.app, 'trends', {
      series: [{ event: 'Signed Up' }],
      dateRange: { from: '2026-01-10', to: '2026-01-14' },
    });
    assert.equal(r.body.timezone, 'America/New_York');
    assert.deepEqual((r.body.series as Array<{ data: number[] }>)[0]?.data, [0, 0, 2, 0, 2]);
  } finally {
    assert.equal((await patch('UTC')).statusCode, 200);
  }
});
