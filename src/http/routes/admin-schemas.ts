// TypeBox schemas of the admin routes (admin.ts): workspaces, their settings and rate limits, keys and their
// allow-lists.
import { type SchemaOptions, type Static, type TSchema, Type } from '@sinclair/typebox';
import { PRESET_NAMES } from '../../auth/keys.ts';
import { completeRateLimit, MAX_RATE } from '../../auth/limits.ts';
import { type KeyAccess, SCOPES } from '../../store/types.ts';

const Rate = (what: string) =>
  Type.Object(
    {
      perSecond: Type.Number({ exclusiveMinimum: 0, maximum: MAX_RATE, description: `${what} per second` }),
      burst: Type.Optional(
        Type.Integer({
          minimum: 1,
          maximum: MAX_RATE,
          description: `Most ${what} at once after a quiet spell (default: perSecond, rounded up)`,
        }),
      ),
    },
    { additionalProperties: false },
  );

export const RateLimitSchema = Type.Object(
  {
    events: Type.Optional(Rate('events')),
    requests: Type.Optional(Rate('requests')),
  },
  {
    additionalProperties: false,
    minProperties: 1,
    description:
      'Token buckets per key with the ingest scope, in memory of each server process. Events: every item of a request counts, and a request over the limit is refused whole (429). Requests: checked before the body is read when the key is in a header.',
  },
);

const Nullable = <T extends TSchema>(t: T, options: SchemaOptions) => Type.Union([t, Type.Null()], options);

const SettingFields = {
  geo: Type.Boolean({ description: 'Add context.location from context.ip, whoever set it (default true)' }),
  anonymizeIp: Type.Boolean({
    description:
      'Zero the last octet of IPv4 / last 80 bits of IPv6 in context.ip before storing (default false)',
  }),
  timezone: Type.String({
    maxLength: 64,
    description: "IANA time zone of insights' days, weeks and months, e.g. Europe/Paris (default UTC)",
  }),
};

const Settings = Type.Object({
  ...SettingFields,
  rateLimit: Type.Optional(RateLimitSchema),
});

export const SettingsPatch = Type.Object(
  {
    geo: Type.Optional(SettingFields.geo),
    anonymizeIp: Type.Optional(SettingFields.anonymizeIp),
    timezone: Type.Optional(SettingFields.timezone),
    rateLimit: Type.Optional(
      Nullable(RateLimitSchema, {
        description: "Every ingest key's limit (keys with the ingest scope); null: none (the default)",
      }),
    ),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const WorkspaceSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  settings: Settings,
  properties: Type.Record(Type.String(), Type.Unknown(), { description: 'Free-form JSON; {} when none' }),
});

const AccessFields = {
  allowedOrigins: Type.Array(Type.String({ minLength: 1, maxLength: 300 }), {
    maxItems: 100,
    description:
      'Origins a browser may send the key from: https://app.example.com, app.example.com (http or https), *.example.com (subdomains at any depth), with :port for another port. Empty: any origin.',
  }),
  allowedIps: Type.Array(Type.String({ minLength: 1, maxLength: 50 }), {
    maxItems: 1000,
    description: 'Client IPs or CIDRs, IPv4 or IPv6 (203.0.113.7, 10.0.0.0/8, 2001:db8::/32). Empty: any IP.',
  }),
  rateLimit: Nullable(RateLimitSchema, {
    description:
      "Keys with the ingest scope: the key's own limit, replacing its workspace's; null: the workspace's",
  }),
};

const ScopeSchema = Type.Union(
  SCOPES.map((s) => Type.Literal(s)),
  {
    description:
      'ingest: send events; read: events, rejections, users; query: SQL; manage: its own workspace (keys, settings, user deletion); admin: every workspace',
  },
);
const PresetSchema = Type.Union(
  PRESET_NAMES.map((k) => Type.Literal(k)),
  {
    description:
      'A preset of scopes: write = ingest; read = read + query; private = ingest + read + query + manage (Trench private key); admin = every scope',
  },
);

export const KeySchema = Type.Object({
  id: Type.String(),
  workspaceId: Type.String(),
  kind: Type.Union(
    [...PRESET_NAMES, 'custom'].map((k) => Type.Literal(k)),
    {
      description: 'The preset its scopes match, or custom',
    },
  ),
  scopes: Type.Array(ScopeSchema),
  name: Type.String(),
  prefix: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  revokedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  ...AccessFields,
});

export const CreatedKeySchema = Type.Object({
  key: KeySchema,
  secret: Type.String({ description: 'Shown once; store it now.' }),
});

export const KeyCreate = Type.Object({
  kind: Type.Optional(PresetSchema),
  scopes: Type.Optional(
    Type.Array(ScopeSchema, {
      minItems: 1,
      uniqueItems: true,
      description: 'Instead of kind: the scopes themselves',
    }),
  ),
  name: Type.Optional(Type.String({ maxLength: 100 })),
  allowedOrigins: Type.Optional(AccessFields.allowedOrigins),
  allowedIps: Type.Optional(AccessFields.allowedIps),
  rateLimit: Type.Optional(AccessFields.rateLimit),
});

export const KeyPatch = Type.Object(
  {
    allowedOrigins: Type.Optional(AccessFields.allowedOrigins),
    allowedIps: Type.Optional(AccessFields.allowedIps),
    rateLimit: Type.Optional(AccessFields.rateLimit),
  },
  { additionalProperties: false, minProperties: 1 },
);

/** A key's lists and limit from a request body, with each rate's default burst filled in. */
export function accessOf(body: Static<typeof KeyPatch>): Partial<KeyAccess> {
  const out: Partial<KeyAccess> = {};
  if (body.allowedOrigins) out.allowedOrigins = body.allowedOrigins;
  if (body.allowedIps) out.allowedIps = body.allowedIps;
  if (body.rateLimit !== undefined) out.rateLimit = body.rateLimit && completeRateLimit(body.rateLimit);
  return out;
}
