// The tables profile application touches, as the few set-based operations it needs: what an engine implements
// so that apply.ts (the decisions) and cache.ts (the in-memory copies) run on it unchanged. Every call is for
// one workspace and takes its values as lists, so an engine can run it as one statement; values are plain JS
// (times in ms), trait states are JSON text as stored (profiles/traits.ts TraitNode).

/** A stored id and its person (identities table). */
export interface IdentityRow {
  id: string;
  person: string;
  /** Whether the id was ever seen as a userId. */
  isUser: boolean;
}

/** A person that has ids: how many, and whether its own (canonical) id is a userId. */
export interface PersonSize {
  person: string;
  size: number;
  isUser: boolean;
}

/** New identities, one per index of the lists. */
export interface NewIdentities {
  ids: string[];
  persons: string[];
  isUser: boolean[];
}

/** Refused links, one per index; a pair (a, b) already refused keeps its first refusal. */
export interface Refusals {
  a: string[];
  b: string[];
  messageIds: string[];
  /** ms */
  at: number[];
  reasons: string[];
}

/** Persons' rows to write: merge state and the traits it stands for (materialize), both JSON text. */
export interface PersonStates {
  persons: string[];
  states: string[];
  traits: string[];
}

/** Groups' rows to write; an existing group keeps the earliest first and the latest last time. */
export interface GroupStates {
  groups: string[];
  states: string[];
  traits: string[];
  /** ms */
  first: number[];
  /** ms */
  last: number[];
}

/** Memberships to write; an existing one keeps the earliest `since`. */
export interface Memberships {
  groups: string[];
  members: string[];
  /** ms */
  since: number[];
}

/** The rows the caches copy (cache.ts), with their workspace. */
export interface CachedRows {
  identities: IdentityRow & { workspace: string };
  persons: { workspace: string; person: string; state: string };
}
export type CachedTable = keyof CachedRows;

export interface ProfilePort {
  /** The stored identities among `ids`. */
  identities(ws: string, ids: string[]): Promise<IdentityRow[]>;
  /** Size and kind of each of `persons` that has ids. */
  personSizes(ws: string, persons: string[]): Promise<PersonSize[]>;
  insertIdentities(ws: string, rows: NewIdentities): Promise<void>;
  /** Marks stored ids as seen as a userId. */
  markUsers(ws: string, ids: string[]): Promise<void>;
  /**
   * Moves every id of person from[i] to person to[i], each by the person it had before the call (a target is
   * never moved on); returns the moved identities as they are now.
   */
  remapPersons(ws: string, from: string[], to: string[]): Promise<IdentityRow[]>;
  insertRefusals(ws: string, rows: Refusals): Promise<void>;
  /** The stored trait states of those of `persons` that have one. */
  traitStates(ws: string, persons: string[]): Promise<Array<{ person: string; state: string }>>;
  deletePersons(ws: string, persons: string[]): Promise<void>;
  /** Inserts the persons, or replaces their state and traits. */
  upsertPersons(ws: string, rows: PersonStates): Promise<void>;
  /** The stored trait states of those of `groups` that have a row. */
  groupStates(ws: string, groups: string[]): Promise<Array<{ group: string; state: string }>>;
  upsertGroups(ws: string, rows: GroupStates): Promise<void>;
  upsertMembers(ws: string, rows: Memberships): Promise<void>;
  /** Rows of a cached table, every workspace. */
  countRows(table: CachedTable): Promise<number>;
  scanRows<T extends CachedTable>(table: T): Promise<Array<CachedRows[T]>>;
}
