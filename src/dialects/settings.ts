// The analytics.js "CDN settings" route: @segment/analytics-next loaded with `cdnURL` pointing at Intake
// fetches GET {cdnURL}/v1/projects/{writeKey}/settings and then sends its events to Intake's Segment routes.
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { IntakeError } from '../core/errors.ts';
import { isPublicKey } from '../http/auth.ts';
import type { RouteContext, TypedApp } from '../http/context.ts';
import { ErrorSchema } from '../http/schemas.ts';

/**
 * Only what analytics-next reads (browser/index.ts, plugins/segmentio): the Segment.io integration alone,
 * so it loads no device-mode destination bundles from Segment's CDN, no remote plugins, no middleware; and
 * metrics with sampleRate 0, else it would post its own usage metrics to api.segment.io.
 */
export function cdnSettings(writeKey: string, apiHost: string, protocol: 'http' | 'https') {
  return {
    integrations: {
      'Segment.io': {
        apiKey: writeKey,
        // Host and path, no scheme: analytics.js posts to {protocol}://{apiHost}/t, /i, /p, /g, /a.
        apiHost,
        protocol,
        // `_metadata.bundled/unbundled` only matter to Segment's destination routing.
        addBundledMetadata: false,
      },
    },
    enabledMiddleware: {},
    metrics: { sampleRate: 0 },
    legacyVideoPluginsEnabled: false,
    remotePlugins: [] as unknown[],
  };
}

const Settings = Type.Object(
  {
    integrations: Type.Object({
      'Segment.io': Type.Object(
        {
          apiKey: Type.String(),
          apiHost: Type.String({ description: 'Where the events go: this server, host and path /v1' }),
          protocol: Type.Union([Type.Literal('http'), Type.Literal('https')]),
        },
        { additionalProperties: true },
      ),
    }),
  },
  { additionalProperties: true, description: 'The analytics.js settings object for this write key' },
);

/** This server as the browser reached it: Host and protocol (X-Forwarded-* only behind a trusted proxy). */
function apiBase(req: FastifyRequest): { apiHost: string; protocol: 'http' | 'https' } {
  return { apiHost: `${req.host}/v1`, protocol: req.protocol === 'https' ? 'https' : 'http' };
}

export function settingsRoutes(app: TypedApp, ctx: RouteContext): void {
  app.get(
    '/v1/projects/:writeKey/settings',
    {
      schema: {
        summary: 'analytics.js settings for a write key',
        description:
          'Load @segment/analytics-next with `cdnURL` set to this server and it fetches this object, then sends its events here. The write key in the path is the only credential; an unknown, revoked or non-write key answers 404.',
        tags: ['segment'],
        params: Type.Object({ writeKey: Type.String({ minLength: 1, maxLength: 256 }) }),
        response: { 200: Settings, 404: ErrorSchema },
      },
    },
    async (req) => {
      const key = ctx.keys.resolve(req.params.writeKey);
      // The same answer for a key that can do more than ingest as for an unknown one: this route must not tell
      // them apart, and a key that can read must not work from a URL.
      if (!isPublicKey(key)) throw new IntakeError('INTAKE_ERR_NOT_FOUND', 'no such write key');
      const { apiHost, protocol } = apiBase(req);
      return cdnSettings(req.params.writeKey, apiHost, protocol);
    },
  );
}
