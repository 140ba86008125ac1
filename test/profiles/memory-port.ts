// The ProfilePort (src/profiles/port.ts) as plain Maps keyed by each table's primary key, written for being
// obviously right, not fast: the reference the DuckDB port is checked against (port.test.ts).
import type { CachedRows, IdentityRow, PersonSize, ProfilePort } from '../../src/profiles/port.ts';

export interface Tables {
  identities: Array<{ workspace: string; id: string; person: string; isUser: boolean }>;
  persons: Array<{ workspace: string; person: string; state: string; traits: string }>;
  groups: Array<{
    workspace: string;
    group: string;
    state: string;
    traits: string;
    first: number;
    last: number;
  }>;
  members: Array<{ workspace: string; group: string; member: string; since: number }>;
  refusals: Array<{ workspace: string; a: string; b: string; messageId: string; at: number; reason: string }>;
}

type Row<T extends keyof Tables> = Tables[T][number];
const key = (...parts: string[]) => parts.join('\0');

/** A port over empty tables; `tables()` reads every table's rows, in a fixed order. */
export function memoryPort(): ProfilePort & { tables(): Tables } {
  const t: { [T in keyof Tables]: Map<string, Row<T>> } = {
    identities: new Map(),
    persons: new Map(),
    groups: new Map(),
    members: new Map(),
    refusals: new Map(),
  };
  const inWorkspace = (ws: string) => [...t.identities.values()].filter((r) => r.workspace === ws);
  return {
    tables: () => ({
      identities: sorted(t.identities.values()),
      persons: sorted(t.persons.values()),
      groups: sorted(t.groups.values()),
      members: sorted(t.members.values()),
      refusals: sorted(t.refusals.values()),
    }),

    async identities(ws, ids) {
      return ids.flatMap((id) => {
        const r = t.identities.get(key(ws, id));
        return r ? [{ id: r.id, person: r.person, isUser: r.isUser }] : [];
      });
    },

    async personSizes(ws, persons) {
      const out: PersonSize[] = [];
      for (const person of new Set(persons)) {
        const ids = inWorkspace(ws).filter((r) => r.person === person);
        if (ids.length > 0)
          out.push({ person, size: ids.length, isUser: ids.some((r) => r.isUser && r.id === person) });
      }
      return out;
    },

    async insertIdentities(ws, rows) {
      rows.ids.forEach((id, i) => {
        if (t.identities.has(key(ws, id))) throw new Error(`identity ${ws}/${id} exists`);
        const person = rows.persons[i] as string;
        t.identities.set(key(ws, id), { workspace: ws, id, person, isUser: rows.isUser[i] as boolean });
      });
    },

    async markUsers(ws, ids) {
      for (const id of ids) {
        const r = t.identities.get(key(ws, id));
        if (r) r.isUser = true;
      }
    },

    async remapPersons(ws, from, to) {
      // Each row moves at most once, by its person before the call (as one UPDATE does).
      const target = new Map(from.map((f, i) => [f, to[i] as string]));
      const moved: IdentityRow[] = [];
      for (const r of inWorkspace(ws)) {
        const p = target.get(r.person);
        if (p === undefined) continue;
        r.person = p;
        moved.push({ id: r.id, person: r.person, isUser: r.isUser });
      }
      return moved;
    },

    async insertRefusals(ws, rows) {
      rows.a.forEach((a, i) => {
        const b = rows.b[i] as string;
        if (t.refusals.has(key(ws, a, b))) return;
        const [messageId, reason] = [rows.messageIds[i], rows.reasons[i]] as [string, string];
        t.refusals.set(key(ws, a, b), { workspace: ws, a, b, messageId, at: rows.at[i] as number, reason });
      });
    },

    async traitStates(ws, persons) {
      return persons.flatMap((person) => {
        const r = t.persons.get(key(ws, person));
        return r ? [{ person, state: r.state }] : [];
      });
    },

    async deletePersons(ws, persons) {
      for (const p of persons) t.persons.delete(key(ws, p));
    },

    async upsertPersons(ws, rows) {
      rows.persons.forEach((person, i) => {
        const [state, traits] = [rows.states[i], rows.traits[i]] as [string, string];
        t.persons.set(key(ws, person), { workspace: ws, person, state, traits });
      });
    },

    async groupStates(ws, groups) {
      return groups.flatMap((group) => {
        const r = t.groups.get(key(ws, group));
        return r ? [{ group, state: r.state }] : [];
      });
    },

    async upsertGroups(ws, rows) {
      rows.groups.forEach((group, i) => {
        const old = t.groups.get(key(ws, group));
        const [state, traits] = [rows.states[i], rows.traits[i]] as [string, string];
        const first = Math.min(rows.first[i] as number, old?.first ?? Infinity);
        const last = Math.max(rows.last[i] as number, old?.last ?? -Infinity);
        t.groups.set(key(ws, group), { workspace: ws, group, state, traits, first, last });
      });
    },

    async upsertMembers(ws, rows) {
      rows.groups.forEach((group, i) => {
        const member = rows.members[i] as string;
        const old = t.members.get(key(ws, group, member));
        const since = Math.min(rows.since[i] as number, old?.since ?? Infinity);
        t.members.set(key(ws, group, member), { workspace: ws, group, member, since });
      });
    },

    async countRows(table) {
      return t[table].size;
    },

    async scanRows<T extends keyof CachedRows>(table: T) {
      const rows: Array<CachedRows[keyof CachedRows]> =
        table === 'identities'
          ? [...t.identities.values()].map((r) => ({ ...r }))
          : [...t.persons.values()].map(({ workspace, person, state }) => ({ workspace, person, state }));
      return rows as Array<CachedRows[T]>;
    },
  };
}

/** Rows in a fixed order, whatever order they were stored in. */
export function sorted<R>(rows: Iterable<R>): R[] {
  return [...rows]
    .map((r) => [JSON.stringify(r), r] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, r]) => r);
}
