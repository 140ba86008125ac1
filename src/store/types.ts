// The store contract, split by who uses it: the loader's sink, the readers of events and profiles, the jobs that
// erase data, and the admin of workspaces and keys. Each engine lives in its own folder and passes the contract
// suite (test/store/contract.ts) on its real engine; docs/ENGINES.md says how to add one.
import type { CanonicalEvent, EventViews, Rejection } from '../core/event.ts';
import type {
  FunnelQuery,
  FunnelResult,
  InsightAnswer,
  RetentionQuery,
  RetentionResult,
  TrendsQuery,
  TrendsResult,
} from '../core/insights.ts';
import type { ApiKey, KeyAccess, Workspace, WorkspaceSettings } from '../core/model.ts';
import type { DictionaryBatch } from '../pipeline/dictionary/observe.ts';
import type { PlanStore, SchemaReads } from './governance.ts';
import type { SinkLanes } from './lanes.ts';

export type {
  ApiKey,
  KeyAccess,
  KeyKind,
  Preset,
  Rate,
  RateLimit,
  Scope,
  Workspace,
  WorkspaceSettings,
} from '../core/model.ts';
export { DEFAULT_WORKSPACE_SETTINGS, kindOf, PRESETS, SCOPES } from '../core/model.ts';
export type * from './governance.ts';

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

/** The order fields that hold times: their cursor values are epoch microseconds. The others hold text. */
export const TIME_ORDER_FIELDS: readonly OrderField[] = ['timestamp', 'receivedAt'];

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
  /**
   * Equality on a value inside a JSON column: properties.plan=pro is {column: 'properties', path: ['plan']}. A
   * JSON string equal to `value` matches, or a number or boolean whose JSON.stringify text equals it; null,
   * objects, arrays and a missing path never do; segments are object keys (README, GET /events).
   */
  json: Array<{ column: JsonColumn; path: string[]; value: string }>;
  /** True: only events that carry tracking plan violations (context.violationErrors); false: only those without. */
  violations?: boolean;
  /** Null values sort last in both directions; ties are broken by event id, in the same direction. */
  orderBy: OrderField;
  direction: 'ASC' | 'DESC';
  limit: number;
  /** Events of the order skipped before the page; 0 with `after`. */
  offset: number;
  /**
   * Start right after this position of the order (a page's `next`) instead of at `offset`. What a page holds
   * depends only on the position, not on how many events come before it, so no page costs more for being deep,
   * and paging on from each `next` returns every event that existed when paging began exactly once, whatever
   * arrives or leaves meanwhile (events that arrive may or may not be returned).
   */
  after?: EventCursor;
  /** Count every match into `total` (default true); when false, `total` is null unless the page tells it. */
  count?: boolean;
}

/** The filters of an EventQuery, without its order and page: what an export of every matching event takes. */
export type EventFilter = Omit<EventQuery, 'orderBy' | 'direction' | 'limit' | 'offset' | 'after' | 'count'>;

/**
 * A position in an order: the order field's value at the position (epoch microseconds for TIME_ORDER_FIELDS,
 * the text otherwise, null for a null) and the event id there, which breaks ties.
 */
export interface EventCursor {
  value: string | number | null;
  id: string;
}

export interface Page<T> {
  results: T[];
  total: number;
}

export interface EventPage {
  results: CanonicalEvent[];
  /**
   * Every event matching the filters (the position aside); null when the query asked not to count and the page
   * does not tell it (a first page shorter than its limit does).
   */
  total: number | null;
  /** The position of the last result when more events follow it in the order; null at the end. */
  next: EventCursor | null;
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

/**
 * A batch of the ingest log, read back in order for loading. A log implementation hands these to the loader;
 * the sink stores each exactly once.
 */
export interface LogBatch {
  /** Its position: batches are loaded in increasing seq, and the sink records the last one it loaded. */
  readonly seq: number;
  /**
   * Its events with their profile fields, type and event name only (properties and context dropped), in log
   * order: what the profile step reads, the names a store may keep before loading them (the DuckDB store's
   * pages in the order of event), and their workspaceId, userId, anonymousId and receivedAt as stored (the
   * DuckDB store's user index). `entries()` gives the whole events.
   */
  readonly events: EventViews;
  /** How many of its entries are rejections. */
  readonly rejected: number;
  /** Its whole entries, read from wherever the log keeps them. */
  entries(): Promise<{ events: CanonicalEvent[]; rejected: Rejection[] }>;
  /**
   * An optional hint: a local NDJSON file holding the batch as rows of core/columns.ts (events with their key
   * field, rejections marked with the rejected field), which an engine may read directly instead of entries().
   */
  readonly file?: string;
  /**
   * An optional hint: the data dictionary's summary of the batch's events (pipeline/dictionary/observe.ts),
   * made by a log that walked them as it wrote them. Without it the sink walks entries() itself.
   */
  readonly dictionary?: DictionaryBatch;
}

/** The loader's side: append a batch with its checkpoint in one atomic step, and give back what dedupe needs. */
export interface EventSink {
  /**
   * Stores the batch in one atomic, durable step: its events, the events' profile effects and its rejections,
   * with `seq` as the new checkpoint. A batch at or below checkpoint() is skipped, so a replay is harmless.
   */
  load(batch: LogBatch): Promise<void>;
  /** The seq of the last batch loaded (at a start: loaded durably); 0 before the first. */
  checkpoint(): Promise<number>;
  /**
   * The seq through which loaded batches survive a crash, where that lags the loads: a store that keeps no log
   * of its own (the DuckDB store without its WAL) holds a load only once a checkpoint covers it, so the log
   * keeps every batch past it, and a restart loads them again (checkpoint() and the rows revert together).
   * Absent: a batch is durable once load() resolves.
   */
  durableThrough?(): number;
  /**
   * Calls `add` with the dedupe key (core/dedupe.ts) and the time first seen, in seconds, of every event received
   * since `since`, and of every stored tombstone (seconds FOREVER: never forgotten): what the log's dedupe memory
   * is rebuilt from at start.
   */
  dedupeKeys(since: Date, add: (key: string, seconds: number) => void): Promise<void>;
  /** Forgets stored dedupe keys first seen before `before` (tombstones are kept); returns how many. */
  purgeKeys(before: Date): Promise<number>;
  /**
   * Stores dedupe keys (core/dedupe.ts) as tombstones, never forgotten, as a deletion does: how `intake migrate`
   * carries a deleted person's refusals over. A key already a tombstone is not stored twice; returns how many
   * were new.
   */
  addTombstones(keys: readonly string[]): Promise<number>;
  /** Present on a store that several loaders may load at once, each in its own lane (store/lanes.ts). */
  lanes?: SinkLanes;
}

/** An export line's fields in order: its name and the CanonicalEvent key it holds. */
export type ExportShape = readonly (readonly [name: string, key: keyof CanonicalEvent])[];

/** Reads of events and rejections; always scoped to one workspace. */
export interface EventReads {
  listEvents(workspaceId: string, query: EventQuery): Promise<EventPage>;
  listRejected(workspaceId: string, page: { limit: number; offset: number }): Promise<Page<Rejection>>;
  /**
   * Every event `filter` matches, as it stood when the export began, handed to `onLines` as NDJSON text: whole
   * lines, each the JSON of an event as JSON.stringify writes a CanonicalEvent (times as ISO text to the
   * millisecond, keys in its order), in no particular order. onLines returning false stops it; it stops at
   * `timeoutMs` with the coded INTAKE_ERR_QUERY_TIMEOUT. Resolves with the number of events handed over.
   * `shape`, when given, names each line's fields in order, each with the event key it holds (an API's own
   * names for them: Trench's `uuid` is the messageId); keys it leaves out are not written.
   */
  exportEvents(
    workspaceId: string,
    filter: EventFilter,
    onLines: (text: string) => boolean | Promise<boolean>,
    timeoutMs: number,
    shape?: ExportShape,
  ): Promise<number>;
}

/** Reads of users, groups and the identity graph. */
export interface ProfileReads {
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
  /** A deletion job's progress: `done` only once a crash of the store's process can no longer bring its rows back. */
  getDeletion(workspaceId: string, jobId: string): Promise<DeletionJob | null>;
}

export type SqlValue = string | number | boolean | null | SqlValue[] | { [key: string]: SqlValue };

export interface SqlColumn {
  name: string;
  /** The engine's type name (BIGINT, VARCHAR, TIMESTAMP, JSON, ...). */
  type: string;
}

export interface SqlQuery {
  /** One SELECT (or WITH ... SELECT) over the workspace's tables (README "SQL"). */
  sql: string;
  /** Values of its $1, $2, ... (or ?) parameters, in order. */
  params: Array<string | number | boolean | null>;
  /** Most rows returned; absent: all (streaming). */
  limit?: number;
  /** The query is stopped past this many ms. */
  timeoutMs: number;
  /**
   * Whose tables and functions the SQL is written against: `intake` (default: Intake's tables, the engine's own
   * SQL) or `trench` (Trench's `events` table and column names, and the ClickHouse JSON functions Trench's users
   * write, README "Trench"). Either way it reads only its workspace.
   */
  dialect?: SqlDialectName;
}

export type SqlDialectName = 'intake' | 'trench';

export interface SqlResult {
  columns: SqlColumn[];
  rows: SqlValue[][];
  /** True when rows were cut at the limit. */
  truncated: boolean;
}

/** A workspace's read-only SQL: checked, scoped to the workspace and sandboxed by the engine. */
export interface SqlReads {
  query(workspaceId: string, q: SqlQuery): Promise<SqlResult>;
  /**
   * Runs `q` and hands its columns, then its rows chunk by chunk, to the callbacks (onRows returning false stops
   * it); resolves with whether rows were cut at q.limit.
   */
  stream(
    workspaceId: string,
    q: SqlQuery,
    out: { onColumns(columns: SqlColumn[]): void; onRows(rows: SqlValue[][]): boolean | Promise<boolean> },
  ): Promise<{ truncated: boolean }>;
}

/**
 * Insights: each kind's engine-neutral description (core/insights.ts) compiled to the engine's SQL and run,
 * answered with the statements it ran. An engine implements one compiler per kind; the reference in
 * query/insights/reference/ is what their answers are tested against.
 */
export interface InsightReads {
  trends(workspaceId: string, q: TrendsQuery, opts: InsightOptions): Promise<InsightAnswer<TrendsResult>>;
  funnels(workspaceId: string, q: FunnelQuery, opts: InsightOptions): Promise<InsightAnswer<FunnelResult>>;
  retention(
    workspaceId: string,
    q: RetentionQuery,
    opts: InsightOptions,
  ): Promise<InsightAnswer<RetentionResult>>;
}

export interface InsightOptions {
  /** The statement is stopped past this many ms (INTAKE_ERR_QUERY_TIMEOUT). */
  timeoutMs: number;
}

/** What erases data: it must see every event acknowledged before it, like a read. */
export interface Erasure {
  /**
   * Starts deleting the person `id` belongs to: profile, links, memberships and the events of every linked id;
   * their messageIds stay refused forever (tombstones, handed to onTombstones). Runs in the background; poll
   * ProfileReads.getDeletion.
   */
  requestDeletion(workspaceId: string, id: string): Promise<DeletionJob>;
  /** Removes the workspace with its keys, events, rejections and profiles; false when there is none. */
  deleteWorkspace(id: string): Promise<boolean>;
  /**
   * Erases the bytes of every deletion done so far from the storage, in one rewrite; none when no deletion is
   * waiting. Also runs on a schedule, within the purge interval of the oldest deletion waiting.
   */
  purgeDeleted(): Promise<PurgeResult>;
  purgeStatus(): Promise<PurgeStatus>;
}

/** How many rows a store holds, by what they are: `intake migrate` compares a source with its target. */
export interface StoreCounts {
  workspaces: number;
  keys: number;
  events: number;
  rejected: number;
  /** Persons of the identity graph (each with one or more ids). */
  persons: number;
  /** Ids linked to persons (user and anonymous ids). */
  identities: number;
  groups: number;
  groupMembers: number;
  planVersions: number;
  tombstones: number;
}

/** Workspaces and keys. */
export interface Admin {
  createWorkspace(ws: Workspace): Promise<void>;
  listWorkspaces(): Promise<Workspace[]>;
  /** Replaces a workspace's settings; false when there is no such workspace. */
  updateWorkspaceSettings(id: string, settings: WorkspaceSettings): Promise<boolean>;
  /** Renames a workspace and/or replaces its properties (the fields given); false when there is no such workspace. */
  updateWorkspace(id: string, patch: Partial<Pick<Workspace, 'name' | 'properties'>>): Promise<boolean>;
  createKey(key: ApiKey): Promise<void>;
  listKeys(workspaceId?: string): Promise<ApiKey[]>;
  revokeKey(workspaceId: string, id: string, at: Date): Promise<boolean>;
  /** Replaces a key's allow-lists and rate limit; false when there is no such key. */
  updateKeyAccess(workspaceId: string, id: string, access: KeyAccess): Promise<boolean>;
  /**
   * A number that changes whenever a workspace or key changes (on any node sharing the store): key rings
   * compare it to reload (auth/keys.ts).
   */
  keysVersion(): Promise<number>;
  /** Every table's rows, counted as a reader sees them (no duplicate, nothing deleted). */
  counts(): Promise<StoreCounts>;
}

/** Every part of an engine, opened together. */
export interface Store {
  readonly sink: EventSink;
  readonly events: EventReads;
  readonly profiles: ProfileReads;
  readonly sql: SqlReads;
  readonly insights: InsightReads;
  readonly erasure: Erasure;
  readonly admin: Admin;
  /** The data dictionary and the tracking plan's violations (store/governance.ts). */
  readonly schema: SchemaReads;
  /** Tracking plans' versions. */
  readonly plans: PlanStore;
  /**
   * Called with the dedupe keys of a deleted person's events once its deletion commits (the log refuses them).
   * The first listener is also handed the keys of the deletions done before it came (those the store resumed
   * at its open, a crash having interrupted them): the log it feeds may have read the store before they committed.
   */
  onTombstones(listener: (keys: string[]) => void): void;
  close(): Promise<void>;
}
