// The answers of POST /insights/*, for fastify's serializer and the OpenAPI document (the TypeScript types are
// core/insights.ts's).
import { Type } from '@sinclair/typebox';

const Num = Type.Union([Type.Number(), Type.Null()]);
const Range = Type.Object({
  from: Type.String({ format: 'date-time' }),
  to: Type.String({ format: 'date-time' }),
});
const Breakdown = Type.Union([
  Type.Object({
    value: Type.Union([Type.String(), Type.Null()], {
      description: "The property's text; null when not set",
    }),
    other: Type.Boolean({ description: 'The values past the limit, together' }),
  }),
  Type.Null(),
]);
const Sql = Type.Optional(
  Type.Array(
    Type.Object({
      sql: Type.String(),
      params: Type.Array(Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()])),
    }),
    {
      description:
        'With ?explain=true: the statements the engine ran, with their bound parameters ($1, $2, ...)',
    },
  ),
);
const common = { elapsedMs: Type.Number({ description: 'Time spent answering, in ms' }), sql: Sql };

const Series = Type.Object({
  index: Type.Integer({ description: 'Position of the series in the request' }),
  event: Type.String(),
  math: Type.String(),
  breakdown: Breakdown,
  data: Type.Array(Num, { description: 'One value per bucket; empty buckets are 0 (counts, sums) or null' }),
  total: Num,
});
const Period = {
  range: Range,
  buckets: Type.Array(Type.String(), { description: 'Bucket starts in the time zone, with their offset' }),
  series: Type.Array(Series),
};

export const TrendsAnswer = Type.Object({
  interval: Type.String(),
  timezone: Type.String(),
  ...Period,
  previous: Type.Union([Type.Object(Period), Type.Null()]),
  ...common,
});

const Step = Type.Object({
  index: Type.Integer(),
  event: Type.String(),
  count: Type.Integer({ description: 'Persons who reached the step' }),
  conversionFromFirst: Num,
  conversionFromPrevious: Num,
  dropOff: Type.Integer({ description: 'Persons who reached the previous step but not this one' }),
  medianTimeMs: Num,
  averageTimeMs: Num,
});

export const FunnelsAnswer = Type.Object({
  order: Type.String(),
  windowMs: Type.Number(),
  range: Range,
  results: Type.Array(Type.Object({ breakdown: Breakdown, steps: Type.Array(Step) })),
  ...common,
});

export const RetentionAnswer = Type.Object({
  period: Type.String(),
  cohort: Type.String(),
  timezone: Type.String(),
  range: Range,
  cohorts: Type.Array(
    Type.Object({
      start: Type.String({ description: "Start of the cohort's period, with its offset" }),
      size: Type.Integer(),
      counts: Type.Array(Type.Integer(), {
        description: 'Persons returning in period 0 (= size), 1, 2, ...',
      }),
      percentages: Type.Array(Type.Number()),
    }),
  ),
  ...common,
});
