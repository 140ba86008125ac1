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
  const schema = (summary: string, description: string, body: TSchema, answer: TSchema) => ({
    preValidation: read,
    schema: {
      summary,
      description,
      tags: ['insights'],
      security: BEARER_SECURITY,
      querystring: Explain,
      body,
      response: { 200: answer, ...errorResponses },
    },
  });
  const answer = <R extends object>(started: number, a: InsightAnswer<R>, explain: boolean | undefined) => ({
    ...a.result,
    elapsedMs: Math.round((performance.now() - started) * 10) / 10,
    ...(explain ? { sql: a.sql } : {}),
  });
  const opts = () => ({ timeoutMs: ctx.config.queryTimeoutMs });
  const zone = (workspaceId: string) => ctx.keys.settingsOf(workspaceId).timezone;

  app.post(
    '/insights/trends',
    schema(
      'Trends: events, persons or a property aggregate per hour, day, week or month',
      'Series of events (name and property filters) with a math, per bucket of the workspace time zone, every ' +
        'bucket listed; optional breakdown (top values and "other") and the previous period (README "Insights").',
      TrendsBody,
      TrendsAnswer,
    ),
    async (req) => {
      const started = performance.now();
      const body = req.body as TrendsBody;
      const q = parseTrends(body, zone(req.auth.workspaceId), ctx.now());
      const a = await ctx.store.insights.trends(req.auth.workspaceId, q, opts());
      return answer(started, a, (req.query as { explain?: boolean }).explain);
    },
  );

  app.post(
    '/insights/funnels',
    schema(
      'Funnels: persons through 2 to 20 ordered, strict or unordered steps within a conversion window',
      'Counted per person after identity resolution; per step: count, conversion from the first and the previous ' +
        'step, drop-off, median and average time from the previous step (README "Insights").',
      FunnelsBody,
      FunnelsAnswer,
    ),
    async (req) => {
      const started = performance.now();
      const q = parseFunnels(req.body as FunnelsBody, zone(req.auth.workspaceId), ctx.now());
      const a = await ctx.store.insights.funnels(req.auth.workspaceId, q, opts());
      return answer(started, a, (req.query as { explain?: boolean }).explain);
    },
  );

  app.post(
    '/insights/retention',
    schema(
      'Retention: cohorts by first (or every) start event, and who came back in each later period',
      'Periods are days, weeks or months of the workspace time zone; the triangle stops at the present ' +
        '(README "Insights").',
      RetentionBody,
      RetentionAnswer,
    ),
    async (req) => {
      const started = performance.now();
      const q = parseRetention(req.body as RetentionBody, zone(req.auth.workspaceId), ctx.now());
      const a = await ctx.store.insights.retention(req.auth.workspaceId, q, opts());
      return answer(started, a, (req.query as { explain?: boolean }).explain);
    },
  );
}
