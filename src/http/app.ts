// Builds the fastify app with its store, keys and ingest log handed in (runtime/runtime.ts opens them); cli/start.ts
// listens and handles signals.
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type HookHandlerDoneFunction,
  LogController,
} from 'fastify';
import type { KeyRing } from '../auth/keys.ts';
import { Limiter } from '../auth/limits.ts';
import { type Config, ROLES, type Role } from '../core/config.ts';
import { errorBody, IntakeError } from '../core/errors.ts';
import { VERSION } from '../core/version.ts';
import { DIALECTS } from '../dialects/index.ts';
import { settingsRoutes } from '../dialects/settings.ts';
import { createIngestor } from '../ingest/ingest.ts';
import type { IngestLog } from '../ingest/types.ts';
import { Enricher, type GeoReader } from '../pipeline/enrich/index.ts';
import { CompiledPlan } from '../pipeline/plan/check.ts';
import type { PlanRing } from '../plans/ring.ts';
import type { Store } from '../store/types.ts';
import { addKeyGuards } from './auth.ts';
import { createDrainer, registerBodyParser } from './body.ts';
import { addCorsHeaders, answerPreflight } from './cors.ts';
import { paceMs } from './pacing.ts';
import { adminRoutes } from './routes/admin.ts';
import { eventRoutes } from './routes/events.ts';
import { healthRoutes } from './routes/health.ts';
import { insightRoutes } from './routes/insights.ts';
import { planRoutes } from './routes/plans.ts';
import { profileRoutes } from './routes/profile.ts';
import { queryRoutes } from './routes/query.ts';
import { schemaRoutes } from './routes/schema.ts';
import { userRoutes } from './routes/users.ts';

export interface AppDeps {
  config: Pick<
    Config,
    'bodyLimit' | 'eventLimit' | 'trustProxy' | 'queryTimeoutMs' | 'queryMaxRows' | 'queryStreamTimeoutMs'
  > &
    /** Ingest requests wait past half of queueLimit, up to backpressureMs (pacing.ts); absent, they do not. */
    Partial<Pick<Config, 'roles' | 'queueLimit' | 'backpressureMs'>>;
  /** The store as readers see it: its reads wait for the log (ingest/read-your-writes.ts). */
  store: Store;
  keys: KeyRing;
  /** Every workspace's tracking plan, compiled (plans/ring.ts); absent: no plans, and no plan routes. */
  plans?: PlanRing;
  log: IngestLog;
  /** The clock; tests pass a fixed one. */
  now?: () => Date;
  logger?: FastifyBaseLogger | boolean;
  /** The opened geolocation database (openGeoReader); absent or null: no `context.location`. */
  geo?: GeoReader | null;
}

export type App = FastifyInstance;

const shuttingDown = () =>
  new IntakeError('INTAKE_ERR_SHUTTING_DOWN', 'the server is shutting down; retry', undefined, {
    'retry-after': '1',
  });

export async function buildApp(deps: AppDeps): Promise<App> {
  const { config } = deps;
  const app = Fastify({
    loggerInstance: typeof deps.logger === 'object' ? deps.logger : undefined,
    logger: typeof deps.logger === 'boolean' ? deps.logger : undefined,
    // One log line per request would cost more than the ingest itself; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimit,
    trustProxy: config.trustProxy.length > 0 ? config.trustProxy : false,
    // While closing, requests on kept-alive connections get our coded 503 (the hook below), not fastify's.
    return503OnClosing: false,
    ajv: { customOptions: { coerceTypes: true, removeAdditional: false, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  const drainer = createDrainer(config.bodyLimit);
  app.setErrorHandler((err: unknown, req, reply) => {
    // Error bodies have one shape whatever the route's response schemas say: a route that documents its own
    // shape for a status (Sequence's 400/403) made fastify's serializer fail with a 500 on every other error.
    reply.serializer(JSON.stringify).type('application/json; charset=utf-8');
    // Answered before the body was read (over the limit, unknown route): the client must still read the answer.
    drainer.drain(req, reply);
    if (err instanceof IntakeError) {
      if (err.headers) reply.headers(err.headers);
      return reply.code(err.statusCode).send(errorBody(err.code, err.message, err.details));
    }
    const e = err as {
      code?: string;
      statusCode?: number;
      message?: string;
      validation?: unknown[];
      validationContext?: string;
    };
    if (e.validation) {
      const where = e.validationContext ?? 'request';
      const code = where === 'body' ? 'INTAKE_ERR_INVALID_BODY' : 'INTAKE_ERR_INVALID_PARAMETER';
      return reply
        .code(400)
        .send(errorBody(code, `${where} ${e.message?.replace(/^(querystring|params|body)\/?/, '')}`));
    }
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply
        .code(413)
        .send(
          errorBody('INTAKE_ERR_BODY_TOO_LARGE', `the body is over the ${config.bodyLimit}-byte body limit`),
        );
    }
    if (e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
      return reply.code(400).send(errorBody('INTAKE_ERR_EMPTY_BODY', 'the body is empty'));
    }
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
      return reply.code(400).send(errorBody('INTAKE_ERR_INVALID_BODY', e.message ?? 'bad request'));
    }
    req.log.error({ err }, 'unhandled error');
    return reply
      .code(500)
      .send(errorBody('INTAKE_ERR_INTERNAL', 'internal error; the server log has the details'));
  });
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
    drainer.close();
  });
  // Which role serves each route: a route whose key check names a scope goes by it (ingest: the ingest role;
  // any other: api), else by the section registering it (the dialects' routes: ingest, which also covers
  // PostHog's flags and settings that its SDKs ask for; the rest: api); /, /health and the OpenAPI document
  // answer on every node. A route of a role this node does not have answers 404 naming the node's roles, and
  // is left out of its OpenAPI document.
  const roles = new Set(config.roles ?? ROLES);
  const only = roles.size < ROLES.length ? ` (this node's roles: ${[...roles].join(', ')})` : '';
  let section: Role | 'any' = 'any';
  app.addHook('onRoute', (route) => {
    const hooks = [route.preValidation].flat() as Array<{ scope?: string } | undefined>;
    const scope = hooks.find((h) => typeof h?.scope === 'string')?.scope;
    const role = scope === undefined ? section : scope === 'ingest' ? 'ingest' : 'api';
    route.config = { ...(route.config as object), role } as typeof route.config;
    if (role !== 'any' && !roles.has(role)) route.schema = { ...route.schema, hide: true };
  });
  const notFound = (req: FastifyRequest) =>
    new IntakeError('INTAKE_ERR_NOT_FOUND', `no route for ${req.method} ${req.url.split('?')[0]}${only}`);
  const roleOf = (req: FastifyRequest) =>
    (req.routeOptions.config as { role?: Role | 'any' } | undefined)?.role;
  const served = (req: FastifyRequest) => {
    const role = roleOf(req);
    return role === undefined || role === 'any' || roles.has(role);
  };
  app.setNotFoundHandler((req) => {
    throw notFound(req);
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Intake', version: VERSION, description: 'Event collection and product analytics.' },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          basic: { type: 'http', scheme: 'basic' },
          writeKeyHeader: { type: 'apiKey', in: 'header', name: 'X-Write-Key' },
        },
      },
    },
  });
  // Buckets follow the app's clock when one is given (tests), else a monotonic one.
  const clock = deps.now;
  const guard = addKeyGuards(
    app,
    deps.keys,
    new Limiter(clock ? () => clock().getTime() : () => performance.now()),
  );
  // Every request's checks in one synchronous hook (no promise per request), first of all: CORS headers (so
  // every answer carries them), the shutdown's 503 (requests on kept-alive connections while closing), a
  // browser's preflight answered, routing, then the allow-lists and requests/s limit of a key sent in a header
  // (auth.ts). Route first, parse after: fastify runs the body parser for its not-found handler too, so a body
  // that is not JSON sent to an unknown route was answered 400 INVALID_JSON (or 413) instead of 404. Last, an
  // ingest POST that passed waits while the log's backlog is past half its queue limit (pacing.ts).
  const { log } = deps;
  const queueLimit = config.queueLimit ?? 0;
  const backpressureMs = config.backpressureMs ?? 0;
  const paced = (
    req: FastifyRequest,
    wait: number,
    done: HookHandlerDoneFunction,
  ): HookHandlerDoneFunction =>
    req.method === 'POST' && roleOf(req) === 'ingest'
      ? (err) => (err ? done(err) : setTimeout(done, wait))
      : done;
  app.addHook('onRequest', (req: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
    addCorsHeaders(req, reply);
    if (closing) done(shuttingDown());
    else if (req.method === 'OPTIONS') answerPreflight(req, reply);
    else if (req.is404 || !served(req)) done(notFound(req));
    else {
      const wait = backpressureMs > 0 ? paceMs(log.pending, queueLimit, backpressureMs) : 0;
      guard(req, reply, wait > 0 ? paced(req, wait, done) : done);
    }
  });
  // Preflights are answered by the hook above on any path; this route only makes them routable.
  app.options('*', { schema: { hide: true } }, (req) => {
    throw notFound(req);
  });
  registerBodyParser(app, config.bodyLimit);

  const now = deps.now ?? (() => new Date());
  const ingestor = createIngestor(deps.log, {
    eventLimit: config.eventLimit,
    enricher: new Enricher(deps.geo ?? null),
    settingsOf: (id) => deps.keys.settingsOf(id),
    planOf: deps.plans ? (id) => (deps.plans as PlanRing).of(id) : () => CompiledPlan.NONE,
  });
  const ctx = { store: deps.store, keys: deps.keys, plans: deps.plans, log: deps.log, ingestor, now, config };
  healthRoutes(app, ctx);
  section = 'api';
  adminRoutes(app, ctx);
  eventRoutes(app, ctx);
  userRoutes(app, ctx);
  queryRoutes(app, ctx);
  insightRoutes(app, ctx);
  profileRoutes(app, ctx);
  schemaRoutes(app, ctx);
  if (deps.plans) planRoutes(app, { ...ctx, plans: deps.plans });
  section = 'ingest';
  for (const dialect of DIALECTS) dialect.routes(app, ctx);
  settingsRoutes(app, ctx);
  section = 'any';
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}
