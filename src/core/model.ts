// Workspaces and keys: what every layer may know of a tenant.

/**
 * What a key may do. `manage` is its own workspace (keys, settings); `admin` is the whole server (workspaces, and
 * every workspace's keys and settings). Routes ask for a scope, never for a kind (http/auth.ts requireScope).
 */
export const SCOPES = ['ingest', 'read', 'query', 'manage', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/**
 * Named sets of scopes. `write`, `read` and `admin` are the kinds keys had before scopes, with what they could do
 * (admin now also ingests and queries: it can do everything); `private` is Trench's private key, everything within
 * its own workspace. A key made with explicit scopes that match no preset is `custom`.
 */
export const PRESETS = {
  write: ['ingest'],
  read: ['read', 'query'],
  private: ['ingest', 'read', 'query', 'manage'],
  admin: [...SCOPES],
} as const satisfies Record<string, readonly Scope[]>;
export type Preset = keyof typeof PRESETS;
export type KeyKind = Preset | 'custom';

/** The preset with exactly these scopes, else `custom`. */
export function kindOf(scopes: readonly Scope[]): KeyKind {
  for (const [name, set] of Object.entries(PRESETS) as Array<[Preset, readonly Scope[]]>) {
    if (set.length === scopes.length && set.every((s) => scopes.includes(s))) return name;
  }
  return 'custom';
}

/** Scopes in SCOPES order, each once. */
export const sortScopes = (scopes: Iterable<Scope>): Scope[] => {
  const set = new Set(scopes);
  return SCOPES.filter((s) => set.has(s));
};

/** Per-workspace ingest options, stored with the workspace. */
export interface WorkspaceSettings {
  /** Add `context.location` from `context.ip` (the request's, or one the client forwarded). Default true. */
  geo: boolean;
  /** Zero the last octet of IPv4 / last 80 bits of IPv6 in `context.ip` before storing. Default false. */
  anonymizeIp: boolean;
  /** IANA time zone of the workspace's calendar: insights' days, weeks and months. Default UTC. */
  timezone: string;
  /** Rate limits of the workspace's keys with the ingest scope (each key has its own buckets). Absent: none (the default). */
  rateLimit?: RateLimit;
}

/** A token bucket: `perSecond` tokens refill it, up to `burst`. */
export interface Rate {
  perSecond: number;
  burst: number;
}

/** Per key with the ingest scope: events/s (each item of a request is one) and requests/s. An absent limit is no limit. */
export interface RateLimit {
  events?: Rate;
  requests?: Rate;
}

export const DEFAULT_WORKSPACE_SETTINGS: Readonly<WorkspaceSettings> = Object.freeze({
  geo: true,
  anonymizeIp: false,
  timezone: 'UTC',
});

export interface Workspace {
  id: string;
  name: string;
  createdAt: Date;
  settings: WorkspaceSettings;
  /** Free-form JSON the operator attaches (Trench's workspace `properties`); {} when none. */
  properties: Record<string, unknown>;
}

export interface ApiKey {
  id: string;
  workspaceId: string;
  /** The preset its scopes match, or `custom`. */
  kind: KeyKind;
  /** What it may do, in SCOPES order. */
  scopes: Scope[];
  name: string;
  /** The first characters of the secret, to tell keys apart in listings. */
  prefix: string;
  /** sha256 of the secret, hex. The secret itself is never stored. */
  hash: string;
  createdAt: Date;
  revokedAt: Date | null;
  /** Origins a browser may send the key from (`https://app.example.com`, `*.example.com`); empty: any. */
  allowedOrigins: string[];
  /** Client IPs or CIDRs (IPv4, IPv6) the key is accepted from; empty: any. */
  allowedIps: string[];
  /** Keys with the ingest scope: their own rate limits, replacing the workspace's; null: the workspace's. */
  rateLimit: RateLimit | null;
}

/** What of a key can change after it is created. */
export type KeyAccess = Pick<ApiKey, 'allowedOrigins' | 'allowedIps' | 'rateLimit'>;
