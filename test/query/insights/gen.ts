// Generated data sets and insight requests for comparing an engine's insights with the reference: persons with
// several anonymous ids merged by identify and alias calls at random times, events of a few names (so steps
// repeat), ties in time, properties of every JSON kind, and time zones whose clocks change inside the range.
import fc from 'fast-check';

export const NOW = new Date('2026-03-10T15:30:00.000Z');
const START = NOW.getTime() - 16 * 86_400_000;
export const NAMES = ['A', 'B', 'C'];
export const ZONES = ['UTC', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe'];

export type Item = Record<string, unknown>;

const plan = fc.constantFrom<unknown>('free', 'pro', 'Pro', 'team', null, undefined, 7);
const num = fc.oneof(
  fc.integer({ min: -5, max: 50 }),
  fc.constantFrom<unknown>(1.5, 2.25, '12', null, undefined, true),
);

/** Segment batch items: track events, identify calls (with traits) and aliases, in no particular order. */
export const dataset = fc
  .record({
    users: fc.integer({ min: 2, max: 8 }),
    anons: fc.integer({ min: 2, max: 10 }),
    size: fc.integer({ min: 10, max: 90 }),
    seed: fc.integer(),
  })
  .chain(({ users, anons, size }) => {
    const ts = fc.oneof(
      { weight: 5, arbitrary: fc.integer({ min: 0, max: 16 * 24 * 60 }).map((m) => START + m * 60_000) },
      // Whole hours: ties between events, and events exactly on bucket starts.
      { weight: 5, arbitrary: fc.integer({ min: 0, max: 16 * 24 }).map((h) => START + h * 3_600_000) },
    );
    const user = fc.integer({ min: 0, max: users - 1 }).map((i) => `u${i}`);
    const anon = fc.integer({ min: 0, max: anons - 1 }).map((i) => `a${i}`);
    const who = fc.oneof(
      fc.record({ userId: user }),
      fc.record({ anonymousId: anon }),
      fc.record({ userId: user, anonymousId: anon }),
    );
    const track = fc.record({
      type: fc.constant('track'),
      who,
      event: fc.constantFrom(...NAMES),
      t: ts,
      plan,
      n: num,
      city: fc.constantFrom<unknown>('Paris', 'Oslo', undefined),
      locale: fc.constantFrom<unknown>('en-US', 'fr-FR', undefined),
    });
    const identify = fc.record({
      type: fc.constant('identify'),
      who: fc.record({ userId: user, anonymousId: fc.option(anon, { nil: undefined }) }),
      t: ts,
      tier: fc.constantFrom<unknown>('gold', 'silver', undefined, 3),
      company: fc.constantFrom<unknown>('acme', 'initech', undefined),
    });
    const alias = fc.record({ type: fc.constant('alias'), userId: user, previousId: anon, t: ts });
    return fc.array(
      fc.oneof(
        { weight: 10, arbitrary: track },
        { weight: 2, arbitrary: identify },
        { weight: 1, arbitrary: alias },
      ),
      { minLength: size, maxLength: size },
    );
  })
  .map((raw) =>
    raw.map((r, i): Item => {
      const base = { messageId: `m${i}`, timestamp: new Date(r.t).toISOString() };
      if (r.type === 'alias') return { ...base, type: 'alias', userId: r.userId, previousId: r.previousId };
      if (r.type === 'identify') {
        const traits: Item = {};
        if (r.tier !== undefined) traits.tier = r.tier;
        if (r.company !== undefined) traits.company = { name: r.company };
        return { ...base, type: 'identify', ...strip(r.who), traits };
      }
      const properties: Item = {};
      if (r.plan !== undefined) properties.plan = r.plan;
      if (r.n !== undefined) properties.n = r.n;
      if (r.city !== undefined) properties.address = { city: r.city };
      const context: Item = {};
      if (r.locale !== undefined) context.locale = r.locale;
      return { ...base, type: 'track', event: r.event, ...strip(r.who), properties, context };
    }),
  );

function strip(o: Record<string, unknown>): Item {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

const property = fc.constantFrom(
  'properties.plan',
  'properties.n',
  'properties.address.city',
  'context.locale',
  'person.tier',
  'person.company.name',
);
const filter = fc.oneof(
  fc.record({
    property,
    op: fc.constantFrom('eq', 'neq'),
    value: fc.oneof(
      plan.filter((v) => v !== undefined && v !== null) as fc.Arbitrary<string>,
      fc.constant(['free', 'Pro']),
    ),
  }),
  fc.record({
    property: fc.constantFrom('properties.n', 'person.tier'),
    op: fc.constantFrom('gt', 'gte', 'lt', 'lte'),
    value: fc.integer({ min: -2, max: 20 }),
  }),
  fc.record({
    property,
    op: fc.constantFrom('contains', 'not_contains'),
    value: fc.constantFrom('pro', 'o', 'AC'),
  }),
  fc.record({ property, op: fc.constantFrom('is_set', 'is_not_set') }),
);
const matcher = fc.record({
  event: fc.constantFrom(...NAMES),
  filters: fc.array(filter, { maxLength: 2 }),
});
const relative = fc.constantFrom('-24h', '-3d', '-7d', '-2w', '-1m');
const absolute = fc
  .record({ a: fc.integer({ min: 0, max: 15 }), len: fc.integer({ min: 1, max: 10 }) })
  .map(({ a, len }) => {
    const day = (d: number) => new Date(START + d * 86_400_000).toISOString().slice(0, 10);
    return { from: day(a), to: day(Math.min(15, a + len)) };
  });
const dateRange = fc.oneof(
  relative.map((from) => ({ from })),
  absolute,
);
const breakdown = fc.record({ property, limit: fc.integer({ min: 1, max: 4 }) });

export const trendsBody = fc
  .record({
    series: fc.array(
      fc.record({
        ...{ event: fc.constantFrom(...NAMES), filters: fc.array(filter, { maxLength: 2 }) },
        math: fc.constantFrom(
          'total',
          'unique_persons',
          'sum',
          'avg',
          'min',
          'max',
          'p50',
          'p90',
          'p95',
          'p99',
        ),
      }),
      { minLength: 1, maxLength: 3 },
    ),
    interval: fc.constantFrom('hour', 'day', 'week', 'month'),
    dateRange,
    breakdown: fc.option(breakdown, { nil: undefined }),
    compare: fc.boolean(),
    timezone: fc.constantFrom(...ZONES),
  })
  .map((b) => ({
    ...b,
    // An hourly range is kept under the bucket limit by the data set's span.
    series: b.series.map((s) =>
      s.math === 'total' || s.math === 'unique_persons' ? s : { ...s, property: 'properties.n' },
    ),
  }));

export const funnelsBody = fc.record({
  steps: fc.array(matcher, { minLength: 2, maxLength: 5 }),
  order: fc.constantFrom('ordered', 'ordered', 'strict', 'unordered'),
  window: fc.oneof(
    fc.record({ value: fc.integer({ min: 1, max: 72 }), unit: fc.constantFrom('minute', 'hour', 'day') }),
    // Whole hours and days: events on the hour grid land exactly on the window's end.
    fc.record({ value: fc.integer({ min: 1, max: 6 }), unit: fc.constantFrom('hour', 'day') }),
  ),
  dateRange,
  breakdown: fc.option(breakdown, { nil: undefined }),
  timezone: fc.constantFrom(...ZONES),
});

export const retentionBody = fc.record({
  startEvent: matcher,
  returnEvent: matcher,
  cohort: fc.constantFrom('first', 'any'),
  period: fc.constantFrom('day', 'week'),
  periods: fc.integer({ min: 1, max: 8 }),
  dateRange: fc.option(dateRange, { nil: undefined }),
  timezone: fc.constantFrom(...ZONES),
});
