// Admin API: workspaces, keys, and the purge of deleted users' bytes. A key with the admin scope manages every
// workspace and the server; one with the manage scope only its own workspace, and only with keys that can do no
// more than itself (no scope escalation).
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { KEY_KINDS, type KeySpec } from '../../auth/keys.ts';
import { completeRateLimit } from '../../auth/limits.ts';
import { IntakeError } from '../../core/errors.ts';
import { isTimeZone } from '../../core/time-zone.ts';
import { PRESETS, type Scope } from '../../store/types.ts';
import { requireScope } from '../auth.ts';
import type { RouteContext, TypedApp } from '../context.ts';
import { BEARER_SECURITY, errorResponses } from '../schemas.ts';
import {
  accessOf,
  CreatedKeySchema as CreatedKey,
  KeySchema as Key,
  KeyCreate,
  KeyPatch,
  SettingsPatch,
  WorkspaceSchema as Workspace,
} from './admin-schemas.ts';

const WsParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
const KeyParams = Type.Object({ id: Type.String(), keyId: Type.String() });
const Time = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
const Purge = Type.Object({
  rewritten: Type.Boolean({ description: 'False when no deletion was waiting: nothing was rewritten' }),
  deletions: Type.Integer({ description: 'Deletion jobs whose rows are now gone from the file' }),
  startedAt: Type.String({ format: 'date-time' }),
  durationMs: Type.Integer(),
  writesHeldMs: Type.Integer({
    description: 'How long admin changes and deletion jobs waited (ingest loads and reads went on)',
  }),
  readsHeldMs: Type.Integer({ description: 'How long every request, reads included, waited' }),
  bytesBefore: Type.Integer({ description: 'Database file and WAL, in bytes' }),
  bytesAfter: Type.Integer(),
});
const PurgeStatus = Type.Object({
  waiting: Type.Integer({ description: "Deletions done whose rows' bytes are still in the file" }),
  oldestDeletedAt: Time,
  dueBy: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'When the scheduled purge erases them: the oldest plus the purge interval',
  }),
  intervalHours: Type.Integer(),
  running: Type.Boolean(),
  last: Type.Union([Purge, Type.Null()], {
    description: 'The last purge that rewrote the file, since start',
  }),
  lastError: Type.Union([Type.String(), Type.Null()], {
    description: "The last purge's failure, until one succeeds",
  }),
});
const security = BEARER_SECURITY;

const forbidden = (message: string) => new IntakeError('INTAKE_ERR_WRONG_KEY_KIND', message);

/** Without the admin scope, a key may only give or touch keys whose scopes are all its own. */
function mayHandle(req: FastifyRequest, scopes: readonly Scope[], what: string): void {
  const mine = req.auth.scopes;
  if (mine.includes('admin')) return;
  const beyond = scopes.filter((s) => !mine.includes(s));
  if (beyond.length > 0) {
    throw forbidden(
      `this key cannot ${what} a key with scope(s) ${beyond.join(', ')} it does not have itself (${mine.join(', ')})`,
    );
  }
}

/** The scopes a create body asks for: `kind` (a preset) or `scopes`, exactly one of them. */
function specOf(body: { kind?: keyof typeof PRESETS; scopes?: Scope[] }): [KeySpec, readonly Scope[]] {
  if ((body.kind === undefined) === (body.scopes === undefined)) {
    throw new IntakeError('INTAKE_ERR_INVALID_BODY', 'send either kind (a preset) or scopes, not both', {
      field: body.kind === undefined ? 'kind' : 'scopes',
    });
  }
  return body.kind ? [body.kind, PRESETS[body.kind]] : [body.scopes as Scope[], body.scopes as Scope[]];
}

export function adminRoutes(app: TypedApp, ctx: RouteContext): void {
  const admin = requireScope(ctx.keys, 'admin');
  const manage = requireScope(ctx.keys, 'manage');
  const workspace = (id: string) => {
    const ws = ctx.keys.getWorkspace(id);
    if (!ws) throw new IntakeError('INTAKE_ERR_NOT_FOUND', `no workspace ${id}`);
    return ws;
  };
  /** The workspace `id`, if the request's key may manage it: its own (manage scope), or any (admin scope). */
  const managed = (req: FastifyRequest, id: string) => {
    if (req.auth.workspaceId !== id && !req.auth.scopes.includes('admin')) {
      throw forbidden(
        'a key with the manage scope manages only its own workspace; another one needs the admin scope',
      );
    }
    return workspace(id);
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
          'a key cannot delete its own workspace; use an admin key of another one',
        );
      }
      await ctx.keys.deleteWorkspace(req.params.id);
      ctx.plans?.forget(req.params.id);
      return reply.code(204).send();
    },
  );

  app.post(
    '/admin/purge',
    {
      preValidation: admin,
      schema: {
        summary: "Erase deleted users' bytes from the database file now",
        description:
          'One rewrite for every deletion done and not yet erased (as the scheduled purge does); answers when it is done, with what it did. No deletion waiting: nothing is rewritten. On a large database this takes minutes: `wait=false` answers 202 with the status at once (then poll GET /admin/purge).',
        tags: ['admin'],
        security,
        querystring: Type.Object({
          wait: Type.Optional(Type.Boolean({ description: 'Answer when the purge is done (default true)' })),
        }),
        response: { 200: Purge, 202: PurgeStatus, ...errorResponses },
      },
    },
    async (req, reply) => {
      if (req.query.wait !== false) return (await ctx.store.erasure.purgeDeleted()) as never;
      // Its failure is kept in the status (lastError).
      ctx.store.erasure.purgeDeleted().catch(() => {});
      return reply.code(202).send((await ctx.store.erasure.purgeStatus()) as never);
    },
  );

  app.get(
    '/admin/purge',
    {
      preValidation: admin,
      schema: {
        summary: 'Deletions waiting for the purge, when it is due, and the last one',
        tags: ['admin'],
        security,
        response: { 200: PurgeStatus, ...errorResponses },
      },
    },
    async () => (await ctx.store.erasure.purgeStatus()) as never,
  );

  app.patch(
    '/admin/workspaces/:id/settings',
    {
      preValidation: manage,
      schema: {
        summary: "Change a workspace's settings (geo enrichment, IP anonymization, time zone, rate limits)",
        description: 'Only the fields sent change. Applies from the next request on.',
        tags: ['admin'],
        security,
        params: WsParams,
        body: SettingsPatch,
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
      const { rateLimit, ...rest } = req.body;
      const patch =
        rateLimit === undefined ? rest : { ...rest, rateLimit: rateLimit && completeRateLimit(rateLimit) };
      managed(req, req.params.id);
      const ws = await ctx.keys.updateSettings(req.params.id, patch);
      if (!ws) throw new IntakeError('INTAKE_ERR_NOT_FOUND', `no workspace ${req.params.id}`);
      return { ...ws, createdAt: ws.createdAt.toISOString() };
    },
  );

  app.get(
    '/admin/workspaces/:id/keys',
    {
      preValidation: manage,
      schema: {
        summary: "List a workspace's keys (never their secrets)",
        tags: ['admin'],
        security,
        params: WsParams,
        response: { 200: Type.Object({ results: Type.Array(Key) }) },
      },
    },
    async (req) => {
      managed(req, req.params.id);
      return { results: (await ctx.keys.listKeys(req.params.id)) as never };
    },
  );

  app.post(
    '/admin/workspaces/:id/keys',
    {
      preValidation: manage,
      schema: {
        summary: 'Create a key',
        description:
          'With a preset (`kind`) or explicit `scopes`, optional allow-lists (origins, IPs) and, for a key with the ingest scope, its own rate limit. Without the admin scope, a key can only create keys whose scopes it has itself.',
        tags: ['admin'],
        security,
        params: WsParams,
        body: KeyCreate,
        response: { 201: CreatedKey, ...errorResponses },
      },
    },
    async (req, reply) => {
      managed(req, req.params.id);
      const [spec, scopes] = specOf(req.body);
      mayHandle(req, scopes, 'create');
      const created = await ctx.keys.createKey(
        req.params.id,
        spec,
        req.body.name,
        undefined,
        accessOf(req.body),
      );
      return reply.code(201).send(created as never);
    },
  );

  app.patch(
    '/admin/workspaces/:id/keys/:keyId',
    {
      preValidation: manage,
      schema: {
        summary: "Change a key's allowed origins, allowed IPs or rate limit",
        description:
          'Only the fields sent change; an empty list allows any origin or IP, `rateLimit: null` falls back to the workspace limit. Applies from the next request on.',
        tags: ['admin'],
        security,
        params: KeyParams,
        body: KeyPatch,
        response: { 200: Key, ...errorResponses },
      },
    },
    async (req) => {
      managed(req, req.params.id);
      mayHandle(req, (await ctx.keys.getKey(req.params.id, req.params.keyId))?.scopes ?? [], 'change');
      const key = await ctx.keys.updateKey(req.params.id, req.params.keyId, accessOf(req.body));
      if (!key) {
        throw new IntakeError(
          'INTAKE_ERR_NOT_FOUND',
          `no active key ${req.params.keyId} in workspace ${req.params.id}`,
        );
      }
      return key as never;
    },
  );

  app.delete(
    '/admin/workspaces/:id/keys/:keyId',
    {
      preValidation: manage,
      schema: {
        summary: 'Revoke a key (immediately)',
        tags: ['admin'],
        security,
        params: KeyParams,
      },
    },
    async (req, reply) => {
      managed(req, req.params.id);
      mayHandle(req, (await ctx.keys.getKey(req.params.id, req.params.keyId))?.scopes ?? [], 'revoke');
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
