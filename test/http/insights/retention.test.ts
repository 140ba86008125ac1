// POST /insights/retention: a weekly triangle counted by hand, first-time cohorts against every-time cohorts,
// an anonymous sign-up that returns identified, and the triangle cut at the present.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestApp, type TestApp } from '../../helpers.ts';
import { identify, insight, NOW, send, stable, track } from './util.ts';

let t: TestApp;

before(async () => {
  t = await startTestApp({ now: () => NOW });
  await send(t.app, [
    // Weeks start on Mondays: Dec 22, Dec 29, Jan 5, Jan 12 (the present, Thursday Jan 15, is in it).
    track('r1', 'Signed Up', '2025-12-23T10:00:00Z'),
    track('r1', 'Used', '2025-12-30T10:00:00Z'),
    track('r1', 'Used', '2026-01-06T10:00:00Z'),
    track('r2', 'Signed Up', '2025-12-24T10:00:00Z'),
    track('r2', 'Used', '2026-01-13T10:00:00Z'),
    track('r3', 'Signed Up', '2025-12-30T10:00:00Z'),
    track('r3', 'Used', '2025-12-31T10:00:00Z'), // its own week: period 0
    track('r3', 'Used', '2026-01-06T10:00:00Z'),
    track('anon-b4', 'Signed Up', '2026-01-06T10:00:00Z'),
    identify('r4', 'anon-b4', '2026-01-07T10:00:00Z'),
    track('r4', 'Used', '2026-01-13T10:00:00Z'),
    track('r5', 'Signed Up', '2026-01-12T10:00:00Z'),
    // r6 first signed up in November: not new in December.
    track('r6', 'Signed Up', '2025-11-03T10:00:00Z'),
    track('r6', 'Signed Up', '2025-12-23T10:00:00Z'),
    track('r6', 'Used', '2025-12-30T10:00:00Z'),
  ]);
});

after(() => t.close());

const body = {
  startEvent: { event: 'Signed Up' },
  returnEvent: { event: 'Used' },
  period: 'week',
  periods: 4,
  dateRange: { from: '2025-12-22', to: '2026-01-14' },
};

test('first-time cohorts: the triangle of counts and percentages, cut at the present', async () => {
  const r = await insight(t.app, 'retention', body);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(stable(r.body), {
    period: 'week',
    cohort: 'first',
    timezone: 'UTC',
    range: { from: '2025-12-22T00:00:00.000Z', to: '2026-01-15T00:00:00.000Z' },
    cohorts: [
      { start: '2025-12-22T00:00:00+00:00', size: 2, counts: [2, 1, 1, 1], percentages: [100, 50, 50, 50] },
      { start: '2025-12-29T00:00:00+00:00', size: 1, counts: [1, 1, 0], percentages: [100, 100, 0] },
      // The anonymous sign-up came back identified.
      { start: '2026-01-05T00:00:00+00:00', size: 1, counts: [1, 1], percentages: [100, 100] },
      { start: '2026-01-12T00:00:00+00:00', size: 1, counts: [1], percentages: [100] },
    ],
  });
});

test('every-time cohorts count a person in each period they did the start event', async () => {
  const r = await insight(t.app, 'retention', { ...body, cohort: 'any' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const cohorts = r.body.cohorts as Array<{ size: number; counts: number[]; percentages: number[] }>;
  assert.deepEqual(
    cohorts.map((c) => [c.size, c.counts]),
    [
      [3, [3, 2, 1, 1]],
      [1, [1, 1, 0]],
      [1, [1, 1]],
      [1, [1]],
    ],
  );
  assert.deepEqual(cohorts[0]?.percentages, [100, 66.67, 33.33, 33.33]);
});

test('without a range: the last `periods` periods, the current one included', async () => {
  const r = await insight(t.app, 'retention', { ...body, dateRange: undefined, period: 'day', periods: 3 });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body.range, { from: '2026-01-13T00:00:00.000Z', to: '2026-01-15T12:00:00.000Z' });
  const cohorts = r.body.cohorts as Array<{ start: string; counts: number[] }>;
  assert.deepEqual(
    cohorts.map((c) => [c.start, c.counts]),
    [
      ['2026-01-13T00:00:00+00:00', [0, 0, 0]],
      ['2026-01-14T00:00:00+00:00', [0, 0]],
      ['2026-01-15T00:00:00+00:00', [0]],
    ],
  );
});
