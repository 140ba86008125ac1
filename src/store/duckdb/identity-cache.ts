// An in-memory copy of the identities table (id → person, isUser), so a batch whose ids are all known needs no
// lookup query. It is changed only after the ingest transaction commits, so it never holds what a rollback
// undid. While it holds every stored id ("complete"), an id missing from it is new; past `limit` entries it
// is dropped and rebuilt from lookups, and misses are looked up in the database.
import type { Db } from './db.ts';

export interface CachedId {
  person: string;
  isUser: boolean;
}

export type CacheUpdate = [workspaceId: string, id: string, entry: CachedId];

const key = (ws: string, id: string) => `${ws}\0${id}`;

export class IdentityCache {
  private map = new Map<string, CachedId>();
  /** True while every stored identity is in the map. */
  complete = false;

  /** Most entries kept (about 200 bytes each). Default 500,000. */
  constructor(private readonly limit = 500_000) {}

  get(ws: string, id: string): CachedId | undefined {
    return this.map.get(key(ws, id));
  }

  /** Loads every identity when there are at most `limit` of them; otherwise starts empty and incomplete. */
  async load(db: Db): Promise<void> {
    this.map.clear();
    this.complete = false;
    const n = Number((await db.all('SELECT count(*)::BIGINT AS n FROM identities'))[0]?.n ?? 0);
    if (n > this.limit) return;
    for (const r of await db.all('SELECT workspace_id, id, person_id, is_user FROM identities')) {
      this.map.set(key(String(r.workspace_id), String(r.id)), {
        person: String(r.person_id),
        isUser: r.is_user === true,
      });
    }
    this.complete = true;
  }

  /** Records facts read from the database (true whether or not the current transaction commits). */
  remember(ws: string, id: string, entry: CachedId): void {
    if (this.map.size >= this.limit) this.drop();
    this.map.set(key(ws, id), entry);
  }

  /** Applies a committed transaction's changes. */
  apply(updates: CacheUpdate[]): void {
    if (this.map.size + updates.length > this.limit) this.drop();
    for (const [ws, id, entry] of updates) this.map.set(key(ws, id), entry);
  }

  private drop(): void {
    this.map.clear();
    this.complete = false;
  }
}
