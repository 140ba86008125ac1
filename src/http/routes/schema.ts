// The data dictionary (what was seen, README "Data dictionary") and the tracking plan's violations, read key.
import { Type } from '@sinclair/typebox';
import { IntakeError } from '../../core/errors.ts';
import type { NameSummary, PathSummary } from '../../store/types.ts';
import { requireScope } from '../auth.ts';
import type { RouteContext, TypedApp } from '../context.ts';
import { BEARER_SECURITY, errorResponses } from '../schemas.ts';

const DAY_MS = 86_400_000;
const security = BEARER_SECURITY;
const tags = ['dictionary'];
const Limit = Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 }));
const Offset = Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000, default: 0 }));
const Days = Type.Optional(
  Type.Integer({
    minimum: 1,
    maximum: 3660,
    default: 30,
    description: 'Days of `volume` up to today (default 30)',
  }),
);
const NameKind = Type.Union(['track', 'page', 'screen'].map((k) => Type.Literal(k)));
const Time = Type.String({ format: 'date-time' });

const Volume = Type.Array(Type.Object({ day: Type.String(), count: Type.Integer() }));
const Name = Type.Object({
  type: Type.String({ description: 'track, page or screen' }),
  name: Type.String(),
  count: Type.Integer(),
  firstSeen: Time,
  lastSeen: Time,
  volume: Volume,
});
const Path = Type.Object({
  path: Type.String(),
  count: Type.Integer(),
  share: Type.Number(),
  types: Type.Record(Type.String(), Type.Integer()),
  examples: Type.Array(Type.Unknown()),
  firstSeen: Time,
  lastSeen: Time,
});

function date(name: string, v: string | undefined): Date | undefined {
  if (v === undefined || v === '') return undefined;
  const ms = Date.parse(v);
  if (!Number.isFinite(ms))
    throw new IntakeError(
      'INTAKE_ERR_INVALID_PARAMETER',
      `${name} must be an ISO-8601 date, got "${v.slice(0, 64)}"`,
    );
  return new Date(ms);
}

const name = (n: NameSummary) => ({
  type: n.kind,
  name: n.name,
  count: n.count,
  firstSeen: n.firstSeen.toISOString(),
  lastSeen: n.lastSeen.toISOString(),
  volume: n.volume,
});
const path = (p: PathSummary) => ({
  ...p,
  firstSeen: p.firstSeen.toISOString(),
  lastSeen: p.lastSeen.toISOString(),
});

export function schemaRoutes(app: TypedApp, ctx: RouteContext): void {
  const read = requireScope(ctx.keys, 'read');
  const volumeFrom = (days = 30) => new Date(ctx.now().getTime() - (days - 1) * DAY_MS);

  app.get(
    '/schema/events',
    {
      preValidation: read,
      schema: {
        summary: 'Event, page and screen names seen, with their volume per day',
        tags,
        security,
        querystring: Type.Object({
          type: Type.Optional(NameKind),
          search: Type.Optional(
            Type.String({ maxLength: 512, description: 'Substring of the name, any case' }),
          ),
          seenSince: Type.Optional(
            Type.String({ description: 'Only names seen at or after this ISO-8601 time' }),
          ),
          days: Days,
          orderBy: Type.Optional(Type.Union(['name', 'count', 'lastSeen'].map((o) => Type.Literal(o)))),
          limit: Limit,
          offset: Offset,
        }),
        response: {
          200: Type.Object({
            results: Type.Array(Name),
            limit: Type.Integer(),
            offset: Type.Integer(),
            total: Type.Integer(),
          }),
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const q = req.query;
      const limit = q.limit ?? 100;
      const offset = q.offset ?? 0;
      const page = await ctx.store.schema.listNames(req.auth.workspaceId, {
        ...(q.type ? { kind: q.type as NameSummary['kind'] } : {}),
        ...(q.search ? { search: q.search } : {}),
        ...(q.seenSince ? { seenSince: date('seenSince', q.seenSince) } : {}),
        volumeFrom: volumeFrom(q.days),
        orderBy: (q.orderBy ?? 'name') as 'name' | 'count' | 'lastSeen',
        limit,
        offset,
      });
      return { results: page.results.map(name), limit, offset, total: page.total };
    },
  );

  app.get(
    '/schema/events/:name',
    {
      preValidation: read,
      schema: {
        summary: 'One name: its volume per day and every property path seen, with types, shares and examples',
        tags,
        security,
        params: Type.Object({ name: Type.String() }),
        querystring: Type.Object({ type: Type.Optional(NameKind), days: Days }),
        response: {
          200: Type.Intersect([Name, Type.Object({ properties: Type.Array(Path) })]),
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const kind = (req.query.type ?? 'track') as NameSummary['kind'];
      const d = await ctx.store.schema.getName(
        req.auth.workspaceId,
        kind,
        req.params.name,
        volumeFrom(req.query.days),
      );
      if (!d)
        throw new IntakeError(
          'INTAKE_ERR_NOT_FOUND',
          `no ${kind} named ${JSON.stringify(req.params.name)} was seen`,
        );
      return { ...name(d), properties: d.properties.map(path) };
    },
  );

  app.get(
    '/schema/traits',
    {
      preValidation: read,
      schema: {
        summary: 'Trait paths seen in identify (or group) calls, with types, shares and examples',
        tags,
        security,
        querystring: Type.Object({
          type: Type.Optional(Type.Union([Type.Literal('identify'), Type.Literal('group')])),
          search: Type.Optional(
            Type.String({ maxLength: 512, description: 'Substring of the path, any case' }),
          ),
          limit: Limit,
          offset: Offset,
        }),
        response: {
          200: Type.Object({
            type: Type.String(),
            calls: Type.Integer({ description: 'identify (or group) calls seen: what `share` divides' }),
            results: Type.Array(Path),
            limit: Type.Integer(),
            offset: Type.Integer(),
            total: Type.Integer(),
          }),
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const kind = req.query.type ?? 'identify';
      const limit = req.query.limit ?? 100;
      const offset = req.query.offset ?? 0;
      const page = await ctx.store.schema.listTraits(req.auth.workspaceId, {
        kind,
        ...(req.query.search ? { search: req.query.search } : {}),
        limit,
        offset,
      });
      return {
        type: kind,
        calls: page.calls,
        results: page.results.map(path),
        limit,
        offset,
        total: page.total,
      };
    },
  );

  app.get(
    '/violations',
    {
      preValidation: read,
      schema: {
        summary: "The tracking plan's violations per event name and kind, per day, with a sample of each",
        tags,
        security,
        querystring: Type.Object({
          startDate: Type.Optional(
            Type.String({ description: 'ISO-8601, by receivedAt; default 30 days ago' }),
          ),
          endDate: Type.Optional(Type.String({ description: 'ISO-8601, by receivedAt; default now' })),
          type: Type.Optional(
            Type.String({ maxLength: 16, description: 'Event type: track, page, identify, ...' }),
          ),
          event: Type.Optional(Type.String({ maxLength: 512, description: 'Event (or page, screen) name' })),
          kind: Type.Optional(
            Type.Union(
              ['unplannedEvent', 'unplannedProperty', 'missingRequired', 'wrongType', 'naming'].map((k) =>
                Type.Literal(k),
              ),
            ),
          ),
          limit: Limit,
          offset: Offset,
        }),
        response: {
          200: Type.Object({
            results: Type.Array(
              Type.Object({
                type: Type.String(),
                event: Type.String(),
                kind: Type.String(),
                flagged: Type.Integer({ description: 'Events stored with it (marked)' }),
                rejected: Type.Integer({ description: 'Items refused for it, kept at /rejected' }),
                firstSeen: Time,
                lastSeen: Time,
                sampleEventId: Type.Union([Type.String(), Type.Null()]),
                sampleRejectedId: Type.Union([Type.String(), Type.Null()]),
                days: Type.Array(
                  Type.Object({ day: Type.String(), flagged: Type.Integer(), rejected: Type.Integer() }),
                ),
              }),
            ),
            limit: Type.Integer(),
            offset: Type.Integer(),
            total: Type.Integer(),
          }),
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const q = req.query;
      const limit = q.limit ?? 100;
      const offset = q.offset ?? 0;
      const endDate = date('endDate', q.endDate);
      const page = await ctx.store.schema.violations(req.auth.workspaceId, {
        startDate: date('startDate', q.startDate) ?? new Date(ctx.now().getTime() - 30 * DAY_MS),
        ...(endDate ? { endDate } : {}),
        ...(q.type ? { type: q.type } : {}),
        ...(q.event !== undefined ? { event: q.event } : {}),
        ...(q.kind ? { kind: q.kind } : {}),
        limit,
        offset,
      });
      const results = page.results.map((v) => ({
        ...v,
        firstSeen: v.firstSeen.toISOString(),
        lastSeen: v.lastSeen.toISOString(),
      }));
      return { results, limit, offset, total: page.total };
    },
  );
}
