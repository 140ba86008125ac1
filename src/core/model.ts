// Workspaces and keys: what every layer may know of a tenant.

export type KeyKind = 'write' | 'read' | 'admin';

/** Per-workspace ingest options, stored with the workspace. */
export interface WorkspaceSettings {
  /** Add `context.location` from `context.ip` (the request's, or one the client forwarded). Default true. */
  geo: boolean;
  /** Zero the last octet of IPv4 / last 80 bits of IPv6 in `context.ip` before storing. Default false. */
  anonymizeIp: boolean;
  /** IANA time zone of the workspace's calendar: insights' days, weeks and months. Default UTC. */
  timezone: string;
  /** Rate limits of the workspace's write keys (each key has its own buckets). Absent: none (the default). */
  rateLimit?: RateLimit;
}

/** A token bucket: `perSecond` tokens refill it, up to `burst`. */
export interface Rate {
  perSecond: number;
  burst: number;
}

/** Per write key: events/s (each item of a request is one) and requests/s. An absent limit is no limit. */
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
}

export interface ApiKey {
  id: string;
  workspaceId: string;
  kind: KeyKind;
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
  /** Write keys: their own rate limits, replacing the workspace's; null: the workspace's. */
  rateLimit: RateLimit | null;
}

/** What of a key can change after it is created. */
export type KeyAccess = Pick<ApiKey, 'allowedOrigins' | 'allowedIps' | 'rateLimit'>;
