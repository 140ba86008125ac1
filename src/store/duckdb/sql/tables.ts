// The tables a workspace's SQL sees, each one a query over the stored tables filtered to the workspace: Intake's
// (POST /query) and Trench's (POST /queries). check.ts puts these in place of every reference to the name, so no
// query can name a stored table itself, or another workspace's rows. The column lists are the documented interface
// (README "SQL" and "Trench").

/** Stands for the workspace id in the templates; check.ts replaces the constant in the parse tree, never text. */
export const WORKSPACE_PLACEHOLDER = '__intake_workspace__';
const W = `'${WORKSPACE_PLACEHOLDER}'`;

export const EXPOSED_TABLES: Readonly<Record<string, string>> = {
  events: `SELECT id, message_id, type, event, name, category, user_id, anonymous_id, group_id, previous_id,
      instance_id, timestamp, original_timestamp, sent_at, received_at, properties, traits, context,
      integrations, source
    FROM main.events WHERE workspace_id = ${W}`,
  // A person: its canonical id and its traits (persons without traits have no row here; identities lists ids).
  users: `SELECT person_id AS id, traits::JSON AS traits FROM main.persons WHERE workspace_id = ${W}`,
  identities: `SELECT id, person_id, is_user FROM main.identities WHERE workspace_id = ${W}`,
  groups: `SELECT group_id AS id, traits::JSON AS traits, first_seen, last_seen
    FROM main.group_profiles WHERE workspace_id = ${W}`,
  group_members: `SELECT group_id, member_id, since FROM main.group_members WHERE workspace_id = ${W}`,
  rejected: `SELECT id, received_at, source, message_id, code, reason, payload
    FROM main.rejected WHERE workspace_id = ${W}`,
};

/**
 * Trench's `events` table (POST /queries): its column names, `uuid` being the messageId and `parsed_at` the time
 * received. properties, traits and context are JSON text, as in Trench's ClickHouse table (String columns), so
 * its users' JSONExtract* calls (clickhouse.ts) read them as they do there.
 */
export const TRENCH_TABLES: Readonly<Record<string, string>> = {
  events: `SELECT message_id AS uuid, type, event, user_id, group_id, anonymous_id, instance_id,
      CAST(properties AS VARCHAR) AS properties, CAST(traits AS VARCHAR) AS traits,
      CAST(context AS VARCHAR) AS context, timestamp, received_at AS parsed_at
    FROM main.events WHERE workspace_id = ${W}`,
};
