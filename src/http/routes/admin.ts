// Admin API: workspaces and keys. Admin keys manage the whole server; every other key is scoped to its workspace.
import { Type } from '@sinclair/typebox';
import { KEY_KINDS } from '../../auth/keys.ts';
import { IntakeError } from '../../core/errors.ts';
import { isTimeZone } from '../../core/time-zone.ts';
import { requireKey } from '../auth.ts';
import type { RouteContext, TypedApp } from '../context.ts';
import { BEARER_SECURITY, errorResponses } from '../schemas.ts';

const Settings = Type.Object({
  geo: Type.Boolean({ description: 'Add context.location from the request IP (default true)' }),
  anonymizeIp: Type.Boolean({
    description:
      'Zero the last octet of IPv4 / last 80 bits of IPv6 in context.ip before storing (default false)',
  }),
  timezone: Type.String({
    maxLength: 64,
    description: "IANA time zone of insights' days, weeks and months, e.g. Europe/Paris (default UTC)",
  }),
});
const Workspace = Type.Object({
  id: Type.String(),
  name: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  settings: Settings,
});
const Key = Type.Object({
  id: Type.String(),
  workspaceId: Type.String(),
  kind: Type.Union(KEY_KINDS.map((k) => Type.Literal(k))),
  name: Type.String(),
  prefix: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  revokedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
const CreatedKey = Type.Object({
  key: Key,
  secret: Type.String({ description: 'Shown once; store it now.' }),
});
const WsParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
const security = BEARER_SECURITY;

export function adminRoutes(app: TypedApp, ctx: RouteContext): void {
  const admin = requireKey(ctx.keys, ['admin']);
  const workspace = (id: string) => {
    const ws = ctx.keys.getWorkspace(id);
    if (!ws) throw new IntakeError('INTAKE_ERR_NOT_FOUND', `no workspace ${id}`);
    return ws;
  };

  app.get(
    '/admin/workspaces',
    {
      preValidation: admin,
      schema: {
        summary: 'List workspaces',
        tags: ['admin'],
        security,
        response: { 200: Type.Object({ results: Type.Array(Workspace) }), ...errorResponses },
      },
    },
    async () => ({
      results: ctx.keys.listWorkspaces().map((w) => ({ ...w, createdAt: w.createdAt.toISOString() })),
    }),
  );

  app.post(
    '/admin/workspaces',
    {
      preValidation: admin,
      schema: {
        summary: 'Create a workspace with a write, a read and an admin key',
        tags: ['admin'],
        security,
        body: Type.Object({
          name: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9][A-Za-z0-9 _.-]*$' }),
        }),
        response: {
          201: Type.Object({ workspace: Workspace, keys: Type.Array(CreatedKey) }),
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const ws = await ctx.keys.createWorkspace(req.body.name);
      const keys = [];
      for (const kind of KEY_KINDS) keys.push(await ctx.keys.createKey(ws.id, kind));
      return reply.code(201).send({ workspace: ws, keys } as never);
    },
  );

  app.delete(
    '/admin/workspaces/:id',
    {
      preValidation: admin,
      schema: {
        summary: 'Delete a workspace with all its keys and events',
        tags: ['admin'],
        security,
        params: WsParams,
      },
    },
    async (req, reply) => {
      workspace(req.params.id);
      if (req.auth.workspaceId === req.params.id) {
        throw new IntakeError(
          'INTAKE_ERR_CONFLICT',
          'an admin key cannot delete its own workspace; use an admin key of another one',
        );
      }
      await ctx.keys.deleteWorkspace(req.params.id);
      return reply.code(204).send();
    },
  );

  app.patch(
    '/admin/workspaces/:id/settings',
    {
      preValidation: admin,
      schema: {
        summary: "Change a workspace's settings (geo enrichment, IP anonymization, time zone)",
        description: 'Only the fields sent change. Applies from the next request on.',
        tags: ['admin'],
        security,
        params: WsParams,
        body: Type.Partial(Settings, { additionalProperties: false, minProperties: 1 }),
        response: { 200: Workspace, ...errorResponses },
      },
    },
    async (req) => {
      const tz = req.body.timezone;
      if (tz !== undefined && !isTimeZone(tz)) {
        throw new IntakeError(
          'INTAKE_ERR_INVALID_TIMEZONE',
          `timezone "${tz}" is not an IANA time zone (e.g. Europe/Paris, America/New_York, UTC)`,
          { field: 'timezone' },
        );
      }
      const ws = await ctx.keys.updateSettings(req.params.id, req.body);
      if (!ws) throw new IntakeError('INTAKE_ERR_NOT_FOUND', `no workspace ${req.params.id}`);
      return { ...ws, createdAt: ws.createdAt.toISOString() };
    },
  );

  app.get(
    '/admin/workspaces/:id/keys',
    {
      preValidation: admin,
      schema: {
        summary: "List a workspace's keys (never their secrets)",
        tags: ['admin'],
        security,
        params: WsParams,
        response: { 200: Type.Object({ results: Type.Array(Key) }) },
      },
    },
    async (req) => {
      workspace(req.params.id);
      return { results: (await ctx.keys.listKeys(req.params.id)) as never };
    },
  );

  app.post(
    '/admin/workspaces/:id/keys',
    {
      preValidation: admin,
      schema: {
        summary: 'Create a key',
        tags: ['admin'],
        security,
        params: WsParams,
        body: Type.Object({
          kind: Type.Union(KEY_KINDS.map((k) => Type.Literal(k))),
          name: Type.Optional(Type.String({ maxLength: 100 })),
        }),
        response: { 201: CreatedKey },
      },
    },
    async (req, reply) => {
      workspace(req.params.id);
      return reply
        .code(201)
        .send((await ctx.keys.createKey(req.params.id, req.body.kind, req.body.name)) as never);
    },
  );

  app.delete(
    '/admin/workspaces/:id/keys/:keyId',
    {
      preValidation: admin,
      schema: {
        summary: 'Revoke a key (immediately)',
        tags: ['admin'],
        security,
        params: Type.Object({ id: Type.String(), keyId: Type.String() }),
      },
    },
    async (req, reply) => {
      workspace(req.params.id);
      if (!(await ctx.keys.revokeKey(req.params.id, req.params.keyId))) {
        throw new IntakeError(
          'INTAKE_ERR_NOT_FOUND',
          `no active key ${req.params.keyId} in workspace ${req.params.id}`,
        );
      }
      return reply.code(204).send();
    },
  );
}
