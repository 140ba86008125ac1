// Tables of users, groups, the identity graph and deletion jobs (appended to MIGRATIONS in schema.ts).

/** seen_at of a dedupe key that must never be forgotten (a deleted user's messageId): the purge skips it. */
export const TOMBSTONE_SEEN_AT = "TIMESTAMP '9999-12-31 00:00:00'";

export const PROFILE_MIGRATIONS: string[] = [
  // Every id (userId, anonymousId, alias previousId) and its person, whose id is canonical (profiles/identity.ts).
  // Activity (first/last seen, count) is read from the events themselves, so ingest only writes new ids here.
  `CREATE TABLE IF NOT EXISTS identities (
     workspace_id VARCHAR NOT NULL, id VARCHAR NOT NULL, person_id VARCHAR NOT NULL, is_user BOOLEAN NOT NULL,
     PRIMARY KEY (workspace_id, id))`,
  // Keys of id and person_id (user-key.ts), so lookups by id or person scan a 4-byte column: DuckDB uses no index
  // for them (the primary key's is composite). NULL in rows written around the store (the bench's synthetic
  // identities) until the next open fills them (user-key.ts fillIdentityKeys).
  'ALTER TABLE identities ADD COLUMN IF NOT EXISTS id_key UINTEGER',
  'ALTER TABLE identities ADD COLUMN IF NOT EXISTS person_key UINTEGER',
  // Trait merge state (profiles/traits.ts) and the traits it stands for, as JSON text written by the server
  // (VARCHAR: no re-validation on the ingest path), of persons that have traits.
  `CREATE TABLE IF NOT EXISTS persons (
     workspace_id VARCHAR NOT NULL, person_id VARCHAR NOT NULL, state VARCHAR NOT NULL, traits VARCHAR NOT NULL,
     PRIMARY KEY (workspace_id, person_id))`,
  `CREATE TABLE IF NOT EXISTS group_profiles (
     workspace_id VARCHAR NOT NULL, group_id VARCHAR NOT NULL, state VARCHAR NOT NULL, traits VARCHAR NOT NULL,
     first_seen TIMESTAMP NOT NULL, last_seen TIMESTAMP NOT NULL, PRIMARY KEY (workspace_id, group_id))`,
  // Members are ids (not persons), so merging persons never rewrites memberships.
  `CREATE TABLE IF NOT EXISTS group_members (
     workspace_id VARCHAR NOT NULL, group_id VARCHAR NOT NULL, member_id VARCHAR NOT NULL,
     since TIMESTAMP NOT NULL, PRIMARY KEY (workspace_id, group_id, member_id))`,
  // Links refused because the merged person would exceed the ids-per-person cap (first refusal of each pair).
  `CREATE TABLE IF NOT EXISTS identity_refusals (
     workspace_id VARCHAR NOT NULL, a VARCHAR NOT NULL, b VARCHAR NOT NULL, message_id VARCHAR NOT NULL,
     refused_at TIMESTAMP NOT NULL, reason VARCHAR NOT NULL, PRIMARY KEY (workspace_id, a, b))`,
  // subject (the id asked for) is kept only until the job is done; erased_at is when a purge rewrote the file
  // without the deleted rows (databases made before it get the column from deletions.ts migrateErasure).
  `CREATE TABLE IF NOT EXISTS deletions (
     id VARCHAR PRIMARY KEY, workspace_id VARCHAR NOT NULL, subject VARCHAR, status VARCHAR NOT NULL,
     requested_at TIMESTAMP NOT NULL, started_at TIMESTAMP, finished_at TIMESTAMP,
     events_deleted BIGINT NOT NULL DEFAULT 0, ids_deleted BIGINT NOT NULL DEFAULT 0, error VARCHAR,
     erased_at TIMESTAMP)`,
];
