// The ClickHouse tables. They run on 18.16 (Debian's) and on current releases: MergeTree family with PARTITION BY
// and ORDER BY, times as epoch milliseconds (Int64: DateTime64 does not exist in 18.16) with a DateTime column
// materialized from them for partitions and calendar functions, JSON columns as text.
//
// Exactly once without transactions (load.ts): every row a batch load writes carries the batch's `seq`, and
// reads only see the rows of committed loads: seq at or below its lane's checkpoint (store/lanes.ts: each loader
// has a lane; a lane's checkpoint is its largest seq in ingest_log, written last), the one predicate committed()
// renders. Rows of a load that failed or crashed part-way are invisible, and deleted by its lane's next load
// (load.ts cleanup). Events are a ReplacingMergeTree keyed by (workspace_id, message_id), the last line of
// defence, read with FINAL. Profile tables hold versions: a row per change, in lane 0 whatever the load's lane,
// the version being a seq that grows in the order the loads' profile steps ran (load.ts); reads take the latest
// committed version (argMax).
import { LANE_SPAN } from '../lanes.ts';

const ms = (name: string) => `${name} Int64`;

export const EVENT_TABLE = `CREATE TABLE IF NOT EXISTS events (
  id String, workspace_id String, message_id String, type String,
  event Nullable(String), name Nullable(String), category Nullable(String),
  user_id Nullable(String), anonymous_id Nullable(String), group_id Nullable(String),
  previous_id Nullable(String), instance_id Nullable(String),
  ${ms('timestamp_ms')}, original_timestamp_ms Nullable(Int64), sent_at_ms Nullable(Int64), ${ms('received_at_ms')},
  properties String, traits String, context String, integrations String, source String,
  seq UInt64,
  timestamp DateTime MATERIALIZED toDateTime(intDiv(timestamp_ms, 1000)),
  received_at DateTime MATERIALIZED toDateTime(intDiv(received_at_ms, 1000))
) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(received_at) ORDER BY (workspace_id, message_id)`;

export const TABLES: string[] = [
  EVENT_TABLE,
  `CREATE TABLE IF NOT EXISTS rejected (
     id String, workspace_id String, received_at_ms Int64, source String, message_id Nullable(String),
     code String, reason String, payload String, violations Nullable(String), seq UInt64
   ) ENGINE = ReplacingMergeTree ORDER BY (workspace_id, id)`,
  // The commit point of each load: a lane's checkpoint is its max(seq).
  'CREATE TABLE IF NOT EXISTS ingest_log (seq UInt64, at_ms Int64) ENGINE = MergeTree ORDER BY seq',
  `CREATE TABLE IF NOT EXISTS identities (
     workspace_id String, id String, person_id String, is_user UInt8, deleted UInt8, seq UInt64
   ) ENGINE = ReplacingMergeTree(seq) ORDER BY (workspace_id, id)`,
  `CREATE TABLE IF NOT EXISTS persons (
     workspace_id String, person_id String, state String, traits String, deleted UInt8, seq UInt64
   ) ENGINE = ReplacingMergeTree(seq) ORDER BY (workspace_id, person_id)`,
  `CREATE TABLE IF NOT EXISTS group_profiles (
     workspace_id String, group_id String, state String, traits String, first_ms Int64, last_ms Int64, seq UInt64
   ) ENGINE = ReplacingMergeTree(seq) ORDER BY (workspace_id, group_id)`,
  `CREATE TABLE IF NOT EXISTS group_members (
     workspace_id String, group_id String, member_id String, since_ms Int64, seq UInt64
   ) ENGINE = ReplacingMergeTree(seq) ORDER BY (workspace_id, group_id, member_id)`,
  `CREATE TABLE IF NOT EXISTS identity_refusals (
     workspace_id String, a String, b String, message_id String, refused_ms Int64, reason String, seq UInt64
   ) ENGINE = ReplacingMergeTree(seq) ORDER BY (workspace_id, a, b)`,
  // Tombstones of deleted users' messageIds (never forgotten) and nothing else: the other keys are computed
  // from the events' columns.
  'CREATE TABLE IF NOT EXISTS dedupe_keys (key String, seen_s Int64) ENGINE = ReplacingMergeTree ORDER BY key',
  // Workspaces, keys and deletion jobs: documents (JSON) with a version each, the latest one read (argMax); a
  // deleted one is a version with deleted = 1. Versions come from the writer's clock in microseconds, and
  // keysVersion() is the largest workspace or key version, which every node sharing the store can poll.
  `CREATE TABLE IF NOT EXISTS docs (
     kind String, id String, workspace_id String, doc String, deleted UInt8, version UInt64
   ) ENGINE = ReplacingMergeTree(version) ORDER BY (kind, id)`,
  // The data dictionary (dictionary.ts): rows added up by key, each load's with its seq; a state row (a
  // deletion's or a compaction's) with its job and the checkpoints it was computed at (snap).
  `CREATE TABLE IF NOT EXISTS dictionary_days (
     workspace_id String, kind String, name String, day Int32, count Int64, first_ms Int64, last_ms Int64,
     seq UInt64, job String, snap Array(UInt64)
   ) ENGINE = MergeTree ORDER BY (workspace_id, kind, name, day)`,
  `CREATE TABLE IF NOT EXISTS dictionary_paths (
     workspace_id String, kind String, name String, path String, count Int64, types Array(Int64),
     first_ms Int64, last_ms Int64, examples Array(String), seq UInt64, job String, snap Array(UInt64)
   ) ENGINE = MergeTree ORDER BY (workspace_id, kind, name, path)`,
  // Tracking plans (plans.ts): a row per version, never changed.
  `CREATE TABLE IF NOT EXISTS plans (
     workspace_id String, version UInt32, created_ms Int64, plan String, id String
   ) ENGINE = MergeTree ORDER BY (workspace_id, version)`,
];

/**
 * Columns added since a table was first created, added at open to a store made before them (18.16 has no ADD
 * COLUMN IF NOT EXISTS: system.columns says which are missing). A state row from before `snap` reads [] there:
 * the lowest rank, outranking no load row.
 */
export const ADDED_COLUMNS: ReadonlyArray<{ table: string; column: string; type: string }> = [
  { table: 'dictionary_days', column: 'snap', type: 'Array(UInt64)' },
  { table: 'dictionary_paths', column: 'snap', type: 'Array(UInt64)' },
];

/** Tables a load writes with its seq, whose rows above the checkpoint a cleanup deletes. */
export const SEQ_TABLES = [
  'events',
  'rejected',
  'identities',
  'persons',
  'group_profiles',
  'group_members',
  'identity_refusals',
  'dictionary_days',
  'dictionary_paths',
] as const;

/**
 * Every lane's checkpoint, as a scalar subquery: an array indexed by lane + 1. It is dense because a loader writes
 * the base row of its lane and of every lane below (load.ts seedLanes) before its first load; were a lane missing,
 * it is [0] (nothing visible but seq 0), never an array whose lanes are shifted. Grouped and sorted rather than
 * joined to a range of lanes: 7 ms against 13 ms for the join and 5 ms for a bare max(seq), at 100k loads (p50 of
 * 30, busy 2-core machine).
 */
export const CHECKPOINTS_SQL = `(SELECT if(count() = max(l) + 1, arrayMap(t -> t.2, arraySort(groupArray((l, m)))),
  [toUInt64(0)]) FROM (SELECT intDiv(seq, ${LANE_SPAN}) AS l, max(seq) AS m FROM ingest_log GROUP BY l))`;

/**
 * The rows of committed loads: seq at or below its lane's checkpoint. Every read of a table a load writes uses
 * this, and nothing else spells it. `at`: the checkpoints of a snapshot (load.ts checkpoints()) instead of the
 * latest, or an SQL expression of such an array (a column: the dictionary's `snap`); `col`: the seq column's name
 * where it is qualified.
 */
export function committed(at?: readonly number[] | string | null, col = 'seq'): string {
  const cps =
    typeof at === 'string'
      ? at
      : at
        ? `[${at.map((n) => String(Math.trunc(n))).join(', ')}]`
        : CHECKPOINTS_SQL;
  return `${col} <= arrayElement(${cps}, intDiv(${col}, ${LANE_SPAN}) + 1)`;
}

/** The visible events: committed and deduplicated. */
export const VISIBLE_EVENTS = `(SELECT * FROM events FINAL WHERE ${committed()})`;
