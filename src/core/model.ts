// Workspaces and keys: what every layer may know of a tenant.

export type KeyKind = 'write' | 'read' | 'admin';

/** Per-workspace ingest options, stored with the workspace. */
export interface WorkspaceSettings {
  /** Add `context.location` from the request IP. Default true. */
  geo: boolean;
  /** Zero the last octet of IPv4 / last 80 bits of IPv6 in `context.ip` before storing. Default false. */
  anonymizeIp: boolean;
  /** IANA time zone of the workspace's calendar: insights' days, weeks and months. Default UTC. */
  timezone: string;
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
}
