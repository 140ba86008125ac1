// DuckDB tables. The events table's columns are the canonical columns (core/columns.ts): DDL, the read_json
// column list that loads a log file, and row mapping all follow from that one list.
import { EVENT_COLUMNS as CANONICAL, type EventColumn, REJECTED_FIELD } from '../../core/columns.ts';
import type { CanonicalEvent, JsonObject } from '../../core/event.ts';
import { date, dateOrNull, type Row, strOrNull } from './db.ts';
import { DICTIONARY_MIGRATIONS } from './dictionary.ts';
import { PLAN_MIGRATIONS } from './plans.ts';
import { PROFILE_MIGRATIONS } from './profile-schema.ts';
import { ROW_USER_KEY } from './user-key.ts';

interface Column {
  name: string;
  sql: string;
  /** Its type in a log line, as read_json reads it. */
  lineType: string;
  /** The expression that turns the line's value into the column's. */
  fromLine: string;
  /** The portable load path (load.ts): the type of the bound list, a value of it, and the column from it. */
  listType: 'VARCHAR' | 'BIGINT';
  toList(e: CanonicalEvent): string | bigint | null;
  fromList(x: string): string;
  read(row: Row, e: Partial<CanonicalEvent>): void;
}

function column(f: EventColumn): Column {
  const notNull = f.notNull ? ' NOT NULL' : '';
  const set = (e: Partial<CanonicalEvent>, v: unknown) => {
    (e as Record<string, unknown>)[f.key] = v;
  };
  switch (f.kind) {
    case 'text':
      return {
        name: f.column,
        sql: `VARCHAR${notNull}`,
        lineType: 'VARCHAR',
        fromLine: f.column,
        listType: 'VARCHAR',
        toList: (e) => e[f.key] as string | null,
        fromList: (x) => x,
        read: (row, e) => set(e, strOrNull(row[f.column])),
      };
    case 'time':
      return {
        name: f.column,
        sql: `TIMESTAMP${notNull}`,
        lineType: 'BIGINT',
        fromLine: `epoch_ms(${f.column})`,
        listType: 'BIGINT',
        toList: (e) => {
          const d = e[f.key];
          return d === null ? null : BigInt(d.getTime());
        },
        fromList: (x) => `epoch_ms(${x})`,
        read: (row, e) => set(e, f.notNull ? date(row[f.column]) : dateOrNull(row[f.column])),
      };
    case 'json':
      return {
        name: f.column,
        sql: 'JSON NOT NULL',
        lineType: 'JSON',
        fromLine: f.column,
        listType: 'VARCHAR',
        toList: (e) => jsonText(e[f.key]),
        // json() re-serializes the text as read_json does (1e+21 becomes 1e21), so both load paths store the same.
        fromList: (x) => `json(${x})`,
        read: (row, e) => set(e, JSON.parse(String(row[f.column] ?? '{}')) as JsonObject),
      };
  }
}

/**
 * JSON text DuckDB accepts: JSON.stringify writes a lone UTF-16 surrogate as a \udXXX escape, which DuckDB's
 * JSON parser refuses, so such values (rare: a substring search finds them) are written again with U+FFFD in
 * its place, as the file log does for its lines (ingest/file/lines.ts).
 */
function jsonText(value: JsonObject): string {
  const text = JSON.stringify(value);
  if (!text.includes('\\ud')) return text;
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'string') return v.toWellFormed();
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const out: JsonObject = {};
    for (const [k, x] of Object.entries(v)) out[k.toWellFormed()] = x;
    return out;
  });
}

export const EVENT_COLUMNS: Column[] = CANONICAL.map(column);

/**
 * The INSERT of events from `select`, a query giving the canonical columns in order under their names: every
 * write of events goes through it, so none forgets the user key (user-key.ts) it adds.
 */
export const insertEvents = (select: string): string =>
  `INSERT INTO events (${EVENT_COLUMNS.map((c) => c.name).join(', ')}, user_key)
   SELECT *, ${ROW_USER_KEY} FROM (${select})`;

/** read_json's `columns` for a log file of rows (core/columns.ts): every event field and the rejection fields (the key is not read). */
export const LINE_COLUMNS: Record<string, string> = {
  ...Object.fromEntries(EVENT_COLUMNS.map((c) => [c.name, c.lineType])),
  [REJECTED_FIELD]: 'INTEGER',
  code: 'VARCHAR',
  reason: 'VARCHAR',
  payload: 'VARCHAR',
  violations: 'JSON',
};

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
  // A key's allowed origins and IPs and its own rate limit, as JSON; NULL (keys made before) reads as none.
  'ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS access JSON',
  // A key's scopes (a JSON array); NULL (keys made before scopes) reads as its kind's preset (workspaces.ts).
  'ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS scopes JSON',
  // A workspace's free-form properties (Trench's workspaces have them); NULL reads as {}.
  'ALTER TABLE workspaces ADD COLUMN IF NOT EXISTS properties JSON',
  `CREATE TABLE IF NOT EXISTS events (${EVENT_COLUMNS.map((c) => `${c.name} ${c.sql}`).join(', ')}, user_key UINTEGER NOT NULL)`,
  // Reads by user filter on it (user-key.ts); databases made before it get it empty, filled by checkUserKeys.
  'ALTER TABLE events ADD COLUMN IF NOT EXISTS user_key UINTEGER',
  // Where each user's events are in time, sorted by user key (user-index.ts).
  'CREATE TABLE IF NOT EXISTS user_index (user_key UINTEGER NOT NULL, received_at TIMESTAMP NOT NULL)',
  // Facts about the database itself (name, value): the probes the user keys were computed with.
  'CREATE TABLE IF NOT EXISTS store_meta (name VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)',
  // Dedupe keys (128-bit md5 of workspace NUL messageId) that the events table cannot give back: tombstones of
  // deleted users' messageIds (seen_at 9999-12-31, never purged), and rows from versions that copied every
  // accepted key here. No index: the memory (ingest/keyset.ts) answers lookups.
  'CREATE TABLE IF NOT EXISTS dedupe_keys (key UHUGEINT NOT NULL, seen_at TIMESTAMP NOT NULL)',
  `CREATE TABLE IF NOT EXISTS rejected (
     id VARCHAR NOT NULL, workspace_id VARCHAR NOT NULL, received_at TIMESTAMP NOT NULL, source VARCHAR NOT NULL,
     message_id VARCHAR, code VARCHAR NOT NULL, reason VARCHAR NOT NULL, payload VARCHAR NOT NULL)`,
  // A tracking plan's violations of a refused item (code INTAKE_ERR_PLAN_VIOLATION); NULL otherwise.
  'ALTER TABLE rejected ADD COLUMN IF NOT EXISTS violations JSON',
  ...PROFILE_MIGRATIONS,
  ...DICTIONARY_MIGRATIONS,
  ...PLAN_MIGRATIONS,
  // The checkpoint: the seq of the last log batch loaded; a batch at or below it is never loaded again.
  'CREATE TABLE IF NOT EXISTS ingest_log (loaded_through BIGINT NOT NULL)',
];
