// The storage contract. Each backend lives in its own folder and passes test/store/contract.ts.
import type { KeySet } from '../ingest/keyset.ts';
import type { CanonicalEvent, Rejection } from '../pipeline/types.ts';

export type KeyKind = 'write' | 'read' | 'admin';

/** Per-workspace ingest options, stored as JSON in the workspaces table. */
export interface WorkspaceSettings {
  /** Add `context.location` from the request IP. Default true. */
  geo: boolean;
  /** Zero the last octet of IPv4 / last 80 bits of IPv6 in `context.ip` before storing. Default false. */
  anonymizeIp: boolean;
}

export const DEFAULT_WORKSPACE_SETTINGS: Readonly<WorkspaceSettings> = Object.freeze({
  geo: true,
  anonymizeIp: false,
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

/** A closed segment of the ingest log (ingest/log.ts), ready to load. */
export interface LogSegment {
  /** Segments are numbered from 1 in the order written, and loaded in that order. */
  seq: number;
  /** The segment file: one line per event or rejection (ingest/lines.ts). */
  path: string;
  /** Its events, for their profile effects: the profile fields only (properties and context dropped). */
  events: CanonicalEvent[];
  /** How many of its lines are rejections. */
  rejected: number;
}

export const ORDER_FIELDS = {
  timestamp: 'timestamp',
  receivedAt: 'received_at',
  event: 'event',
  type: 'type',
  userId: 'user_id',
  anonymousId: 'anonymous_id',
  groupId: 'group_id',
  instanceId: 'instance_id',
  messageId: 'message_id',
} as const;
export type OrderField = keyof typeof ORDER_FIELDS;

/** The EventQuery fields that filter by equality on their column (ORDER_FIELDS names the column). */
export const EQUALITY_FILTERS = [
  'event',
  'type',
  'userId',
  'anonymousId',
  'groupId',
  'instanceId',
  'messageId',
] as const;

export const JSON_COLUMNS = ['properties', 'traits', 'context'] as const;
export type JsonColumn = (typeof JSON_COLUMNS)[number];

export interface EventQuery {
  event?: string;
  type?: string;
  userId?: string;
  anonymousId?: string;
  groupId?: string;
  instanceId?: string;
  messageId?: string;
  startDate?: Date;
  endDate?: Date;
  /** Equality on a value inside a JSON column: properties.plan=pro is {column: 'properties', path: ['plan']}. */
  json: Array<{ column: JsonColumn; path: string[]; value: string }>;
  orderBy: OrderField;
  direction: 'ASC' | 'DESC';
  limit: number;
  offset: number;
}

export interface Page<T> {
  results: T[];
  total: number;
}

export interface Store extends ProfileStore {
  /**
   * The dedupe memory: every (workspace, messageId) key accepted within the window, filled from the durable
   * copy at open. The ingest log decides duplicates against it and adds keys as it accepts events.
   */
  readonly dedupe: KeySet;
  /**
   * Loads a log segment in one durable transaction: its events with their dedupe keys and profile effects, and
   * its rejections. A segment whose seq is not above loadedSegment() is skipped, so a replay is harmless.
   */
  loadSegment(segment: LogSegment): Promise<void>;
  /** The seq of the last segment loaded; 0 before the first. */
  loadedSegment(): Promise<number>;
  /** Forgets dedupe entries first seen before `before`; returns how many. */
  purgeDedupe(before: Date): Promise<number>;
  listEvents(workspaceId: string, query: EventQuery): Promise<Page<CanonicalEvent>>;
  listRejected(workspaceId: string, page: { limit: number; offset: number }): Promise<Page<Rejection>>;

  createWorkspace(ws: Workspace): Promise<void>;
  listWorkspaces(): Promise<Workspace[]>;
  /** Replaces a workspace's settings; false when there is no such workspace. */
  updateWorkspaceSettings(id: string, settings: WorkspaceSettings): Promise<boolean>;
  /** Removes the workspace with its keys, events and rejections. */
  deleteWorkspace(id: string): Promise<boolean>;

  createKey(key: ApiKey): Promise<void>;
  listKeys(workspaceId?: string): Promise<ApiKey[]>;
  revokeKey(workspaceId: string, id: string, at: Date): Promise<boolean>;

  close(): Promise<void>;
}

// ---- Profiles: users, groups, the identity graph and user deletion ----

export interface UserSummary {
  /** The person's canonical id: its smallest userId, or its smallest anonymousId when it has none. */
  id: string;
  userIds: string[];
  anonymousIds: string[];
  traits: Record<string, unknown>;
  firstSeen: Date | null;
  lastSeen: Date | null;
  eventCount: number;
}

export interface RefusedMerge {
  a: string;
  b: string;
  messageId: string;
  at: Date;
  reason: string;
}

export interface UserProfile extends UserSummary {
  groups: string[];
  /** Links to this person's ids that were refused by the ids-per-person cap. */
  refusedMerges: RefusedMerge[];
}

export interface UserQuery {
  /** Case-insensitive substring of an id, or of the email, name, username, firstName, lastName or phone trait. */
  search?: string;
  /** Equality on a trait: trait.plan=pro is {path: ['plan'], value: 'pro'}. */
  traits: Array<{ path: string[]; value: string }>;
  limit: number;
  offset: number;
}

export interface GroupProfile {
  id: string;
  traits: Record<string, unknown>;
  firstSeen: Date;
  lastSeen: Date;
  memberCount: number;
}

export type DeletionStatus = 'pending' | 'running' | 'done' | 'failed';

export interface DeletionJob {
  id: string;
  workspaceId: string;
  status: DeletionStatus;
  requestedAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  eventsDeleted: number;
  idsDeleted: number;
  error: string | null;
  /**
   * When the deleted rows' bytes left the storage (a purge rewrote it); null until then. Set with finishedAt
   * when the job found nothing to delete.
   */
  erasedAt: Date | null;
}

/** What one purge did (purgeDeleted). */
export interface PurgeResult {
  /** False when no deletion was waiting: nothing was rewritten. */
  rewritten: boolean;
  /** Deletion jobs whose rows are now gone from the storage's bytes. */
  deletions: number;
  startedAt: Date;
  durationMs: number;
  /** How long writes other than ingest loads (admin changes, deletion jobs) waited. */
  writesHeldMs: number;
  /** How long every call, reads included, waited. */
  readsHeldMs: number;
  /** Storage size before and after, in bytes. */
  bytesBefore: number;
  bytesAfter: number;
}

export interface PurgeStatus {
  /** Deletion jobs done whose rows' bytes are still in the storage. */
  waiting: number;
  /** When the oldest of them was done. */
  oldestDeletedAt: Date | null;
  /** When the scheduled purge is due: oldestDeletedAt plus the purge interval. */
  dueBy: Date | null;
  intervalHours: number;
  running: boolean;
  last: PurgeResult | null;
  /** The last purge's failure, until one succeeds. */
  lastError: string | null;
}

export interface ProfileStore {
  /** The person that `id` (any of its linked ids) belongs to, or null. */
  getUser(workspaceId: string, id: string): Promise<UserProfile | null>;
  listUsers(workspaceId: string, query: UserQuery): Promise<Page<UserSummary>>;
  /** The events of every id linked to `id`, newest first; null when `id` is unknown. */
  listUserEvents(
    workspaceId: string,
    id: string,
    page: { limit: number; offset: number },
  ): Promise<Page<CanonicalEvent> | null>;
  getGroup(workspaceId: string, groupId: string): Promise<GroupProfile | null>;
  listGroupUsers(
    workspaceId: string,
    groupId: string,
    page: { limit: number; offset: number },
  ): Promise<Page<UserSummary>>;
  /**
   * Starts deleting the person `id` belongs to: profile, links, memberships and the events of every linked id;
   * their messageIds stay refused forever. Runs in the background; poll getDeletion.
   */
  requestDeletion(workspaceId: string, id: string): Promise<DeletionJob>;
  getDeletion(workspaceId: string, jobId: string): Promise<DeletionJob | null>;
  /**
   * Erases the bytes of every deletion done so far from the storage, in one rewrite; none when no deletion is
   * waiting. Also runs on a schedule, within the purge interval of the oldest deletion waiting.
   */
  purgeDeleted(): Promise<PurgeResult>;
  purgeStatus(): Promise<PurgeStatus>;
}
