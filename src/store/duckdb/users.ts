// Reading users (persons) and groups back. A person is the set of identities rows sharing a person_id; its
// activity is the sum over its ids and its traits are the persons row (when it has traits).
import { type DuckDBValue, listValue } from '@duckdb/node-api';
import type { CanonicalEvent } from '../../core/event.ts';
import type { GroupProfile, Page, UserProfile, UserQuery, UserSummary } from '../types.ts';
import { type Db, date, dateOrNull, type Row } from './db.ts';
import { jsonEquals } from './events.ts';
import { orderOf, readPage } from './pages.ts';
import { userSources } from './user-index.ts';
import { IDENTITY_OF } from './user-key.ts';

type PageArgs = { limit: number; offset: number };

/** Persons with their ids, traits and activity; $1 is the workspace, $2 a list of persons or NULL for all. */
const PEOPLE = `
  WITH ids AS (
    SELECT id, person_id, is_user FROM identities
    WHERE workspace_id = $1 AND ($2 IS NULL OR person_id IN (SELECT unnest($2::VARCHAR[])))
  ), activity AS (
    SELECT ids.person_id, min(e.timestamp) AS first_seen, max(e.timestamp) AS last_seen, count(*) AS n
    FROM events e JOIN ids ON ids.id = coalesce(e.user_id, e.anonymous_id)
    WHERE e.workspace_id = $1 GROUP BY ids.person_id
  ), people AS (
    SELECT ids.person_id,
      coalesce(list(ids.id ORDER BY ids.id) FILTER (WHERE ids.is_user), []) AS user_ids,
      coalesce(list(ids.id ORDER BY ids.id) FILTER (WHERE NOT ids.is_user), []) AS anonymous_ids
    FROM ids GROUP BY ids.person_id
  )
  SELECT people.*, a.first_seen, a.last_seen, coalesce(a.n, 0)::BIGINT AS event_count,
    coalesce(p.traits, '{}')::VARCHAR AS traits
  FROM people LEFT JOIN activity a USING (person_id)
    LEFT JOIN persons p ON p.workspace_id = $1 AND p.person_id = people.person_id`;

const toSummary = (r: Row): UserSummary => ({
  id: String(r.person_id),
  userIds: (r.user_ids as unknown[]).map(String),
  anonymousIds: (r.anonymous_ids as unknown[]).map(String),
  traits: JSON.parse(String(r.traits)) as Record<string, unknown>,
  firstSeen: dateOrNull(r.first_seen),
  lastSeen: dateOrNull(r.last_seen),
  eventCount: Number(r.event_count ?? 0),
});

async function summaries(db: Db, ws: string, persons: string[]): Promise<UserSummary[]> {
  if (persons.length === 0) return [];
  const rows = await db.all(PEOPLE, [ws, listValue(persons)]);
  const byId = new Map(rows.map((r) => [String(r.person_id), toSummary(r)]));
  return persons.flatMap((p) => byId.get(p) ?? []);
}

/**
 * The person of `id`, and its key, or null when id is unknown. Lookups scan the 4-byte key columns first
 * (profile-schema.ts): the 10M-event bench set's 2M identities took ~18 ms by workspace and id.
 */
async function personOf(db: Db, ws: string, id: string): Promise<{ person: string; key: number } | null> {
  const rows = await db.all(`SELECT person_id, person_key FROM identities WHERE ${IDENTITY_OF}`, [ws, id]);
  return rows[0] ? { person: String(rows[0].person_id), key: Number(rows[0].person_key) } : null;
}

/** Every id of `id`'s person (none when id is unknown). */
async function personIds(db: Db, ws: string, id: string): Promise<string[]> {
  const of = await personOf(db, ws, id);
  if (!of) return [];
  const rows = await db.all(
    `SELECT id FROM identities WHERE person_key = ${of.key} AND workspace_id = $1 AND person_id = $2`,
    [ws, of.person],
  );
  return rows.map((r) => String(r.id));
}

export async function getUser(db: Db, ws: string, id: string): Promise<UserProfile | null> {
  const person = (await personOf(db, ws, id))?.person ?? null;
  if (person === null) return null;
  const [summary] = await summaries(db, ws, [person]);
  if (!summary) return null;
  const ids = listValue([...summary.userIds, ...summary.anonymousIds]);
  const groups = await db.all(
    `SELECT DISTINCT group_id FROM group_members WHERE workspace_id = ? AND member_id IN (SELECT unnest(?::VARCHAR[]))
     ORDER BY group_id`,
    [ws, ids],
  );
  const refused = await db.all(
    `SELECT * FROM identity_refusals WHERE workspace_id = ?
       AND (a IN (SELECT unnest(?::VARCHAR[])) OR b IN (SELECT unnest(?::VARCHAR[]))) ORDER BY refused_at DESC LIMIT 100`,
    [ws, ids, ids],
  );
  return {
    ...summary,
    groups: groups.map((g) => String(g.group_id)),
    refusedMerges: refused.map((r) => ({
      a: String(r.a),
      b: String(r.b),
      messageId: String(r.message_id),
      at: date(r.refused_at),
      reason: String(r.reason),
    })),
  };
}

export async function listUsers(db: Db, ws: string, q: UserQuery): Promise<Page<UserSummary>> {
  const parts: string[] = [];
  const params: DuckDBValue[] = [ws, null];
  const param = (v: DuckDBValue) => `$${params.push(v)}`;
  if (q.search) {
    const s = param(q.search.toLowerCase());
    const traits = ['email', 'name', 'username', 'firstName', 'lastName', 'phone']
      .map((k) => `json_extract_string(traits, '$.${k}')`)
      .join(', ');
    parts.push(`(list_bool_or([contains(lower(x), ${s}) FOR x IN user_ids || anonymous_ids])
      OR contains(lower(concat_ws(' ', ${traits})), ${s}))`);
  }
  // Trait filters follow the JSON-path filter of GET /events.
  for (const t of q.traits) parts.push(jsonEquals('traits', t.path, t.value, param));
  const where = parts.length > 0 ? `WHERE ${parts.join(' AND ')}` : '';
  const base = `SELECT * FROM (${PEOPLE}) ${where}`;
  const page = `${base} ORDER BY last_seen DESC NULLS LAST, person_id LIMIT ${param(q.limit)} OFFSET ${param(q.offset)}`;
  const rows = await db.all(page, params);
  const count = await db.all(`SELECT count(*)::BIGINT AS n FROM (${base})`, params.slice(0, -2));
  return { results: rows.map(toSummary), total: Number(count[0]?.n ?? 0) };
}

/**
 * A person's events: those attributed to one of its ids (the userId, else the anonymousId), newest first, read
 * only in the receive-time ranges the user index gives for the ids' keys (user-index.ts), each range one
 * source: the events there of one of the ids, by its key and the id itself.
 */
export async function listUserEvents(
  db: Db,
  ws: string,
  id: string,
  page: PageArgs,
): Promise<Page<CanonicalEvent> | null> {
  const ids = await personIds(db, ws, id);
  if (ids.length === 0) return null;
  const sources = await userSources(
    db,
    ws,
    ids,
    (who, key) => (bind) =>
      `workspace_id = ${bind(ws)} AND user_key = ${key} AND coalesce(user_id, anonymous_id) = ${bind(who)}`,
  );
  const read = await readPage(db, sources, orderOf('timestamp', 'DESC'), page);
  return { results: read.results, total: read.total ?? 0 };
}

export async function getGroup(db: Db, ws: string, groupId: string): Promise<GroupProfile | null> {
  const rows = await db.all(
    `SELECT g.group_id, g.traits::VARCHAR AS traits, g.first_seen, g.last_seen,
       (SELECT count(DISTINCT coalesce(i.person_id, m.member_id)) FROM group_members m
          LEFT JOIN identities i ON i.workspace_id = m.workspace_id AND i.id = m.member_id
          WHERE m.workspace_id = g.workspace_id AND m.group_id = g.group_id)::BIGINT AS members
     FROM group_profiles g WHERE g.workspace_id = ? AND g.group_id = ?`,
    [ws, groupId],
  );
  const r = rows[0];
  if (!r) return null;
  return {
    id: String(r.group_id),
    traits: JSON.parse(String(r.traits)) as Record<string, unknown>,
    firstSeen: date(r.first_seen),
    lastSeen: date(r.last_seen),
    memberCount: Number(r.members),
  };
}

export async function listGroupUsers(
  db: Db,
  ws: string,
  groupId: string,
  page: PageArgs,
): Promise<Page<UserSummary>> {
  const members = `SELECT DISTINCT i.person_id FROM group_members m
    JOIN identities i ON i.workspace_id = m.workspace_id AND i.id = m.member_id
    WHERE m.workspace_id = ? AND m.group_id = ?`;
  const rows = await db.all(`${members} ORDER BY i.person_id LIMIT ? OFFSET ?`, [
    ws,
    groupId,
    page.limit,
    page.offset,
  ]);
  const count = await db.all(`SELECT count(*)::BIGINT AS n FROM (${members})`, [ws, groupId]);
  const results = await summaries(
    db,
    ws,
    rows.map((r) => String(r.person_id)),
  );
  return { results, total: Number(count[0]?.n ?? 0) };
}
