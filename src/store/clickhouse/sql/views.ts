// The stored tables a checked query may read on ClickHouse, under the names of the embedded engine's tables that
// the exposed tables' templates read (duckdb/sql/tables.ts: main.events, main.persons, ...): each one a subquery
// over the cluster tables, filtered to one workspace and to committed, deduplicated rows (schema.ts
// VISIBLE_EVENTS, argMax versions as users.ts reads them), with the embedded table's column names. Times are
// DateTime (seconds: 18.16 has no DateTime64); JSON columns are text.
import { lit } from '../http.ts';
import { committed } from '../schema.ts';

const seconds = (ms: string) => `toDateTime(intDiv(${ms}, 1000))`;

/** Each stored table's columns, as the templates read them. */
export const VIEW_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  events: [
    'id',
    'workspace_id',
    'message_id',
    'type',
    'event',
    'name',
    'category',
    'user_id',
    'anonymous_id',
    'group_id',
    'previous_id',
    'instance_id',
    'timestamp',
    'original_timestamp',
    'sent_at',
    'received_at',
    'properties',
    'traits',
    'context',
    'integrations',
    'source',
  ],
  persons: ['workspace_id', 'person_id', 'traits'],
  identities: ['workspace_id', 'id', 'person_id', 'is_user'],
  group_profiles: ['workspace_id', 'group_id', 'traits', 'first_seen', 'last_seen'],
  group_members: ['workspace_id', 'group_id', 'member_id', 'since'],
  rejected: ['id', 'workspace_id', 'received_at', 'source', 'message_id', 'code', 'reason', 'payload'],
};

/** The latest committed version of each key of a versioned profile table (ReplacingMergeTree(seq)). */
const latest = (table: string, ws: string, keys: string, values: Record<string, string>) =>
  `SELECT workspace_id, ${keys}, ${Object.entries(values)
    .map(([as, col]) => `argMax(${col}, seq) AS ${as}`)
    .join(', ')} FROM ${table} WHERE workspace_id = ${ws} AND ${committed()} GROUP BY workspace_id, ${keys}`;

/** The subquery standing for the stored table `name` of workspace `workspaceId`; undefined for any other name. */
export function viewOf(name: string, workspaceId: string): string | undefined {
  const ws = lit(workspaceId);
  switch (name) {
    case 'events':
      return `(SELECT id, workspace_id, message_id, type, event, name, category, user_id, anonymous_id, group_id,
        previous_id, instance_id, timestamp, ${seconds('original_timestamp_ms')} AS original_timestamp,
        ${seconds('sent_at_ms')} AS sent_at, received_at, properties, traits, context, integrations, source
        FROM events FINAL WHERE workspace_id = ${ws} AND ${committed()})`;
    case 'persons':
      // As the embedded table: persons that have traits (an empty object is none), deleted ones gone.
      return `(SELECT workspace_id, person_id, t AS traits FROM (${latest('persons', ws, 'person_id', { t: 'traits', del: 'deleted' })})
        WHERE del = 0 AND t != '{}')`;
    case 'identities':
      return `(SELECT workspace_id, id, p AS person_id, u AS is_user FROM (${latest('identities', ws, 'id', { p: 'person_id', u: 'is_user' })}))`;
    case 'group_profiles':
      return `(SELECT workspace_id, group_id, t AS traits, ${seconds('f')} AS first_seen, ${seconds('l')} AS last_seen
        FROM (${latest('group_profiles', ws, 'group_id', { t: 'traits', f: 'first_ms', l: 'last_ms' })}))`;
    case 'group_members':
      return `(SELECT workspace_id, group_id, member_id, ${seconds('s')} AS since
        FROM (${latest('group_members', ws, 'group_id, member_id', { s: 'since_ms' })}))`;
    case 'rejected':
      return `(SELECT id, workspace_id, ${seconds('received_at_ms')} AS received_at, source, message_id, code, reason,
        payload FROM rejected FINAL WHERE workspace_id = ${ws} AND ${committed()})`;
    default:
      return undefined;
  }
}
