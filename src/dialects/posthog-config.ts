// The PostHog routes beside capture that posthog-js calls on every page load: the remote config
// (GET /array/<token>/config.js, /array/<token>/config) and feature flags (POST /flags/, older releases /decide/).
// Intake has no flags, surveys, session recording or site apps, so each answers what a PostHog project with
// none of them answers: the SDK then loads no extension scripts and reports no errors.
import { randomUUID } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { IntakeError } from '../core/errors.ts';
import { isPublicKey } from '../http/auth.ts';
import type { RouteContext, TypedApp } from '../http/context.ts';
import { posthogAuth, posthogBody, posthogErrorShape, posthogErrors } from './posthog-http.ts';

/**
 * The remote config of a project with nothing switched on, in the fields posthog-js reads (remote-config.ts,
 * and each extension's onRemoteConfig): `supportedCompression` makes it gzip its requests; `hasFeatureFlags:
 * false` spares the /flags call at load; `false` for sessionRecording, heatmaps, productTours,
 * captureDeadClicks, capturePerformance and autocaptureExceptions keeps it from loading the recorder,
 * web-vitals or exception scripts, which Intake does not serve. `surveys` is left out where PostHog sends
 * `false`: posthog-js 1.449 loads /static/surveys.js whenever the key is a boolean, even false, and without it
 * only notes (in debug mode) that it does not load surveys. `analytics.endpoint` is where PostHog sends events
 * too (/i/v0/e/, one of Intake's capture routes).
 */
export function remoteConfig(token: string) {
  return {
    token,
    supportedCompression: ['gzip', 'gzip-js'],
    hasFeatureFlags: false,
    captureDeadClicks: false,
    capturePerformance: false,
    autocapture_opt_out: false,
    autocaptureExceptions: false,
    analytics: { endpoint: '/i/v0/e/' },
    elementsChainAsString: true,
    errorTracking: { autocaptureExceptions: false, suppressionRules: [] as unknown[] },
    sessionRecording: false,
    heatmaps: false,
    productTours: false,
    defaultIdentifiedOnly: true,
    siteApps: [] as unknown[],
  };
}

/** The script form: posthog-js's array.js loads it and reads window._POSTHOG_REMOTE_CONFIG[token]. */
export function remoteConfigJs(token: string): string {
  const key = JSON.stringify(token);
  return `(function() {
  window._POSTHOG_REMOTE_CONFIG = window._POSTHOG_REMOTE_CONFIG || {};
  window._POSTHOG_REMOTE_CONFIG[${key}] = {
    config: ${JSON.stringify(remoteConfig(token))},
    siteApps: []
  };
})();
`;
}

/** The config fields /decide/ (and /flags/?config=true) add to the flags: the remote config's, and decide's own. */
function decideConfig() {
  const { token: _t, hasFeatureFlags: _h, productTours: _p, ...config } = remoteConfig('');
  return {
    ...config,
    // PostHog sends it; releases that read decide load the surveys bundle only for `true`.
    surveys: false,
    config: { enable_collect_everything: true },
    toolbarParams: {},
    isAuthenticated: false,
  };
}

type FlagsFormat = 'flags-v2' | 'flags-v1' | 'decide-v2' | 'decide-v1';

/**
 * No flags, in the format the version asks for (PostHog's flags service, get_versioned_response): /flags/ with
 * v >= 2 has `flags` (what posthog-js reads now: an object, even empty, is a successful load), without it
 * `featureFlags` + `featureFlagPayloads`; /decide/ v3 the latter, v4+ the former, v2 `featureFlags: {}`, v1 or
 * none `featureFlags: []`.
 */
function noFlags(format: FlagsFormat, now: Date) {
  const requestId = randomUUID();
  switch (format) {
    case 'flags-v2':
      return { errorsWhileComputingFlags: false, flags: {}, requestId, evaluatedAt: now.getTime() };
    case 'flags-v1':
      return { errorsWhileComputingFlags: false, featureFlags: {}, featureFlagPayloads: {}, requestId };
    case 'decide-v2':
      return { featureFlags: {}, requestId };
    case 'decide-v1':
      return { featureFlags: [] as string[], requestId };
  }
}

function formatOf(decide: boolean, v: unknown): FlagsFormat {
  const version = Number.parseInt(String(v ?? ''), 10);
  if (!decide) return version >= 2 ? 'flags-v2' : 'flags-v1';
  if (version >= 4) return 'flags-v2';
  if (version === 3) return 'flags-v1';
  return version === 2 ? 'decide-v2' : 'decide-v1';
}

const TokenParams = Type.Object({ token: Type.String({ minLength: 1, maxLength: 256 }) });

const RemoteConfig = Type.Object(
  {
    token: Type.String(),
    supportedCompression: Type.Array(Type.String()),
    hasFeatureFlags: Type.Boolean(),
    sessionRecording: Type.Boolean(),
  },
  {
    additionalProperties: true,
    description: 'The remote config of a PostHog project with nothing switched on',
  },
);

const FlagsAnswer = Type.Object(
  {
    errorsWhileComputingFlags: Type.Optional(Type.Boolean()),
    flags: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    featureFlags: Type.Optional(
      Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Array(Type.String())]),
    ),
    featureFlagPayloads: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    requestId: Type.String(),
    evaluatedAt: Type.Optional(Type.Integer()),
  },
  {
    additionalProperties: true,
    description: 'No feature flags (plus the config fields for /decide/ and ?config=true)',
  },
);

export function posthogConfigRoutes(app: TypedApp, ctx: RouteContext): void {
  /** The token in the path must be a write key; anything else is the 404 PostHog answers for an unknown project. */
  const project = (token: string) => {
    // The same answer for a key that can do more than ingest as for an unknown one: a public route must not tell
    // them apart.
    if (!isPublicKey(ctx.keys.resolve(token)))
      throw new IntakeError('INTAKE_ERR_NOT_FOUND', 'no such project token');
  };
  const common = { preSerialization: posthogErrorShape };

  app.get(
    '/array/:token/config',
    {
      ...common,
      schema: {
        summary: 'PostHog remote config (JSON)',
        description:
          'posthog-js builds that cannot load scripts fetch this at start. Intake has no feature flags, surveys, session recording, heatmaps or site apps, so the config says so, and the SDK loads nothing else. The token in the path is the write key; any other is a 404.',
        tags: ['posthog'],
        params: TokenParams,
        response: { 200: RemoteConfig, 404: posthogErrors[404] },
      },
    },
    async (req) => {
      project(req.params.token);
      return remoteConfig(req.params.token);
    },
  );

  app.get(
    '/array/:token/config.js',
    {
      ...common,
      schema: {
        summary: 'PostHog remote config (script)',
        description:
          "posthog-js's array.js loads this as a script at start; it sets window._POSTHOG_REMOTE_CONFIG[token] to the same config as /array/<token>/config, with no site apps.",
        tags: ['posthog'],
        params: TokenParams,
      },
    },
    async (req, reply) => {
      project(req.params.token);
      return reply.type('application/javascript; charset=utf-8').send(remoteConfigJs(req.params.token));
    },
  );

  const preParsing = posthogBody(app.initialConfig.bodyLimit ?? 1_048_576);
  const preValidation = posthogAuth(ctx.keys);
  for (const [path, decide] of [
    ['/flags/', false],
    ['/decide/', true],
  ] as const) {
    for (const p of [path, path.slice(0, -1)]) {
      app.post(
        p,
        {
          ...common,
          preParsing,
          preValidation,
          schema: {
            summary: decide ? 'PostHog feature flags, legacy /decide/' : 'PostHog feature flags',
            description: decide
              ? "Older posthog-js releases and SDKs ask /decide/?v=N: no flags in version N's format (v1 or none `featureFlags: []`, v2 `featureFlags: {}`, v3 `featureFlags` + `featureFlagPayloads`, v4+ `flags: {}`), with the config fields decide carried (no session recording, surveys or site apps). Body and key as for /flags/."
              : 'posthog-js posts {token, distinct_id, ...} (JSON, gzip, or a form data=<base64>) and gets no flags: `flags: {}` for ?v=2 (what current posthog-js asks), `featureFlags: {}` + `featureFlagPayloads: {}` without it; `errorsWhileComputingFlags: false`. ?config=true adds the config fields, as PostHog does. An unknown token is a 401.',
            tags: ['posthog'],
            hide: !p.endsWith('/'),
            body: Type.Unknown({ description: '{token, distinct_id, ...}' }),
            response: { 200: FlagsAnswer, ...posthogErrors },
          },
        },
        async (req) => {
          const q = req.query as { v?: unknown; config?: unknown };
          const flags = noFlags(formatOf(decide, q.v), ctx.now());
          return decide || q.config === 'true' || q.config === '1' ? { ...decideConfig(), ...flags } : flags;
        },
      );
    }
  }
}
