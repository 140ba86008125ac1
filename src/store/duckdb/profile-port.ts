// The profile tables for profiles/apply.ts and profiles/cache.ts (the ProfilePort): one statement per call,
// each list bound as one parameter and unnested in DuckDB, so a batch costs a few statements per workspace.
// A list is bound as one JSON text, not as a DuckDB LIST: binding a list converts each item in JavaScript on the
// main thread (20,000 new ids: ~40 ms holding the event loop, 3.8 µs of CPU an id), a text is one value and
// DuckDB unnests it on its own threads (2-3× less CPU in all).
import type {
  CachedRows,
  CachedTable,
  GroupStates,
  IdentityRow,
  Memberships,
  NewIdentities,
  PersonSize,
  PersonStates,
  ProfilePort,
  Refusals,
} from '../../profiles/port.ts';
import type { Db, Row } from './db.ts';
import { userKeySql } from './user-key.ts';

const IN_LIST = 'IN (SELECT unnest(?::JSON::VARCHAR[]))';
/**
 * A list of strings as JSON text, exactly (NUL and every other character survive `::JSON::VARCHAR[]`). DuckDB's
 * JSON reader refuses a lone surrogate's escape; as a LIST binding did, such strings get U+FFFD in its place.
 */
function texts(xs: readonly string[]): string {
  const json = JSON.stringify(xs);
  return json.includes('\\ud') ? JSON.stringify(xs.map((x) => x.toWellFormed())) : json;
}
/** Times in ms as JSON (integers below 2^53 print exactly). */
const bigints = (ms: number[]) => JSON.stringify(ms);
const identity = (r: Row): IdentityRow => ({
  id: String(r.id),
  person: String(r.person_id),
  isUser: r.is_user === true,
});

/** The cached tables: their row count, their rows, and how a row reads. */
const SCANS: { [T in CachedTable]: { count: string; sql: string; read: (r: Row) => CachedRows[T] } } = {
  identities: {
    count: 'SELECT count(*)::BIGINT AS n FROM identities',
    sql: 'SELECT workspace_id, id, person_id, is_user FROM identities',
    read: (r) => ({ workspace: String(r.workspace_id), ...identity(r) }),
  },
  persons: {
    count: 'SELECT count(*)::BIGINT AS n FROM persons',
    sql: 'SELECT workspace_id, person_id, state FROM persons',
    read: (r) => ({ workspace: String(r.workspace_id), person: String(r.person_id), state: String(r.state) }),
  },
};

export class DuckDBProfilePort implements ProfilePort {
  constructor(private readonly db: Db) {}

  async identities(ws: string, ids: string[]): Promise<IdentityRow[]> {
    const rows = await this.db.all(
      `SELECT id, person_id, is_user FROM identities WHERE workspace_id = ? AND id ${IN_LIST}`,
      [ws, texts(ids)],
    );
    return rows.map(identity);
  }

  async personSizes(ws: string, persons: string[]): Promise<PersonSize[]> {
    const rows = await this.db.all(
      `SELECT person_id, count(*)::BIGINT AS n, bool_or(is_user AND id = person_id) AS person_is_user
       FROM identities WHERE workspace_id = ? AND person_id ${IN_LIST} GROUP BY person_id`,
      [ws, texts(persons)],
    );
    return rows.map((r) => ({
      person: String(r.person_id),
      size: Number(r.n),
      isUser: r.person_is_user === true,
    }));
  }

  async insertIdentities(ws: string, rows: NewIdentities): Promise<void> {
    await this.db.run(
      `INSERT INTO identities (workspace_id, id, person_id, is_user, id_key, person_key)
       SELECT w, i, p, u, ${userKeySql('w', 'i')}, ${userKeySql('w', 'p')}
       FROM (SELECT ?::VARCHAR AS w, unnest(?::JSON::VARCHAR[]) AS i, unnest(?::JSON::VARCHAR[]) AS p,
               unnest(?::JSON::BOOLEAN[]) AS u)`,
      [ws, texts(rows.ids), texts(rows.persons), JSON.stringify(rows.isUser)],
    );
  }

  async markUsers(ws: string, ids: string[]): Promise<void> {
    await this.db.run(`UPDATE identities SET is_user = true WHERE workspace_id = ? AND id ${IN_LIST}`, [
      ws,
      texts(ids),
    ]);
  }

  async remapPersons(ws: string, from: string[], to: string[]): Promise<IdentityRow[]> {
    const rows = await this.db.all(
      `UPDATE identities SET person_id = m.to_p, person_key = ${userKeySql('identities.workspace_id', 'm.to_p')}
       FROM (SELECT unnest(?::JSON::VARCHAR[]) AS from_p, unnest(?::JSON::VARCHAR[]) AS to_p) m
       WHERE identities.workspace_id = ? AND identities.person_id = m.from_p
       RETURNING identities.id, identities.person_id, identities.is_user`,
      [texts(from), texts(to), ws],
    );
    return rows.map(identity);
  }

  async insertRefusals(ws: string, rows: Refusals): Promise<void> {
    await this.db.run(
      `INSERT INTO identity_refusals SELECT ?, unnest(?::JSON::VARCHAR[]), unnest(?::JSON::VARCHAR[]), unnest(?::JSON::VARCHAR[]),
         epoch_ms(unnest(?::JSON::BIGINT[])), unnest(?::JSON::VARCHAR[])
       ON CONFLICT DO NOTHING`,
      [ws, texts(rows.a), texts(rows.b), texts(rows.messageIds), bigints(rows.at), texts(rows.reasons)],
    );
  }

  async traitStates(ws: string, persons: string[]): Promise<Array<{ person: string; state: string }>> {
    const rows = await this.db.all(
      `SELECT person_id, state FROM persons WHERE workspace_id = ? AND person_id ${IN_LIST}`,
      [ws, texts(persons)],
    );
    return rows.map((r) => ({ person: String(r.person_id), state: String(r.state) }));
  }

  async deletePersons(ws: string, persons: string[]): Promise<void> {
    await this.db.run(`DELETE FROM persons WHERE workspace_id = ? AND person_id ${IN_LIST}`, [
      ws,
      texts(persons),
    ]);
  }

  async upsertPersons(ws: string, rows: PersonStates): Promise<void> {
    await this.db.run(
      `INSERT INTO persons SELECT ?, unnest(?::JSON::VARCHAR[]), unnest(?::JSON::VARCHAR[]), unnest(?::JSON::VARCHAR[])
       ON CONFLICT (workspace_id, person_id) DO UPDATE SET state = excluded.state, traits = excluded.traits`,
      [ws, texts(rows.persons), texts(rows.states), texts(rows.traits)],
    );
  }

  async groupStates(ws: string, groups: string[]): Promise<Array<{ group: string; state: string }>> {
    const rows = await this.db.all(
      `SELECT group_id, state FROM group_profiles WHERE workspace_id = ? AND group_id ${IN_LIST}`,
      [ws, texts(groups)],
    );
    return rows.map((r) => ({ group: String(r.group_id), state: String(r.state) }));
  }

  async upsertGroups(ws: string, rows: GroupStates): Promise<void> {
    await this.db.run(
      `INSERT INTO group_profiles SELECT ?, unnest(?::JSON::VARCHAR[]), unnest(?::JSON::VARCHAR[]), unnest(?::JSON::VARCHAR[]),
         epoch_ms(unnest(?::JSON::BIGINT[])), epoch_ms(unnest(?::JSON::BIGINT[]))
       ON CONFLICT (workspace_id, group_id) DO UPDATE SET state = excluded.state, traits = excluded.traits,
         first_seen = least(group_profiles.first_seen, excluded.first_seen),
         last_seen = greatest(group_profiles.last_seen, excluded.last_seen)`,
      [
        ws,
        texts(rows.groups),
        texts(rows.states),
        texts(rows.traits),
        bigints(rows.first),
        bigints(rows.last),
      ],
    );
  }

  async upsertMembers(ws: string, rows: Memberships): Promise<void> {
    await this.db.run(
      `INSERT INTO group_members SELECT ?, unnest(?::JSON::VARCHAR[]), unnest(?::JSON::VARCHAR[]), epoch_ms(unnest(?::JSON::BIGINT[]))
       ON CONFLICT (workspace_id, group_id, member_id) DO UPDATE SET since = least(group_members.since, excluded.since)`,
      [ws, texts(rows.groups), texts(rows.members), bigints(rows.since)],
    );
  }

  async countRows(table: CachedTable): Promise<number> {
    return Number((await this.db.all(SCANS[table].count))[0]?.n ?? 0);
  }

  async scanRows<T extends CachedTable>(table: T): Promise<Array<CachedRows[T]>> {
    const scan = SCANS[table] as { sql: string; read: (r: Row) => CachedRows[T] };
    return (await this.db.all(scan.sql)).map(scan.read);
  }
}
