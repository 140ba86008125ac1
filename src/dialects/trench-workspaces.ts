// Trench's workspace routes: create (with a public and a private key, shown once), read, update and delete a
// workspace, in Trench's shape. They manage the server, so they need the admin scope.
import { type Static, Type } from '@sinclair/typebox';
import { IntakeError } from '../core/errors.ts';
import { requireScope } from '../http/auth.ts';
import type { RouteContext, TypedApp } from '../http/context.ts';
import { BEARER_SECURITY, ErrorSchema, errorResponses } from '../http/schemas.ts';
import type { Workspace } from '../store/types.ts';

const Properties = Type.Record(Type.String(), Type.Unknown(), { description: 'Free-form JSON' });

const TrenchWorkspace = Type.Object({
  workspaceId: Type.String(),
  name: Type.String(),
  isDefault: Type.Boolean({ description: 'The workspace Intake made on first start (named default)' }),
  createdAt: Type.String({ format: 'date-time' }),
  properties: Properties,
});

const Created = Type.Object({
  ...TrenchWorkspace.properties,
  publicApiKey: Type.String({ description: 'A write key (scope ingest): shown once' }),
  privateApiKey: Type.String({
    description: 'A private key (scopes ingest, read, query, manage in this workspace): shown once',
  }),
});

const Name = Type.String({ minLength: 1, maxLength: 100 });
const Params = Type.Object({ workspaceId: Type.String({ minLength: 1, maxLength: 64 }) });

const shape = (w: Workspace): Static<typeof TrenchWorkspace> => ({
  workspaceId: w.id,
  name: w.name,
  isDefault: w.name === 'default',
  createdAt: w.createdAt.toISOString(),
  properties: w.properties,
});

export function trenchWorkspaceRoutes(app: TypedApp, ctx: RouteContext): void {
  const admin = requireScope(ctx.keys, 'admin');
  const security = BEARER_SECURITY;
  const found = (id: string) => {
    const ws = ctx.keys.getWorkspace(id);
    if (!ws) throw new IntakeError('INTAKE_ERR_NOT_FOUND', `no workspace ${id}`);
    return ws;
  };
  const responses = { ...errorResponses, 404: ErrorSchema, 409: ErrorSchema };

  app.post(
    '/workspaces',
    {
      preValidation: admin,
      schema: {
        summary: 'Create a workspace (Trench), with its public and private keys',
        description: 'Names are unique (409 on a taken one). The two keys are shown only in this answer.',
        tags: ['trench', 'admin'],
        security,
        body: Type.Object({ name: Name, properties: Type.Optional(Properties) }),
        response: { 201: Created, ...responses },
      },
    },
    async (req, reply) => {
      const ws = await ctx.keys.createWorkspace(req.body.name, req.body.properties ?? {});
      const pub = await ctx.keys.createKey(ws.id, 'write', 'Trench public key');
      const priv = await ctx.keys.createKey(ws.id, 'private', 'Trench private key');
      return reply.code(201).send({ ...shape(ws), publicApiKey: pub.secret, privateApiKey: priv.secret });
    },
  );

  app.get(
    '/workspaces/:workspaceId',
    {
      preValidation: admin,
      schema: {
        summary: 'Get a workspace (Trench)',
        description: 'Its keys are not shown again: only their hashes are stored.',
        tags: ['trench', 'admin'],
        security,
        params: Params,
        response: { 200: TrenchWorkspace, ...responses },
      },
    },
    async (req) => shape(found(req.params.workspaceId)),
  );

  app.put(
    '/workspaces/:workspaceId',
    {
      preValidation: admin,
      schema: {
        summary: 'Update a workspace (Trench): its name and/or properties',
        description: 'Only the fields sent change; `properties` is replaced whole.',
        tags: ['trench', 'admin'],
        security,
        params: Params,
        body: Type.Object({ name: Type.Optional(Name), properties: Type.Optional(Properties) }),
        response: { 200: TrenchWorkspace, ...responses },
      },
    },
    async (req) => {
      found(req.params.workspaceId);
      const { name, properties } = req.body;
      const ws = await ctx.keys.updateWorkspace(req.params.workspaceId, {
        ...(name === undefined ? {} : { name }),
        ...(properties === undefined ? {} : { properties }),
      });
      return shape(ws ?? found(req.params.workspaceId));
    },
  );

  app.delete(
    '/workspaces/:workspaceId',
    {
      preValidation: admin,
      schema: {
        summary: 'Delete a workspace (Trench) with all its keys, events and profiles',
        description: 'Answers the workspace as it was. A key cannot delete its own workspace (409).',
        tags: ['trench', 'admin'],
        security,
        params: Params,
        response: { 200: TrenchWorkspace, ...responses },
      },
    },
    async (req) => {
      const ws = found(req.params.workspaceId);
      if (req.auth.workspaceId === ws.id) {
        throw new IntakeError(
          'INTAKE_ERR_CONFLICT',
          'a key cannot delete its own workspace; use an admin key of another one',
        );
      }
      await ctx.keys.deleteWorkspace(ws.id);
      return shape(ws);
    },
  );
}
