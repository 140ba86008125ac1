// POST /insights/funnels on handmade persons whose conversions can be counted by hand: an anonymous start
// finished after identify, the window's inclusive edge, steps out of order, another event between steps
// (strict), any order (unordered), a repeated step, and a breakdown with "other".
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestApp, type TestApp } from '../../helpers.ts';
import { HOUR, identify, insight, NOW, send, stable, track } from './util.ts';

let t: TestApp;

before(async () => {
  t = await startTestApp({ now: () => NOW });
  await send(t.app, [
    // p1: all three steps, 1 h then 2 h apart.
    track('u1', 'Viewed', '2026-01-02T10:00:00Z', { source: 'ads' }),
    track('u1', 'Added', '2026-01-02T11:00:00Z'),
    track('u1', 'Paid', '2026-01-02T13:00:00Z'),
    // p2: two steps.
    track('u2', 'Viewed', '2026-01-03T10:00:00Z', { source: 'ads' }),
    track('u2', 'Added', '2026-01-03T12:00:00Z'),
    // p3: pays before adding: two steps in order, three in any order, one when strict.
    track('u3', 'Viewed', '2026-01-04T10:00:00Z', { source: 'seo' }),
    track('u3', 'Paid', '2026-01-04T11:00:00Z'),
    track('u3', 'Added', '2026-01-04T12:00:00Z'),
    // p4: starts anonymous, identifies (not a track event: strict is not broken), finishes as a user.
    track('anon-a4', 'Viewed', '2026-01-05T10:00:00Z'),
    identify('u4', 'anon-a4', '2026-01-05T10:30:00Z'),
    track('u4', 'Added', '2026-01-05T11:00:00Z'),
    track('u4', 'Paid', '2026-01-05T11:30:00Z'),
    // p5: adds exactly one window later (in), pays one millisecond after that (out).
    track('u5', 'Viewed', '2026-01-06T10:00:00Z', { source: 'email' }),
    track('u5', 'Added', '2026-01-07T10:00:00Z'),
    track('u5', 'Paid', '2026-01-07T10:00:00.001Z'),
    // p6 never views; p7 viewed before the range.
    track('u6', 'Added', '2026-01-06T10:00:00Z'),
    track('u7', 'Viewed', '2025-12-31T23:00:00Z'),
    track('u7', 'Added', '2026-01-01T01:00:00Z'),
    // Repeated steps: q1 opens once, q2 twice, q3 opens, saves, opens.
    track('q1', 'Opened', '2026-01-08T10:00:00Z'),
    track('q1', 'Saved', '2026-01-08T11:00:00Z'),
    track('q2', 'Opened', '2026-01-08T10:00:00Z'),
    track('q2', 'Opened', '2026-01-08T10:05:00Z'),
    track('q2', 'Saved', '2026-01-08T11:00:00Z'),
    track('q3', 'Opened', '2026-01-08T10:00:00Z'),
    track('q3', 'Saved', '2026-01-08T11:00:00Z'),
    track('q3', 'Opened', '2026-01-08T12:00:00Z'),
    // p8: another event between viewing and adding.
    track('u8', 'Viewed', '2026-01-09T10:00:00Z'),
    track('u8', 'Searched', '2026-01-09T10:10:00Z'),
    track('u8', 'Added', '2026-01-09T10:20:00Z'),
  ]);
});

after(() => t.close());

const steps = [{ event: 'Viewed' }, { event: 'Added' }, { event: 'Paid' }];
const range = { from: '2026-01-01', to: '2026-01-14' };
const window = { value: 1, unit: 'day' };
const counts = (body: Record<string, unknown>) =>
  (body.results as Array<{ steps: Array<{ count: number }> }>).map((r) => r.steps.map((s) => s.count));

test('ordered: counted per person, identity-resolved, the window inclusive', async () => {
  const r = await insight(t.app, 'funnels', { steps, window, dateRange: range });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  // Viewed: p1, p2, p3, p4, p5, p8 (p7 viewed before the range). Added after: all six. Paid after: p1, p4.
  const step2 = [1, 2, 2, 1, 24, 20 / 60].map((h) => h * HOUR);
  assert.deepEqual(stable(r.body), {
    order: 'ordered',
    windowMs: 24 * HOUR,
    range: { from: '2026-01-01T00:00:00.000Z', to: '2026-01-15T00:00:00.000Z' },
    results: [
      {
        breakdown: null,
        steps: [
          {
            index: 0,
            event: 'Viewed',
            count: 6,
            conversionFromFirst: 1,
            conversionFromPrevious: null,
            dropOff: 0,
            medianTimeMs: null,
            averageTimeMs: null,
          },
          {
            index: 1,
            event: 'Added',
            count: 6,
            conversionFromFirst: 1,
            conversionFromPrevious: 1,
            dropOff: 0,
            medianTimeMs: 1.5 * HOUR,
            averageTimeMs: step2.reduce((a, b) => a + b) / 6,
          },
          {
            index: 2,
            event: 'Paid',
            count: 2,
            conversionFromFirst: 2 / 6,
            conversionFromPrevious: 2 / 6,
            dropOff: 4,
            medianTimeMs: 1.25 * HOUR,
            averageTimeMs: 1.25 * HOUR,
          },
        ],
      },
    ],
  });
});

test('strict: another track event between two steps breaks the sequence; identify does not', async () => {
  const r = await insight(t.app, 'funnels', { steps, window, dateRange: range, order: 'strict' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  // p3 pays before adding (1 step), p8 searches in between (1 step); p4's identify does not count.
  assert.deepEqual(counts(r.body), [[6, 4, 2]]);
});

test('unordered: the steps in any order within the window', async () => {
  const r = await insight(t.app, 'funnels', { steps, window, dateRange: range, order: 'unordered' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  // p3 now does all three; p5's payment is still one millisecond too late.
  assert.deepEqual(counts(r.body), [[6, 6, 3]]);
});

test('a repeated step needs another occurrence: one event never fills two steps', async () => {
  const body = {
    steps: [{ event: 'Opened' }, { event: 'Opened' }, { event: 'Saved' }],
    window,
    dateRange: range,
  };
  const ordered = await insight(t.app, 'funnels', body);
  // q1: one Opened (1 step); q2: two then Saved (3); q3: Opened, Saved, Opened (2).
  assert.deepEqual(counts(ordered.body), [[3, 2, 1]]);
  const unordered = await insight(t.app, 'funnels', { ...body, order: 'unordered' });
  // In any order q3 has its two Opened and a Saved within the day.
  assert.deepEqual(counts(unordered.body), [[3, 2, 2]]);
});

test('breakdown by the first step event property: top values by persons entering, the rest as "other"', async () => {
  const r = await insight(t.app, 'funnels', {
    steps: steps.slice(0, 2),
    window,
    dateRange: range,
    breakdown: { property: 'properties.source', limit: 2 },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const results = r.body.results as Array<{ breakdown: unknown; steps: Array<{ count: number }> }>;
  // ads: p1, p2; no source: p4, p8 (ties are ordered by value, not set last); email (p5) and seo (p3) are other.
  assert.deepEqual(
    results.map((x) => [x.breakdown, x.steps.map((s) => s.count)]),
    [
      [{ value: 'ads', other: false }, [2, 2]],
      [{ value: null, other: false }, [2, 2]],
      [{ value: null, other: true }, [2, 2]],
    ],
  );
});

test('an unordered funnel refuses one event in steps that differ', async () => {
  const r = await insight(t.app, 'funnels', {
    steps: [
      { event: 'Viewed' },
      { event: 'Viewed', filters: [{ property: 'properties.source', op: 'eq', value: 'ads' }] },
    ],
    order: 'unordered',
  });
  assert.equal(r.status, 400);
  assert.equal(r.body.code, 'INTAKE_ERR_INSIGHT_INVALID');
  assert.deepEqual(r.body.details, { field: 'steps[1]' });
});
