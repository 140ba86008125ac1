// POST /insights/trends, /insights/funnels, /insights/retention: the body becomes an engine-neutral description
// (query/insights/parse.ts), the store compiles and runs it; ?explain=true adds the SQL it ran.
import { type TSchema, Type } from '@sinclair/typebox';
import type { InsightAnswer } from '../../core/insights.ts';
import { parseFunnels, parseRetention, parseTrends } from '../../query/insights/parse.ts';
import { FunnelsBody, RetentionBody, TrendsBody } from '../../query/insights/schemas.ts';
import { requireScope } from '../auth.ts';
import type { RouteContext, TypedApp } from '../context.ts';
import { FunnelsAnswer, RetentionAnswer, TrendsAnswer } from '../insight-schemas.ts';
import { BEARER_SECURITY, errorResponses } from '../schemas.ts';

const Explain = Type.Object({
  explain: Type.Optional(Type.Boolean({ description: 'Add the SQL the engine ran (`sql`)' })),
});

export function insightRoutes(app: TypedApp, ctx: RouteContext): void {
  const read = requireScope(ctx.keys, 'query');
  const opts = () => ({ timeoutMs: ctx.config.queryTimeoutMs });

  /** One insight route: the body parsed in the workspace's time zone, run by the store, timed, and explained. */
  const route = <B, Q, R extends object>(
    kind: string,
    doc: { summary: string; description: string; body: TSchema; answer: TSchema },
    parse: (body: B, zone: string, now: Date) => Q,
    run: (workspaceId: string, q: Q, o: { timeoutMs: number }) => Promise<InsightAnswer<R>>,
  ) =>
    app.post(
      `/insights/${kind}`,
      {
        preValidation: read,
        schema: {
          summary: doc.summary,
          description: doc.description,
          tags: ['insights'],
          security: BEARER_SECURITY,
          querystring: Explain,
          body: doc.body,
          response: { 200: doc.answer, ...errorResponses },
        },
      },
      async (req) => {
        const started = performance.now();
        const ws = req.auth.workspaceId;
        const a = await run(ws, parse(req.body as B, ctx.keys.settingsOf(ws).timezone, ctx.now()), opts());
        return {
          ...a.result,
          elapsedMs: Math.round((performance.now() - started) * 10) / 10,
          ...((req.query as { explain?: boolean }).explain ? { sql: a.sql } : {}),
        };
      },
    );

  route(
    'trends',
    {
      summary: 'Trends: events, persons or a property aggregate per hour, day, week or month',
      description:
        'Series of events (name and property filters) with a math, per bucket of the workspace time zone, every ' +
        'bucket listed; optional breakdown (top values and "other") and the previous period (README "Insights").',
      body: TrendsBody,
      answer: TrendsAnswer,
    },
    parseTrends,
    (ws, q, o) => ctx.store.insights.trends(ws, q, o),
  );
  route(
    'funnels',
    {
      summary:
        'Funnels: persons through 2 to 20 ordered, strict or unordered steps within a conversion window',
      description:
        'Counted per person after identity resolution; per step: count, conversion from the first and the previous ' +
        'step, drop-off, median and average time from the previous step (README "Insights").',
      body: FunnelsBody,
      answer: FunnelsAnswer,
    },
    parseFunnels,
    (ws, q, o) => ctx.store.insights.funnels(ws, q, o),
  );
  route(
    'retention',
    {
      summary: 'Retention: cohorts by first (or every) start event, and who came back in each later period',
      description:
        'Periods are days, weeks or months of the workspace time zone; the triangle stops at the present ' +
        '(README "Insights").',
      body: RetentionBody,
      answer: RetentionAnswer,
    },
    parseRetention,
    (ws, q, o) => ctx.store.insights.retention(ws, q, o),
  );
}
