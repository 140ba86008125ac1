// Tracking plans: the workspace's current plan and its versions (README "Tracking plans"), and a draft made from
// what the data dictionary saw. Changing a plan (or drafting one) needs the manage scope; reading one, read.
import { Type } from '@sinclair/typebox';
import { IntakeError } from '../../core/errors.ts';
import { draftPlan } from '../../pipeline/plan/draft.ts';
import type { PlanRing } from '../../plans/ring.ts';
import { compileOrRefuse } from '../../plans/ring.ts';
import type { StoredPlan } from '../../store/types.ts';
import { requireScope } from '../auth.ts';
import type { RouteContext, TypedApp } from '../context.ts';
import { BEARER_SECURITY, errorResponses } from '../schemas.ts';

const PlanDocument = Type.Object(
  {},
  { additionalProperties: true, description: 'A tracking plan (README "Tracking plans" gives its format)' },
);
const PlanVersion = Type.Object({
  version: Type.Integer(),
  createdAt: Type.String({ format: 'date-time' }),
  plan: Type.Unknown(),
});
const security = BEARER_SECURITY;
const tags = ['plans'];

const DAY_MS = 86_400_000;

const answer = (p: StoredPlan) => ({
  version: p.version,
  createdAt: p.createdAt.toISOString(),
  plan: p.plan,
});

export function planRoutes(app: TypedApp, ctx: RouteContext & { plans: PlanRing }): void {
  const read = requireScope(ctx.keys, 'read');
  // The workspace's own settings: the manage scope (admin and private keys).
  const admin = requireScope(ctx.keys, 'manage');

  app.get(
    '/plans/current',
    {
      preValidation: read,
      schema: {
        summary: "The workspace's tracking plan in force",
        tags,
        security,
        response: { 200: PlanVersion, ...errorResponses },
      },
    },
    async (req) => {
      const p = await ctx.store.plans.getPlan(req.auth.workspaceId);
      if (!p) throw new IntakeError('INTAKE_ERR_NOT_FOUND', 'this workspace has no tracking plan');
      return answer(p);
    },
  );

  app.put(
    '/plans/current',
    {
      preValidation: admin,
      schema: {
        summary: 'Put a new version of the tracking plan in force (from the next request on)',
        description:
          'The plan is checked and its schemas compiled first: a bad one is a 400 naming the field, and nothing changes.',
        tags,
        security,
        body: PlanDocument,
        response: { 200: PlanVersion, ...errorResponses },
      },
    },
    async (req) => answer(await ctx.plans.save(req.auth.workspaceId, req.body, ctx.now())),
  );

  app.get(
    '/plans/versions',
    {
      preValidation: read,
      schema: {
        summary: "Every version of the workspace's tracking plan, newest first",
        tags,
        security,
        response: {
          200: Type.Object({
            results: Type.Array(
              Type.Object({ version: Type.Integer(), createdAt: Type.String({ format: 'date-time' }) }),
            ),
          }),
          ...errorResponses,
        },
      },
    },
    async (req) => ({
      results: (await ctx.store.plans.listPlans(req.auth.workspaceId)).map((v) => ({
        version: v.version,
        createdAt: v.createdAt.toISOString(),
      })),
    }),
  );

  app.get(
    '/plans/versions/:version',
    {
      preValidation: read,
      schema: {
        summary: 'One version of the tracking plan',
        tags,
        security,
        params: Type.Object({ version: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }) }),
        response: { 200: PlanVersion, ...errorResponses },
      },
    },
    async (req) => {
      const p = await ctx.store.plans.getPlan(req.auth.workspaceId, req.params.version);
      if (!p)
        throw new IntakeError(
          'INTAKE_ERR_NOT_FOUND',
          `no version ${req.params.version} of the tracking plan`,
        );
      return answer(p);
    },
  );

  app.post(
    '/plans/draft',
    {
      preValidation: admin,
      schema: {
        summary: 'A plan that accepts what the data dictionary saw in the last `days` days (not saved)',
        tags,
        security,
        body: Type.Optional(
          Type.Object({
            days: Type.Optional(
              Type.Integer({ minimum: 1, maximum: 3660, default: 30, description: 'Default 30' }),
            ),
          }),
        ),
        response: {
          200: Type.Object({
            days: Type.Integer(),
            since: Type.String({ format: 'date-time' }),
            plan: Type.Unknown(),
          }),
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const days = req.body?.days ?? 30;
      const since = new Date(ctx.now().getTime() - days * DAY_MS);
      const plan = draftPlan(await ctx.store.schema.seenSince(req.auth.workspaceId, since));
      compileOrRefuse(plan); // a draft must be a plan PUT /plans/current takes
      return { days, since: since.toISOString(), plan };
    },
  );
}
