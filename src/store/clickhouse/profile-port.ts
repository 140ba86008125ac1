// The profile tables for profiles/apply.ts (the ProfilePort) on ClickHouse, staged: reads see the committed rows
// (lane 0's, at or below its checkpoint: load.ts) under the batch's own changes, and the changes are written by
// flush(), as new versions carrying the version's seq, before the load's commit (load.ts). ClickHouse has no transactions and
// its UPDATE is an asynchronous mutation, so nothing here is changed in place.
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
import { type ClickHouse, lit, litList } from './http.ts';
import { committed } from './schema.ts';

interface Person {
  state: string;
  traits: string;
  deleted: boolean;
}
interface Group {
  state: string;
  traits: string;
  first: number;
  last: number;
}
interface Refusal {
  a: string;
  b: string;
  messageId: string;
  at: number;
  reason: string;
}

/** The latest committed version of each identity row matching `where` (a condition on the raw rows). */
const currentIdentities = (ws: string, cp: number, where: string) =>
  `SELECT id, p AS person_id, u AS is_user FROM (SELECT id, argMax(person_id, seq) AS p, argMax(is_user, seq) AS u
   FROM identities WHERE workspace_id = ${lit(ws)} AND ${committed([cp])} AND ${where} GROUP BY id)`;

/** Per workspace, per key. */
class Staged<V> {
  readonly map = new Map<string, Map<string, V>>();
  of(ws: string): Map<string, V> {
    let m = this.map.get(ws);
    if (!m) {
      m = new Map();
      this.map.set(ws, m);
    }
    return m;
  }
}

export class ClickHouseProfilePort implements ProfilePort {
  private readonly ids = new Staged<IdentityRow>();
  private readonly persons = new Staged<Person>();
  private readonly groups = new Staged<Group>();
  private readonly members = new Staged<{ group: string; member: string; since: number }>();
  private readonly refusals = new Staged<Refusal>();

  constructor(
    private readonly ch: ClickHouse,
    /** Lane 0's checkpoint, where profile versions are: committed rows are those at or below it. */
    private readonly cp: number,
  ) {}

  private async committedIds(ws: string, where: string): Promise<IdentityRow[]> {
    const rows = await this.ch.rows(currentIdentities(ws, this.cp, where));
    return rows.map((r) => ({
      id: String(r.id),
      person: String(r.person_id),
      isUser: Number(r.is_user) === 1,
    }));
  }

  async identities(ws: string, ids: string[]): Promise<IdentityRow[]> {
    const staged = this.ids.of(ws);
    const out = ids.flatMap((id) => staged.get(id) ?? []);
    const rest = ids.filter((id) => !staged.has(id));
    if (rest.length > 0) out.push(...(await this.committedIds(ws, `id IN ${litList(rest)}`)));
    return out.map((r) => ({ ...r }));
  }

  /** Every identity of `persons` as it stands with this batch's changes. */
  private async members_(ws: string, persons: string[]): Promise<IdentityRow[]> {
    const wanted = new Set(persons);
    const staged = this.ids.of(ws);
    // Ids that ever belonged to one of them, at their latest version.
    const committed = await this.committedIds(
      ws,
      `id IN (SELECT id FROM identities WHERE workspace_id = ${lit(ws)} AND person_id IN ${litList(persons)})`,
    );
    const out = new Map<string, IdentityRow>();
    for (const r of committed) if (!staged.has(r.id) && wanted.has(r.person)) out.set(r.id, r);
    for (const r of staged.values()) if (wanted.has(r.person)) out.set(r.id, r);
    return [...out.values()];
  }

  async personSizes(ws: string, persons: string[]): Promise<PersonSize[]> {
    const sizes = new Map<string, PersonSize>();
    for (const r of await this.members_(ws, persons)) {
      const p = sizes.get(r.person) ?? { person: r.person, size: 0, isUser: false };
      p.size++;
      if (r.isUser && r.id === r.person) p.isUser = true;
      sizes.set(r.person, p);
    }
    return [...sizes.values()];
  }

  async insertIdentities(ws: string, rows: NewIdentities): Promise<void> {
    const staged = this.ids.of(ws);
    rows.ids.forEach((id, i) => {
      staged.set(id, { id, person: rows.persons[i] as string, isUser: rows.isUser[i] === true });
    });
  }

  async markUsers(ws: string, ids: string[]): Promise<void> {
    const staged = this.ids.of(ws);
    for (const r of await this.identities(ws, ids)) staged.set(r.id, { ...r, isUser: true });
  }

  async remapPersons(ws: string, from: string[], to: string[]): Promise<IdentityRow[]> {
    const target = new Map(from.map((f, i) => [f, to[i] as string]));
    const staged = this.ids.of(ws);
    const moved: IdentityRow[] = [];
    for (const r of await this.members_(ws, from)) {
      const row = { ...r, person: target.get(r.person) as string };
      staged.set(r.id, row);
      moved.push({ ...row });
    }
    return moved;
  }

  async insertRefusals(ws: string, rows: Refusals): Promise<void> {
    const staged = this.refusals.of(ws);
    const keys = rows.a.map((a, i) => [a, rows.b[i] as string] as const);
    const pairs = keys.map(([a, b]) => `(${lit(a)}, ${lit(b)})`).join(', ');
    const known = new Set(
      (
        await this.ch.rows(
          `SELECT DISTINCT a, b FROM identity_refusals WHERE workspace_id = ${lit(ws)} AND ${committed([this.cp])}
           AND (a, b) IN (${pairs})`,
        )
      ).map((r) => `${r.a}\0${r.b}`),
    );
    keys.forEach(([a, b], i) => {
      const k = `${a}\0${b}`;
      if (known.has(k) || staged.has(k)) return;
      staged.set(k, {
        a,
        b,
        messageId: rows.messageIds[i] as string,
        at: rows.at[i] as number,
        reason: rows.reasons[i] as string,
      });
    });
  }

  async traitStates(ws: string, persons: string[]): Promise<Array<{ person: string; state: string }>> {
    const staged = this.persons.of(ws);
    const out: Array<{ person: string; state: string }> = [];
    const rest: string[] = [];
    for (const p of persons) {
      const s = staged.get(p);
      if (s === undefined) rest.push(p);
      else if (!s.deleted) out.push({ person: p, state: s.state });
    }
    if (rest.length > 0) {
      const rows = await this.ch.rows(
        `SELECT person_id, s AS state FROM (
           SELECT person_id, argMax(state, seq) AS s, argMax(deleted, seq) AS del FROM persons
           WHERE workspace_id = ${lit(ws)} AND ${committed([this.cp])} AND person_id IN ${litList(rest)} GROUP BY person_id
         ) WHERE del = 0`,
      );
      for (const r of rows) out.push({ person: String(r.person_id), state: String(r.state) });
    }
    return out;
  }

  async deletePersons(ws: string, persons: string[]): Promise<void> {
    const staged = this.persons.of(ws);
    for (const p of persons) staged.set(p, { state: '{}', traits: '{}', deleted: true });
  }

  async upsertPersons(ws: string, rows: PersonStates): Promise<void> {
    const staged = this.persons.of(ws);
    rows.persons.forEach((p, i) => {
      staged.set(p, { state: rows.states[i] as string, traits: rows.traits[i] as string, deleted: false });
    });
  }

  private async committedGroups(ws: string, groups: string[]): Promise<Map<string, Group>> {
    const rows = await this.ch.rows(
      `SELECT group_id, argMax(state, seq) AS s, argMax(traits, seq) AS t, min(first_ms) AS f, max(last_ms) AS l
       FROM group_profiles WHERE workspace_id = ${lit(ws)} AND ${committed([this.cp])} AND group_id IN ${litList(groups)}
       GROUP BY group_id`,
    );
    return new Map(
      rows.map((r) => [
        String(r.group_id),
        { state: String(r.s), traits: String(r.t), first: Number(r.f), last: Number(r.l) },
      ]),
    );
  }

  async groupStates(ws: string, groups: string[]): Promise<Array<{ group: string; state: string }>> {
    const staged = this.groups.of(ws);
    const rest = groups.filter((g) => !staged.has(g));
    const committed = rest.length > 0 ? await this.committedGroups(ws, rest) : new Map<string, Group>();
    return groups.flatMap((g) => {
      const s = staged.get(g) ?? committed.get(g);
      return s ? [{ group: g, state: s.state }] : [];
    });
  }

  async upsertGroups(ws: string, rows: GroupStates): Promise<void> {
    const staged = this.groups.of(ws);
    const committed = await this.committedGroups(ws, rows.groups);
    rows.groups.forEach((g, i) => {
      const before = staged.get(g) ?? committed.get(g);
      const first = rows.first[i] as number;
      const last = rows.last[i] as number;
      staged.set(g, {
        state: rows.states[i] as string,
        traits: rows.traits[i] as string,
        first: before ? Math.min(before.first, first) : first,
        last: before ? Math.max(before.last, last) : last,
      });
    });
  }

  async upsertMembers(ws: string, rows: Memberships): Promise<void> {
    const staged = this.members.of(ws);
    const pairs = rows.groups.map((g, i) => `(${lit(g)}, ${lit(rows.members[i] as string)})`).join(', ');
    const stored = new Map(
      (
        await this.ch.rows(
          `SELECT group_id, member_id, min(since_ms) AS since FROM group_members
           WHERE workspace_id = ${lit(ws)} AND ${committed([this.cp])} AND (group_id, member_id) IN (${pairs})
           GROUP BY group_id, member_id`,
        )
      ).map((r) => [`${r.group_id}\0${r.member_id}`, Number(r.since)]),
    );
    rows.groups.forEach((group, i) => {
      const member = rows.members[i] as string;
      const k = `${group}\0${member}`;
      const since = rows.since[i] as number;
      const before = staged.get(k)?.since ?? stored.get(k);
      staged.set(k, { group, member, since: before === undefined ? since : Math.min(before, since) });
    });
  }

  // The caches (profiles/cache.ts) are not kept across loads on ClickHouse: other nodes change the tables
  // (deletions), so each load starts from an empty, incomplete cache and these are not used.
  async countRows(_table: CachedTable): Promise<number> {
    return Number.MAX_SAFE_INTEGER;
  }
  async scanRows<T extends CachedTable>(_table: T): Promise<Array<CachedRows[T]>> {
    return [];
  }

  /** Writes the batch's changes as versions at `seq`. */
  async flush(seq: number): Promise<void> {
    const ids = [...this.ids.map].flatMap(([ws, m]) =>
      [...m.values()].map((r) => ({
        workspace_id: ws,
        id: r.id,
        person_id: r.person,
        is_user: r.isUser ? 1 : 0,
        deleted: 0,
        seq,
      })),
    );
    const persons = [...this.persons.map].flatMap(([ws, m]) =>
      [...m].map(([p, s]) => ({
        workspace_id: ws,
        person_id: p,
        state: s.state,
        traits: s.traits,
        deleted: s.deleted ? 1 : 0,
        seq,
      })),
    );
    const groups = [...this.groups.map].flatMap(([ws, m]) =>
      [...m].map(([g, s]) => ({
        workspace_id: ws,
        group_id: g,
        state: s.state,
        traits: s.traits,
        first_ms: s.first,
        last_ms: s.last,
        seq,
      })),
    );
    const members = [...this.members.map].flatMap(([ws, m]) =>
      [...m.values()].map((r) => ({
        workspace_id: ws,
        group_id: r.group,
        member_id: r.member,
        since_ms: r.since,
        seq,
      })),
    );
    const refusals = [...this.refusals.map].flatMap(([ws, m]) =>
      [...m.values()].map((r) => ({
        workspace_id: ws,
        a: r.a,
        b: r.b,
        message_id: r.messageId,
        refused_ms: r.at,
        reason: r.reason,
        seq,
      })),
    );
    await this.ch.insert('identities', ids);
    await this.ch.insert('persons', persons);
    await this.ch.insert('group_profiles', groups);
    await this.ch.insert('group_members', members);
    await this.ch.insert('identity_refusals', refusals);
  }
}
