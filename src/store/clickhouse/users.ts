// Reading users (persons) and groups back from the versioned profile tables: the latest committed version of
// each row (argMax by seq, at or below the checkpoint). A person's summary is assembled here from its ids,
// its events' activity and its traits, a few statements per page.

import type { CanonicalEvent } from '../../core/event.ts';
import type { GroupProfile, Page, UserProfile, UserQuery, UserSummary } from '../types.ts';
import { jsonMatches } from './events.ts';
import { type ClickHouse, lit, litList } from './http.ts';
import { EVENT_SELECT, rowEvent } from './rows.ts';
import { committed, VISIBLE_EVENTS } from './schema.ts';

type PageArgs = { limit: number; offset: number };

/** The current identities of a workspace: id, person_id, is_user. */
export const IDENTITIES = (ws: string) =>
  `(SELECT id, p AS person_id, u AS is_user FROM (SELECT id, argMax(person_id, seq) AS p, argMax(is_user, seq) AS u
    FROM identities WHERE workspace_id = ${lit(ws)} AND ${committed()} GROUP BY id))`;

async function personOf(ch: ClickHouse, ws: string, id: string): Promise<string | null> {
  const rows = await ch.rows(`SELECT person_id FROM ${IDENTITIES(ws)} WHERE id = ${lit(id)}`);
  return rows[0] ? String(rows[0].person_id) : null;
}

/** Summaries of `persons` (null: every person of the workspace), in no order. */
async function summaries(ch: ClickHouse, ws: string, persons: string[] | null): Promise<UserSummary[]> {
  if (persons !== null && persons.length === 0) return [];
  const only = persons === null ? '' : ` WHERE person_id IN ${litList(persons)}`;
  const ids = await ch.rows(`SELECT id, person_id, is_user FROM ${IDENTITIES(ws)}${only} ORDER BY id`);
  const people = new Map<string, UserSummary>();
  const personOfId = new Map<string, string>();
  for (const r of ids) {
    const p = String(r.person_id);
    let s = people.get(p);
    if (!s) {
      s = {
        id: p,
        userIds: [],
        anonymousIds: [],
        traits: {},
        firstSeen: null,
        lastSeen: null,
        eventCount: 0,
      };
      people.set(p, s);
    }
    (Number(r.is_user) === 1 ? s.userIds : s.anonymousIds).push(String(r.id));
    personOfId.set(String(r.id), p);
  }
  if (people.size === 0) return [];
  const idFilter = persons === null ? '' : ` AND actor IN ${litList(personOfId.keys())}`;
  const activity = await ch.rows(
    `SELECT actor, min(timestamp_ms) AS first_ms, max(timestamp_ms) AS last_ms, count() AS n FROM (
       SELECT ifNull(user_id, anonymous_id) AS actor, timestamp_ms FROM ${VISIBLE_EVENTS}
       WHERE workspace_id = ${lit(ws)}) WHERE actor IS NOT NULL${idFilter} GROUP BY actor`,
  );
  for (const r of activity) {
    const s = people.get(personOfId.get(String(r.actor)) ?? '');
    if (!s) continue;
    const first = new Date(Number(r.first_ms));
    const last = new Date(Number(r.last_ms));
    if (s.firstSeen === null || first < s.firstSeen) s.firstSeen = first;
    if (s.lastSeen === null || last > s.lastSeen) s.lastSeen = last;
    s.eventCount += Number(r.n);
  }
  const traits = await ch.rows(
    `SELECT person_id, t AS traits FROM (
       SELECT person_id, argMax(traits, seq) AS t, argMax(deleted, seq) AS del FROM persons
       WHERE workspace_id = ${lit(ws)} AND ${committed()} GROUP BY person_id
     ) WHERE del = 0${persons === null ? '' : ` AND person_id IN ${litList(persons)}`}`,
  );
  for (const r of traits) {
    const s = people.get(String(r.person_id));
    if (s) s.traits = JSON.parse(String(r.traits)) as Record<string, unknown>;
  }
  return [...people.values()];
}

export async function getUser(ch: ClickHouse, ws: string, id: string): Promise<UserProfile | null> {
  const person = await personOf(ch, ws, id);
  if (person === null) return null;
  const [summary] = await summaries(ch, ws, [person]);
  if (!summary) return null;
  const ids = litList([...summary.userIds, ...summary.anonymousIds]);
  const groups = await ch.rows(
    `SELECT DISTINCT group_id FROM group_members WHERE workspace_id = ${lit(ws)} AND ${committed()}
     AND member_id IN ${ids} ORDER BY group_id`,
  );
  const refused = await ch.rows(
    `SELECT a, b, argMin(message_id, seq) AS m, argMin(refused_ms, seq) AS at, argMin(reason, seq) AS why
     FROM identity_refusals WHERE workspace_id = ${lit(ws)} AND ${committed()}
       AND (a IN ${ids} OR b IN ${ids}) GROUP BY a, b ORDER BY at DESC LIMIT 100`,
  );
  return {
    ...summary,
    groups: groups.map((g) => String(g.group_id)),
    refusedMerges: refused.map((r) => ({
      a: String(r.a),
      b: String(r.b),
      messageId: String(r.m),
      at: new Date(Number(r.at)),
      reason: String(r.why),
    })),
  };
}

const SEARCHED = ['email', 'name', 'username', 'firstName', 'lastName', 'phone'];

/** Most recently seen first (never seen last), then by id. */
const byLastSeen = (a: UserSummary, b: UserSummary) => {
  const x = a.lastSeen?.getTime() ?? -Infinity;
  const y = b.lastSeen?.getTime() ?? -Infinity;
  return x !== y ? y - x : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
};

/** Filtered and sorted here: the people of a workspace are read whole (fine for thousands, not millions). */
export async function listUsers(ch: ClickHouse, ws: string, q: UserQuery): Promise<Page<UserSummary>> {
  let all = await summaries(ch, ws, null);
  if (q.search) {
    const s = q.search.toLowerCase();
    all = all.filter(
      (u) =>
        [...u.userIds, ...u.anonymousIds].some((x) => x.toLowerCase().includes(s)) ||
        SEARCHED.map((k) => u.traits[k])
          .filter((v) => v !== null && v !== undefined)
          .map(String)
          .join(' ')
          .toLowerCase()
          .includes(s),
    );
  }
  for (const t of q.traits) all = all.filter((u) => jsonMatches(u.traits, t.path, t.value));
  all.sort(byLastSeen);
  return { results: all.slice(q.offset, q.offset + q.limit), total: all.length };
}

export async function listUserEvents(
  ch: ClickHouse,
  ws: string,
  id: string,
  page: PageArgs,
): Promise<Page<CanonicalEvent> | null> {
  const person = await personOf(ch, ws, id);
  if (person === null) return null;
  const ids = await ch.rows(`SELECT id FROM ${IDENTITIES(ws)} WHERE person_id = ${lit(person)}`);
  const where = `workspace_id = ${lit(ws)} AND ifNull(user_id, anonymous_id) IN ${litList(ids.map((r) => String(r.id)))}`;
  const rows = await ch.rows(
    `SELECT ${EVENT_SELECT} FROM ${VISIBLE_EVENTS} WHERE ${where}
     ORDER BY timestamp_ms DESC, id DESC LIMIT ${page.offset}, ${page.limit}`,
  );
  const n = await ch.rows(`SELECT count() AS n FROM ${VISIBLE_EVENTS} WHERE ${where}`);
  return { results: rows.map(rowEvent), total: Number(n[0]?.n ?? 0) };
}

/** The persons (or ids without a person) that are members of a group, sorted. */
async function groupMembers(ch: ClickHouse, ws: string, groupId: string): Promise<string[]> {
  const rows = await ch.rows(
    `SELECT DISTINCT if(i.person_id = '', m.member_id, i.person_id) AS p FROM (
       SELECT DISTINCT member_id FROM group_members WHERE workspace_id = ${lit(ws)} AND group_id = ${lit(groupId)}
       AND ${committed()}) AS m
     ANY LEFT JOIN (SELECT id AS member_id, person_id FROM ${IDENTITIES(ws)}) AS i USING member_id ORDER BY p`,
  );
  return rows.map((r) => String(r.p));
}

export async function getGroup(ch: ClickHouse, ws: string, groupId: string): Promise<GroupProfile | null> {
  const rows = await ch.rows(
    `SELECT argMax(traits, seq) AS t, min(first_ms) AS f, max(last_ms) AS l FROM group_profiles
     WHERE workspace_id = ${lit(ws)} AND group_id = ${lit(groupId)} AND ${committed()}
     HAVING count() > 0`,
  );
  const r = rows[0];
  if (!r) return null;
  return {
    id: groupId,
    traits: JSON.parse(String(r.t)) as Record<string, unknown>,
    firstSeen: new Date(Number(r.f)),
    lastSeen: new Date(Number(r.l)),
    memberCount: (await groupMembers(ch, ws, groupId)).length,
  };
}

export async function listGroupUsers(
  ch: ClickHouse,
  ws: string,
  groupId: string,
  page: PageArgs,
): Promise<Page<UserSummary>> {
  const members = await groupMembers(ch, ws, groupId);
  const persons = members.slice(page.offset, page.offset + page.limit);
  const byId = new Map((await summaries(ch, ws, persons)).map((s) => [s.id, s]));
  return { results: persons.flatMap((p) => byId.get(p) ?? []), total: members.length };
}
