// The store contract's parts for data governance: the data dictionary (what was seen, discovered as events are
// loaded, read here) with the violations of the tracking plan, and the tracking plans' versions. store/types.ts
// adds them to Store; each engine implements them (DuckDB: duckdb/dictionary.ts, duckdb/plans.ts; ClickHouse:
// clickhouse/dictionary.ts, clickhouse/plans.ts).
import { type DictionaryKind, type JsonType, typeCounts } from '../pipeline/dictionary/observe.ts';

export type { DictionaryKind, JsonType } from '../pipeline/dictionary/observe.ts';

/** Events of one day (UTC, `YYYY-MM-DD`, by receivedAt). */
export interface DayCount {
  day: string;
  count: number;
}

/** A name of the dictionary: a track event, a page or screen name; '' is a page or screen without a name. */
export interface NameSummary {
  kind: DictionaryKind;
  name: string;
  /** Events stored under it, all time. */
  count: number;
  firstSeen: Date;
  lastSeen: Date;
  /** Events per day, from NameQuery.volumeFrom on (days without events left out). */
  volume: DayCount[];
}

/** A property (or trait) path, as pipeline/dictionary/observe.ts writes it: `a.b`, `items[].sku`, `["a.b"]`. */
export interface PathSummary {
  path: string;
  /** Events holding it. */
  count: number;
  /** count / the name's events (identify or group calls for traits), 4 decimals. */
  share: number;
  /** Events holding it with each JSON type. */
  types: Partial<Record<JsonType, number>>;
  /** A few values seen, strings cut at 64 characters. */
  examples: unknown[];
  firstSeen: Date;
  lastSeen: Date;
}

/** A stored example back as a value: examples are kept as JSON text (a string cut short may not parse). */
function example(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A path's summary as every engine answers it, from its stored counts (types in JSON_TYPES order). */
export function pathSummary(
  p: {
    path: string;
    count: number;
    types: readonly number[];
    examples: readonly string[];
    firstSeen: Date;
    lastSeen: Date;
  },
  /** The name's events (or identify, group calls): what `share` divides by. */
  total: number,
): PathSummary {
  return {
    path: p.path,
    count: p.count,
    share: total > 0 ? Math.round((p.count / total) * 10_000) / 10_000 : 0,
    types: typeCounts(p.types),
    examples: p.examples.map(example),
    firstSeen: p.firstSeen,
    lastSeen: p.lastSeen,
  };
}

export interface NameDetail extends NameSummary {
  properties: PathSummary[];
}

export interface NameQuery {
  kind?: DictionaryKind;
  /** Case-insensitive substring of the name. */
  search?: string;
  /** Only names seen since (lastSeen at or after). */
  seenSince?: Date;
  /** First day of each result's `volume`. */
  volumeFrom: Date;
  orderBy: 'name' | 'count' | 'lastSeen';
  limit: number;
  offset: number;
}

export interface TraitQuery {
  kind: 'identify' | 'group';
  search?: string;
  limit: number;
  offset: number;
}

export interface TraitPage {
  /** identify (or group) calls seen, all time: what `share` divides by. */
  calls: number;
  results: PathSummary[];
  total: number;
}

export interface ViolationQuery {
  startDate: Date;
  endDate?: Date;
  /** Event type (track, page, ...) and name. */
  type?: string;
  event?: string;
  kind?: string;
  limit: number;
  offset: number;
}

/** Violations of one kind by the events of one type and name, in the query's time range. */
export interface ViolationSummary {
  type: string;
  /** Track event or page/screen name; '' for identify, group and alias. */
  event: string;
  kind: string;
  /** Events stored with such a violation (each once, however many it has). */
  flagged: number;
  /** Items refused for it (mode reject), kept at /rejected. */
  rejected: number;
  firstSeen: Date;
  lastSeen: Date;
  /** The latest event (id, as GET /events lists it) with one, or null when none was stored. */
  sampleEventId: string | null;
  /** The latest refused item (its /rejected id), or null. */
  sampleRejectedId: string | null;
  /** Per day (by receivedAt): events flagged and items refused. */
  days: Array<{ day: string; flagged: number; rejected: number }>;
}

/** The data dictionary and the plan's violations; reads wait for the log like every read. */
export interface SchemaReads {
  listNames(workspaceId: string, q: NameQuery): Promise<{ results: NameSummary[]; total: number }>;
  /** A name with every property path seen (at most about 1,000); null when never seen (or all deleted). */
  getName(
    workspaceId: string,
    kind: DictionaryKind,
    name: string,
    volumeFrom: Date,
  ): Promise<NameDetail | null>;
  listTraits(workspaceId: string, q: TraitQuery): Promise<TraitPage>;
  /**
   * Every name (and identify, group) seen since `since`, with the paths seen since then: what a draft plan is
   * made from.
   */
  seenSince(workspaceId: string, since: Date): Promise<NameDetail[]>;
  violations(workspaceId: string, q: ViolationQuery): Promise<{ results: ViolationSummary[]; total: number }>;
}

export interface StoredPlan {
  version: number;
  createdAt: Date;
  /** The plan document as accepted (pipeline/plan/format.ts). */
  plan: Record<string, unknown>;
}

/** Tracking plans, versioned per workspace: a change is a new version; old ones stay readable. */
export interface PlanStore {
  /** Stores `plan` as the workspace's next version (1 for the first) and returns it. */
  savePlan(workspaceId: string, plan: Record<string, unknown>, at: Date): Promise<StoredPlan>;
  /** A version, or the latest when `version` is absent; null when there is none. */
  getPlan(workspaceId: string, version?: number): Promise<StoredPlan | null>;
  listPlans(workspaceId: string): Promise<Array<{ version: number; createdAt: Date }>>;
  /** The latest plan of every workspace that has one: what a node compiles at start. */
  currentPlans(): Promise<Array<StoredPlan & { workspaceId: string }>>;
  /**
   * A value that identifies the set of stored plan versions (a version's document never changes): it moves when
   * a version is saved or a workspace deleted, on any node sharing the store, and is the same for the same set.
   * Plan rings compare it to recompile (plans/ring.ts), as key rings do keysVersion.
   */
  plansVersion(): Promise<string>;
}
