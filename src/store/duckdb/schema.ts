// DuckDB tables. The events table's columns are listed once: DDL, appender order and row mapping follow from it.
import type { DuckDBAppender } from '@duckdb/node-api';
import type { CanonicalEvent, EventRecord, JsonObject } from '../../pipeline/types.ts';
import { date, dateOrNull, type Row, strOrNull, ts } from './db.ts';
import { PROFILE_MIGRATIONS } from './profile-schema.ts';

interface Column {
  name: string;
  sql: string;
  append(a: DuckDBAppender, r: EventRecord): void;
  read(row: Row, e: Partial<CanonicalEvent>): void;
}

const text = (name: string, key: keyof CanonicalEvent, notNull = false): Column => ({
  name,
  sql: notNull ? 'VARCHAR NOT NULL' : 'VARCHAR',
  append: (a, r) => {
    const v = r.event[key] as string | null;
    if (v === null) a.appendNull();
    else a.appendVarchar(v);
  },
  read: (row, e) => {
    (e as Record<string, unknown>)[key] = strOrNull(row[name]);
  },
});

const time = (
  name: string,
  key: 'timestamp' | 'originalTimestamp' | 'sentAt' | 'receivedAt',
  notNull = false,
): Column => ({
  name,
  sql: notNull ? 'TIMESTAMP NOT NULL' : 'TIMESTAMP',
  append: (a, r) => {
    const v = r.event[key];
    if (v === null) a.appendNull();
    else a.appendTimestamp(ts(v));
  },
  read: (row, e) => {
    e[key] = (notNull ? date(row[name]) : dateOrNull(row[name])) as Date;
  },
});

const json = (name: 'properties' | 'traits' | 'context' | 'integrations'): Column => ({
  name,
  sql: 'JSON NOT NULL',
  append: (a, r) => a.appendVarchar(r.json[name]),
  read: (row, e) => {
    e[name] = JSON.parse(String(row[name] ?? '{}')) as JsonObject;
  },
});

export const EVENT_COLUMNS: Column[] = [
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
  json('properties'),
  json('traits'),
  json('context'),
  json('integrations'),
  text('source', 'source', true),
];

export function rowToEvent(row: Row): CanonicalEvent {
  const e: Partial<CanonicalEvent> = {};
  for (const c of EVENT_COLUMNS) c.read(row, e);
  return e as CanonicalEvent;
}

export const MIGRATIONS: string[] = [
  `CREATE TABLE IF NOT EXISTS workspaces (
     id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL UNIQUE, created_at TIMESTAMP NOT NULL, settings JSON)`,
  // Databases created before workspace settings existed; NULL settings read as the defaults.
  'ALTER TABLE workspaces ADD COLUMN IF NOT EXISTS settings JSON',
  `CREATE TABLE IF NOT EXISTS api_keys (
     id VARCHAR PRIMARY KEY, workspace_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, name VARCHAR NOT NULL,
     prefix VARCHAR NOT NULL, hash VARCHAR NOT NULL UNIQUE, created_at TIMESTAMP NOT NULL, revoked_at TIMESTAMP)`,
  `CREATE TABLE IF NOT EXISTS events (${EVENT_COLUMNS.map((c) => `${c.name} ${c.sql}`).join(', ')})`,
  // 128-bit hash of (workspace, messageId): the primary-key index is what makes exactly-once cheap.
  // 128-bit hash of (workspace, messageId) and when it was first accepted: the durable copy of the dedupe
  // memory (keyset.ts). No index: the memory answers lookups, and an index would be rewritten at every
  // checkpoint. Databases from before this table had `dedupe` with a primary key; index.ts moves it over.
  'CREATE TABLE IF NOT EXISTS dedupe_keys (key UHUGEINT NOT NULL, seen_at TIMESTAMP NOT NULL)',
  `CREATE TABLE IF NOT EXISTS rejected (
     id VARCHAR NOT NULL, workspace_id VARCHAR NOT NULL, received_at TIMESTAMP NOT NULL, source VARCHAR NOT NULL,
     message_id VARCHAR, code VARCHAR NOT NULL, reason VARCHAR NOT NULL, payload VARCHAR NOT NULL)`,
  ...PROFILE_MIGRATIONS,
];
