// The canonical event's columns, and the row form every engine loads: one JSON object a row whose field names
// are the column names, times in epoch milliseconds and the JSON columns as JSON values. The file log writes
// its lines in this form (ingest/file/lines.ts), so an engine that can read NDJSON (DuckDB's read_json) loads
// a segment without the rows passing through JavaScript; the tables of every engine follow from this list.
import type { CanonicalEvent } from './event.ts';

type TextKey =
  | 'id'
  | 'workspaceId'
  | 'messageId'
  | 'type'
  | 'event'
  | 'name'
  | 'category'
  | 'userId'
  | 'anonymousId'
  | 'groupId'
  | 'previousId'
  | 'instanceId'
  | 'source';
type TimeKey = 'timestamp' | 'originalTimestamp' | 'sentAt' | 'receivedAt';
type JsonKey = 'properties' | 'traits' | 'context' | 'integrations';

/** One column of the events table: its name, the CanonicalEvent key it holds, and its kind. */
export type EventColumn =
  | { column: string; key: TextKey & keyof CanonicalEvent; kind: 'text'; notNull: boolean }
  | { column: string; key: TimeKey; kind: 'time'; notNull: boolean }
  | { column: string; key: JsonKey; kind: 'json'; notNull: true };

const text = (column: string, key: TextKey, notNull = false): EventColumn => ({
  column,
  key,
  kind: 'text',
  notNull,
});
const time = (column: string, key: TimeKey, notNull = false): EventColumn => ({
  column,
  key,
  kind: 'time',
  notNull,
});
const json = (column: string, key: JsonKey): EventColumn => ({ column, key, kind: 'json', notNull: true });

/** Every column of an event, in the events table's order. */
export const EVENT_COLUMNS: readonly EventColumn[] = [
  text('id', 'id', true),
  text('workspace_id', 'workspaceId', true),
  text('message_id', 'messageId', true),
  text('type', 'type', true),
  text('event', 'event'),
  text('name', 'name'),
  text('category', 'category'),
  text('user_id', 'userId'),
  text('anonymous_id', 'anonymousId'),
  text('group_id', 'groupId'),
  text('previous_id', 'previousId'),
  text('instance_id', 'instanceId'),
  time('timestamp', 'timestamp', true),
  time('original_timestamp', 'originalTimestamp'),
  time('sent_at', 'sentAt'),
  time('received_at', 'receivedAt', true),
  json('properties', 'properties'),
  json('traits', 'traits'),
  json('context', 'context'),
  json('integrations', 'integrations'),
  text('source', 'source', true),
];

/** The row field holding the event's dedupe key (32 hex digits, core/dedupe.ts); not a column. */
export const KEY_FIELD = 'k';
/** Present (1) on rejection rows only; their fields are REJECTION_COLUMNS (received_at in epoch ms). */
export const REJECTED_FIELD = 'r';
export const REJECTION_COLUMNS = [
  'id',
  'workspace_id',
  'received_at',
  'source',
  'message_id',
  'code',
  'reason',
  'payload',
  // Last: added to existing tables by ALTER TABLE, which appends.
  'violations',
] as const;
