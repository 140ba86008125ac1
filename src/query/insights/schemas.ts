// The request bodies of POST /insights/trends, /funnels and /retention: one TypeBox schema each gives fastify's
// validation, the TypeScript type parse.ts reads and the OpenAPI document. Shapes only: what a value must mean
// (a known interval, a property path, a range that fits) is checked by parse.ts, which answers a coded 400
// naming the field.
import { type Static, Type } from '@sinclair/typebox';

const Scalar = Type.Union([Type.String({ maxLength: 1000 }), Type.Number(), Type.Boolean()]);

const Property = Type.String({
  minLength: 1,
  maxLength: 1000,
  description: 'properties.<key>[.<key>...], context.<key>... or person.<trait>...',
  examples: ['properties.plan', 'context.page.path', 'person.company.name'],
});

export const FilterBody = Type.Object(
  {
    property: Property,
    op: Type.String({
      description: 'eq, neq, gt, gte, lt, lte, contains, not_contains, is_set, is_not_set',
    }),
    value: Type.Optional(
      Type.Union([Scalar, Type.Array(Scalar, { minItems: 1, maxItems: 100 })], {
        description: 'eq/neq: a value or a list (any of); gt..lte: a number; contains: text; is_set: none',
      }),
    ),
  },
  { additionalProperties: false },
);

const matcher = {
  event: Type.String({ minLength: 1, maxLength: 200, description: 'Track event name' }),
  filters: Type.Optional(Type.Array(FilterBody, { maxItems: 100 })),
};
export const MatcherBody = Type.Object(matcher, { additionalProperties: false });

export const DateRangeBody = Type.Object(
  {
    from: Type.String({
      minLength: 1,
      maxLength: 64,
      description:
        'Relative (-24h, -7d, -2w, -3m: back to the start of that hour/day/week/month; -1y: twelve months), a date ' +
        '(2026-01-01: local midnight), a local date-time (2026-01-01T09:00) or an instant (…Z, …+02:00)',
    }),
    to: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description: 'Exclusive end; a date means the end of that day. Default: now',
      }),
    ),
  },
  { additionalProperties: false },
);

export const BreakdownBody = Type.Object(
  {
    property: Property,
    limit: Type.Optional(
      Type.Integer({
        minimum: 1,
        description: 'Values kept (by matching events); the rest are "other". Default 10',
      }),
    ),
  },
  { additionalProperties: false },
);

const timezone = Type.Optional(
  Type.String({ maxLength: 64, description: "IANA time zone; default: the workspace's setting (UTC)" }),
);

export const TrendsBody = Type.Object(
  {
    series: Type.Array(
      Type.Object(
        {
          ...matcher,
          math: Type.Optional(
            Type.String({
              description:
                'total (default), unique_persons, or sum, avg, min, max, p50, p90, p95, p99 of `property`',
            }),
          ),
          property: Type.Optional(Property),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 100 },
    ),
    interval: Type.Optional(Type.String({ description: 'hour, day (default), week or month' })),
    dateRange: Type.Optional(DateRangeBody),
    breakdown: Type.Optional(BreakdownBody),
    compare: Type.Optional(
      Type.Boolean({ description: 'Also answer the previous period of the same length' }),
    ),
    timezone,
  },
  { additionalProperties: false },
);
export type TrendsBody = Static<typeof TrendsBody>;

export const FunnelsBody = Type.Object(
  {
    steps: Type.Array(MatcherBody, { minItems: 1, maxItems: 100, description: '2 to 20 steps' }),
    order: Type.Optional(Type.String({ description: 'ordered (default), strict or unordered' })),
    window: Type.Optional(
      Type.Object(
        {
          value: Type.Integer({ minimum: 1 }),
          unit: Type.String({ description: 'second, minute, hour, day, week or month (30 days)' }),
        },
        {
          additionalProperties: false,
          description: 'Conversion window from the first step. Default 14 days',
        },
      ),
    ),
    dateRange: Type.Optional(DateRangeBody),
    breakdown: Type.Optional(BreakdownBody),
    timezone,
  },
  { additionalProperties: false },
);
export type FunnelsBody = Static<typeof FunnelsBody>;

export const RetentionBody = Type.Object(
  {
    startEvent: MatcherBody,
    returnEvent: MatcherBody,
    cohort: Type.Optional(
      Type.String({ description: 'first (default: first time ever) or any (every time)' }),
    ),
    period: Type.Optional(Type.String({ description: 'day, week (default) or month' })),
    periods: Type.Optional(
      Type.Integer({ minimum: 1, description: 'Columns: period 0 to periods - 1. Default 8' }),
    ),
    dateRange: Type.Optional(DateRangeBody),
    timezone,
  },
  { additionalProperties: false },
);
export type RetentionBody = Static<typeof RetentionBody>;
