// The embedded store: one DuckDB file in the data directory.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { ApiKey, EventQuery, Store, Workspace, WorkspaceSettings, WriteBatch } from '../types.ts';
import { Db, ts } from './db.ts';
import { listEvents, listRejected } from './events.ts';
import { MIGRATIONS } from './schema.ts';
import * as ws from './workspaces.ts';
import { writeEvents } from './write.ts';

export interface DuckDBStoreOptions {
  /** Directory for intake.duckdb; ':memory:' for a throwaway database. */
  dataDir: string;
  /** DuckDB memory_limit, e.g. 512MB. */
  memoryLimit?: string;
  threads?: number;
}

export class DuckDBStore implements Store {
  private constructor(
    private readonly instance: DuckDBInstance,
    /** Used by the group committer only: it owns the open ingest transaction. */
    private readonly writer: Db,
    /** Queries and admin changes. */
    private readonly db: Db,
  ) {}

  static async open(opts: DuckDBStoreOptions): Promise<DuckDBStore> {
    let path = ':memory:';
    if (opts.dataDir !== ':memory:') {
      mkdirSync(opts.dataDir, { recursive: true });
      path = join(opts.dataDir, 'intake.duckdb');
    }
    const instance = await DuckDBInstance.create(path, {
      memory_limit: opts.memoryLimit ?? '512MB',
      threads: String(opts.threads ?? 2),
    });
    const writer = new Db(await instance.connect());
    const db = new Db(await instance.connect());
    for (const sql of MIGRATIONS) await db.run(sql);
    await writer.run('CREATE TEMP TABLE IF NOT EXISTS pending_keys (key UHUGEINT, seen_at TIMESTAMP)');
    return new DuckDBStore(instance, writer, db);
  }

  writeEvents = (batch: WriteBatch) => writeEvents(this.writer, batch);
  purgeDedupe = (before: Date) => this.writer.run('DELETE FROM dedupe WHERE seen_at < ?', [ts(before)]);
  listEvents = (workspaceId: string, q: EventQuery) => listEvents(this.db, workspaceId, q);
  listRejected = (workspaceId: string, page: { limit: number; offset: number }) =>
    listRejected(this.db, workspaceId, page);

  createWorkspace = (w: Workspace) => ws.createWorkspace(this.db, w);
  listWorkspaces = () => ws.listWorkspaces(this.db);
  updateWorkspaceSettings = (id: string, s: WorkspaceSettings) => ws.updateWorkspaceSettings(this.db, id, s);
  deleteWorkspace = (id: string) => ws.deleteWorkspace(this.db, id);
  createKey = (k: ApiKey) => ws.createKey(this.db, k);
  listKeys = (workspaceId?: string) => ws.listKeys(this.db, workspaceId);
  revokeKey = (workspaceId: string, id: string, at: Date) => ws.revokeKey(this.db, workspaceId, id, at);

  async close(): Promise<void> {
    await this.db.run('CHECKPOINT').catch(() => {});
    this.writer.conn.closeSync();
    this.db.conn.closeSync();
    this.instance.closeSync();
  }
}
