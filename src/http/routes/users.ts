// Users (persons across linked ids), groups, and deleting a user. Reads need the read scope; deletion the manage scope.
import { Type } from '@sinclair/typebox';
import { IntakeError } from '../../core/errors.ts';
import type { UserQuery } from '../../store/types.ts';
import { requireScope } from '../auth.ts';
import type { RouteContext, TypedApp } from '../context.ts';
import { BEARER_SECURITY, ErrorSchema, EventSchema, errorResponses } from '../schemas.ts';
import {
  DeletionSchema,
  GroupSchema,
  IdParams,
  Limit,
  Offset,
  pageOf,
  UserProfileSchema,
  UserSummarySchema,
} from './user-schemas.ts';

const security = BEARER_SECURITY;
const notFound = { 404: ErrorSchema };
const TRAIT_SEGMENT = /^[A-Za-z0-9_$][A-Za-z0-9_$ -]{0,99}$/;

const bad = (name: string, why: string) => new IntakeError('INTAKE_ERR_INVALID_PARAMETER', `${name} ${why}`);

/** search, trait.<path>=value (or traits.<path>), limit and offset. */
export function parseUserQuery(raw: Record<string, unknown>): UserQuery {
  const q: UserQuery = { traits: [], limit: Number(raw.limit ?? 100), offset: Number(raw.offset ?? 0) };
  for (const [key, value] of Object.entries(raw)) {
    if (Array.isArray(value)) throw bad(key, 'is given more than once');
    if (key === 'search') {
      if (String(value) !== '') q.search = String(value);
      continue;
    }
    if (key === 'limit' || key === 'offset') continue;
    const m = /^traits?\.(.+)$/.exec(key);
    if (!m) throw bad(key, 'is not a known parameter; use search, trait.<name>, limit, offset');
    const path = (m[1] as string).split('.');
    if (path.length > 8 || !path.every((p) => TRAIT_SEGMENT.test(p)))
      throw bad(
        key,
        'has a bad trait path: letters, digits, _ $ - and space, dot-separated, at most 8 levels',
      );
    q.traits.push({ path, value: String(value) });
  }
  return q;
}

export function userRoutes(app: TypedApp, ctx: RouteContext): void {
  const read = requireScope(ctx.keys, 'read');
  const manage = requireScope(ctx.keys, 'manage');
  const noUser = (id: string) => new IntakeError('INTAKE_ERR_NOT_FOUND', `no user ${id} in this workspace`);

  app.get(
    '/users',
    {
      preValidation: read,
      schema: {
        summary: 'List users (persons), most recently seen first',
        description:
          '`search` matches ids and the email, name, username, firstName, lastName and phone traits (case-insensitive substring); `trait.<path>=v` filters on a trait value (string equality).',
        tags: ['users'],
        security,
        querystring: Type.Object(
          { search: Type.Optional(Type.String({ maxLength: 512 })), limit: Limit, offset: Offset },
          { additionalProperties: true },
        ),
        response: { 200: pageOf(UserSummarySchema), ...errorResponses },
      },
    },
    async (req) => {
      const q = parseUserQuery(req.query as Record<string, unknown>);
      const page = await ctx.store.profiles.listUsers(req.auth.workspaceId, q);
      return { results: page.results as never, limit: q.limit, offset: q.offset, total: page.total };
    },
  );

  app.get(
    '/users/:id',
    {
      preValidation: read,
      schema: {
        summary: 'A user: profile, every linked id, groups; `id` may be any linked id',
        tags: ['users'],
        security,
        params: IdParams,
        response: { 200: UserProfileSchema, ...errorResponses, ...notFound },
      },
    },
    async (req) => {
      const user = await ctx.store.profiles.getUser(req.auth.workspaceId, req.params.id);
      if (!user) throw noUser(req.params.id);
      return user as never;
    },
  );

  app.get(
    '/users/:id/events',
    {
      preValidation: read,
      schema: {
        summary: "A user's events across all linked ids, newest first",
        tags: ['users'],
        security,
        params: IdParams,
        querystring: Type.Object({ limit: Limit, offset: Offset }),
        response: { 200: pageOf(EventSchema), ...errorResponses, ...notFound },
      },
    },
    async (req) => {
      const limit = req.query.limit ?? 100;
      const offset = req.query.offset ?? 0;
      const page = await ctx.store.profiles.listUserEvents(req.auth.workspaceId, req.params.id, {
        limit,
        offset,
      });
      if (!page) throw noUser(req.params.id);
      return { results: page.results as never, limit, offset, total: page.total };
    },
  );

  app.delete(
    '/users/:id',
    {
      preValidation: manage,
      schema: {
        summary: 'Delete a user (GDPR): profile, links, memberships and every event of every linked id',
        description:
          "Runs in the background: 202 with the job; poll GET /deletions/:id. Once it is `done`, no read returns the user's data; their bytes leave the database file at the next purge (`erasedAt`; within --purge-interval-hours, or POST /admin/purge). The user's messageIds stay refused, so retried old batches do not bring the data back.",
        tags: ['users'],
        security,
        params: IdParams,
        response: { 202: DeletionSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const job = await ctx.store.erasure.requestDeletion(req.auth.workspaceId, req.params.id);
      return reply
        .code(202)
        .header('location', `/deletions/${job.id}`)
        .send(job as never);
    },
  );

  app.get(
    '/deletions/:id',
    {
      preValidation: read,
      schema: {
        summary: 'Progress of a user deletion',
        tags: ['users'],
        security,
        params: IdParams,
        response: { 200: DeletionSchema, ...errorResponses, ...notFound },
      },
    },
    async (req) => {
      const job = await ctx.store.profiles.getDeletion(req.auth.workspaceId, req.params.id);
      if (!job) throw new IntakeError('INTAKE_ERR_NOT_FOUND', `no deletion ${req.params.id}`);
      return job as never;
    },
  );

  app.get(
    '/groups/:id',
    {
      preValidation: read,
      schema: {
        summary: 'A group: merged traits and member count',
        tags: ['users'],
        security,
        params: IdParams,
        response: { 200: GroupSchema, ...errorResponses, ...notFound },
      },
    },
    async (req) => {
      const group = await ctx.store.profiles.getGroup(req.auth.workspaceId, req.params.id);
      if (!group) throw new IntakeError('INTAKE_ERR_NOT_FOUND', `no group ${req.params.id}`);
      return group as never;
    },
  );

  app.get(
    '/groups/:id/users',
    {
      preValidation: read,
      schema: {
        summary: "A group's members (persons)",
        tags: ['users'],
        security,
        params: IdParams,
        querystring: Type.Object({ limit: Limit, offset: Offset }),
        response: { 200: pageOf(UserSummarySchema), ...errorResponses, ...notFound },
      },
    },
    async (req) => {
      const limit = req.query.limit ?? 100;
      const offset = req.query.offset ?? 0;
      if (!(await ctx.store.profiles.getGroup(req.auth.workspaceId, req.params.id)))
        throw new IntakeError('INTAKE_ERR_NOT_FOUND', `no group ${req.params.id}`);
      const page = await ctx.store.profiles.listGroupUsers(req.auth.workspaceId, req.params.id, {
        limit,
        offset,
      });
      return { results: page.results as never, limit, offset, total: page.total };
    },
  );
}
