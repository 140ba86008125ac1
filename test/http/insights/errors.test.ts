// Bad insight requests: each is a coded 400 that names its field (or the auth error), never a 500.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { KEYS, startTestApp, type TestApp } from '../../helpers.ts';
import { insight, NOW } from './util.ts';

let t: TestApp;
before(async () => {
  t = await startTestApp({ now: () => NOW });
});
after(() => t.close());

const series = [{ event: 'A' }];
const cases: Array<[string, string, Record<string, unknown>, string, string?]> = [
  [
    'property path without a source',
    'trends',
    { series, breakdown: { property: 'plan' } },
    'INTAKE_ERR_INSIGHT_PROPERTY',
    'breakdown.property',
  ],
  [
    'property path with a quote',
    'trends',
    { series: [{ event: 'A', filters: [{ property: 'properties.a"b', op: 'is_set' }] }] },
    'INTAKE_ERR_INSIGHT_PROPERTY',
    'series[0].filters[0].property',
  ],
  [
    'property path too deep',
    'funnels',
    {
      steps: [
        { event: 'A', filters: [{ property: 'context.a.b.c.d.e.f.g.h.i', op: 'is_set' }] },
        { event: 'B' },
      ],
    },
    'INTAKE_ERR_INSIGHT_PROPERTY',
    'steps[0].filters[0].property',
  ],
  ['one step', 'funnels', { steps: [{ event: 'A' }] }, 'INTAKE_ERR_INSIGHT_STEPS', 'steps'],
  [
    '21 steps',
    'funnels',
    { steps: Array.from({ length: 21 }, () => ({ event: 'A' })) },
    'INTAKE_ERR_INSIGHT_STEPS',
    'steps',
  ],
  [
    '11 series',
    'trends',
    { series: Array.from({ length: 11 }, () => ({ event: 'A' })) },
    'INTAKE_ERR_INSIGHT_STEPS',
    'series',
  ],
  [
    'hours over two months',
    'trends',
    { series, interval: 'hour', dateRange: { from: '-2m' } },
    'INTAKE_ERR_INSIGHT_RANGE',
    'dateRange',
  ],
  [
    'days over four years',
    'retention',
    {
      startEvent: { event: 'A' },
      returnEvent: { event: 'A' },
      period: 'day',
      dateRange: { from: '2022-01-01' },
    },
    'INTAKE_ERR_INSIGHT_RANGE',
    'dateRange',
  ],
  [
    'a range that ends before it starts',
    'trends',
    { series, dateRange: { from: '2026-01-10', to: '2026-01-01' } },
    'INTAKE_ERR_INSIGHT_RANGE',
    'dateRange',
  ],
  [
    'a date that is not one',
    'trends',
    { series, dateRange: { from: '2026-02-30' } },
    'INTAKE_ERR_INSIGHT_RANGE',
    'dateRange.from',
  ],
  [
    'a relative date in days of the week',
    'trends',
    { series, dateRange: { from: 'last tuesday' } },
    'INTAKE_ERR_INSIGHT_RANGE',
    'dateRange.from',
  ],
  [
    'an interval of a fortnight',
    'trends',
    { series, interval: 'fortnight' },
    'INTAKE_ERR_INSIGHT_INTERVAL',
    'interval',
  ],
  [
    'hourly retention',
    'retention',
    { startEvent: { event: 'A' }, returnEvent: { event: 'A' }, period: 'hour' },
    'INTAKE_ERR_INSIGHT_INTERVAL',
    'period',
  ],
  [
    'a window in decades',
    'funnels',
    { steps: [{ event: 'A' }, { event: 'B' }], window: { value: 1, unit: 'decade' } },
    'INTAKE_ERR_INSIGHT_INTERVAL',
    'window.unit',
  ],
  [
    'a sum of nothing',
    'trends',
    { series: [{ event: 'A', math: 'sum' }] },
    'INTAKE_ERR_INSIGHT_INVALID',
    'series[0].property',
  ],
  [
    'a median math',
    'trends',
    { series: [{ event: 'A', math: 'median', property: 'properties.n' }] },
    'INTAKE_ERR_INSIGHT_INVALID',
    'series[0].math',
  ],
  [
    'gt a text',
    'trends',
    { series: [{ event: 'A', filters: [{ property: 'properties.n', op: 'gt', value: 'ten' }] }] },
    'INTAKE_ERR_INSIGHT_INVALID',
    'series[0].filters[0].value',
  ],
  [
    'an unknown operator',
    'trends',
    { series: [{ event: 'A', filters: [{ property: 'properties.n', op: 'like', value: 'x' }] }] },
    'INTAKE_ERR_INSIGHT_INVALID',
    'series[0].filters[0].op',
  ],
  [
    'an unknown order',
    'funnels',
    { steps: [{ event: 'A' }, { event: 'B' }], order: 'sideways' },
    'INTAKE_ERR_INSIGHT_INVALID',
    'order',
  ],
  [
    'a breakdown of 500 values',
    'trends',
    { series, breakdown: { property: 'properties.plan', limit: 500 } },
    'INTAKE_ERR_INSIGHT_INVALID',
    'breakdown.limit',
  ],
  [
    'a time zone that is not one',
    'funnels',
    { steps: [{ event: 'A' }, { event: 'B' }], timezone: 'Europe/Atlantis' },
    'INTAKE_ERR_INVALID_TIMEZONE',
    'timezone',
  ],
  ['no series at all', 'trends', {}, 'INTAKE_ERR_INVALID_BODY'],
  [
    'an unknown field',
    'retention',
    { startEvent: { event: 'A' }, returnEvent: { event: 'A' }, cohorts: 'first' },
    'INTAKE_ERR_INVALID_BODY',
  ],
];

for (const [name, kind, body, code, field] of cases) {
  test(`${kind}: ${name} is ${code}`, async () => {
    const r = await insight(t.app, kind, body);
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.code, code, JSON.stringify(r.body));
    if (field) assert.deepEqual(r.body.details, { field });
  });
}

test('insights need a read or admin key', async () => {
  const write = await insight(t.app, 'trends', { series }, KEYS.write);
  assert.equal(write.status, 403);
  assert.equal(write.body.code, 'INTAKE_ERR_WRONG_KEY_KIND');
  const admin = await insight(t.app, 'trends', { series }, KEYS.admin);
  assert.equal(admin.status, 200, JSON.stringify(admin.body));
});
