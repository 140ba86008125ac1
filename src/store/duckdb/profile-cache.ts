// In-memory copies of the identities table (id → person) and of the persons' trait states, so a batch whose
// ids and persons are known needs no lookup query (those are scans in DuckDB: it has no index join). They
// change only after the ingest transaction commits, so they never hold what a rollback undid. While a copy
// holds every row ("complete"), a key missing from it has no row; past `limit` entries it is dropped, and
// misses are then looked up in the database.
import type { Db, Row } from './db.ts';

export interface CachedId {
  person: string;
  isUser: boolean;
}

/** [workspace, key, value]; a null value removes the key. */
export type CacheUpdate<V> = [workspaceId: string, key: string, value: V | null];

export class TableCache<V> {
  /** workspace → key → value. */
  private map = new Map<string, Map<string, V>>();
  private size = 0;
  /** True while every row of the table is here. */
  complete = false;

  constructor(
    private readonly table: 'identities' | 'persons',
    private readonly columns: string,
    private readonly read: (r: Row) => [string, string, V],
    private readonly limit: number,
  ) {}

  get(ws: string, key: string): V | undefined {
    return this.map.get(ws)?.get(key);
  }

  /** One workspace's entries, for many lookups in a row; valid until the next remember or apply. */
  scope(ws: string): ReadonlyMap<string, V> | undefined {
    return this.map.get(ws);
  }

  /** Loads every row when there are at most `limit`; otherwise starts empty and incomplete. */
  async load(db: Db): Promise<void> {
    this.drop();
    const n = Number((await db.all(`SELECT count(*)::BIGINT AS n FROM ${this.table}`))[0]?.n ?? 0);
    if (n > this.limit) return;
    for (const r of await db.all(`SELECT ${this.columns} FROM ${this.table}`)) this.set(...this.read(r));
    this.complete = true;
  }

  /** Records a row read from the database (true whether or not the current transaction commits). */
  remember(ws: string, key: string, value: V): void {
    if (this.size >= this.limit) this.drop();
    this.set(ws, key, value);
  }

  /** Applies a committed transaction's changes. */
  apply(updates: CacheUpdate<V>[]): void {
    if (this.size + updates.length > this.limit) this.drop();
    for (const [ws, key, value] of updates) {
      if (value === null) this.remove(ws, key);
      else this.set(ws, key, value);
    }
  }

  private set(ws: string, key: string, value: V): void {
    let m = this.map.get(ws);
    if (!m) {
      m = new Map();
      this.map.set(ws, m);
    }
    const before = m.size;
    m.set(key, value);
    this.size += m.size - before;
  }

  private remove(ws: string, key: string): void {
    const m = this.map.get(ws);
    if (m?.delete(key)) this.size--;
  }

  private drop(): void {
    this.map.clear();
    this.size = 0;
    this.complete = false;
  }
}

export interface ProfileChanges {
  identities: CacheUpdate<CachedId>[];
  /** Trait states as stored (JSON text). */
  traits: CacheUpdate<string>[];
}

export class ProfileCaches {
  readonly identities: TableCache<CachedId>;
  readonly traits: TableCache<string>;

  /** `limit`: most entries in each copy (ids cost about 200 bytes each, trait states their JSON size). */
  constructor(limit = 500_000) {
    this.identities = new TableCache(
      'identities',
      'workspace_id, id, person_id, is_user',
      (r) => [
        String(r.workspace_id),
        String(r.id),
        { person: String(r.person_id), isUser: r.is_user === true },
      ],
      limit,
    );
    this.traits = new TableCache(
      'persons',
      'workspace_id, person_id, state',
      (r) => [String(r.workspace_id), String(r.person_id), String(r.state)],
      limit,
    );
  }

  async load(db: Db): Promise<void> {
    await this.identities.load(db);
    await this.traits.load(db);
  }

  apply(changes: ProfileChanges): void {
    this.identities.apply(changes.identities);
    this.traits.apply(changes.traits);
  }
}
