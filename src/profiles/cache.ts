// In-memory copies of the identities table (id → person) and of the persons' trait states, so a batch whose
// ids and persons are known needs no lookup query (those are scans in DuckDB: it has no index join). They
// change only after the ingest transaction commits, so they never hold what a rollback undid. While a copy
// holds every row ("complete"), a key missing from it has no row; past `limit` entries it is dropped, and
// misses are then looked up in the tables. Rows are read through the ProfilePort (port.ts), whatever the engine.
import type { CachedRows, CachedTable, ProfilePort } from './port.ts';

export interface CachedId {
  person: string;
  isUser: boolean;
}

/** [workspace, key, value]; a null value removes the key. */
export type CacheUpdate<V> = [workspaceId: string, key: string, value: V | null];

export class TableCache<V, T extends CachedTable> {
  /** workspace → key → value. */
  private map = new Map<string, Map<string, V>>();
  private size = 0;
  /** True while every row of the table is here. */
  complete = false;

  constructor(
    private readonly table: T,
    private readonly read: (r: CachedRows[T]) => [string, string, V],
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
  async load(port: ProfilePort): Promise<void> {
    this.drop();
    if ((await port.countRows(this.table)) > this.limit) return;
    for (const r of await port.scanRows(this.table)) this.set(...this.read(r));
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
  readonly identities: TableCache<CachedId, 'identities'>;
  readonly traits: TableCache<string, 'persons'>;

  /** `limit`: most entries in each copy (ids cost about 200 bytes each, trait states their JSON size). */
  constructor(limit = 500_000) {
    this.identities = new TableCache(
      'identities',
      (r) => [r.workspace, r.id, { person: r.person, isUser: r.isUser }],
      limit,
    );
    this.traits = new TableCache('persons', (r) => [r.workspace, r.person, r.state], limit);
  }

  async load(port: ProfilePort): Promise<void> {
    await this.identities.load(port);
    await this.traits.load(port);
  }

  apply(changes: ProfileChanges): void {
    this.identities.apply(changes.identities);
    this.traits.apply(changes.traits);
  }
}
