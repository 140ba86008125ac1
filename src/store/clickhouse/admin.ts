// Workspaces and keys on ClickHouse: versioned documents (docs.ts), shared by every node, whose largest version
// is keysVersion().
import type { Admin, ApiKey, StoreCounts, Workspace } from '../types.ts';
import { maxVersion, readDocs, writeDoc } from './docs.ts';
import { TOMBSTONE_SECONDS } from './erasure.ts';
import type { ClickHouse } from './http.ts';
import { countPlans } from './plans.ts';
import { committed, VISIBLE_EVENTS } from './schema.ts';

type WorkspaceDoc = Omit<Workspace, 'createdAt'> & { createdAt: string };
type KeyDoc = Omit<ApiKey, 'createdAt' | 'revokedAt'> & { createdAt: string; revokedAt: string | null };

const toWorkspace = (d: WorkspaceDoc): Workspace => ({ ...d, createdAt: new Date(d.createdAt) });
const toKey = (d: KeyDoc): ApiKey => ({
  ...d,
  createdAt: new Date(d.createdAt),
  revokedAt: d.revokedAt === null ? null : new Date(d.revokedAt),
});

export class ClickHouseAdmin implements Admin {
  constructor(private readonly ch: ClickHouse) {}

  async counts(): Promise<StoreCounts> {
    const one = async (sql: string) =>
      Number((await this.ch.rows(`SELECT count() AS n FROM ${sql}`))[0]?.n ?? 0);
    // The latest committed version of each id (deleted ones left out), with its person.
    const ids = `(SELECT workspace_id, id, argMax(person_id, seq) AS p, argMax(deleted, seq) AS d FROM identities
                  WHERE ${committed()} GROUP BY workspace_id, id HAVING d = 0)`;
    return {
      workspaces: (await this.listWorkspaces()).length,
      keys: (await this.listKeys()).length,
      events: await one(VISIBLE_EVENTS),
      rejected: await one(`rejected FINAL WHERE ${committed()}`),
      persons: await one(`(SELECT workspace_id, p FROM ${ids} GROUP BY workspace_id, p)`),
      identities: await one(ids),
      groups: await one(
        `(SELECT workspace_id, group_id FROM group_profiles WHERE ${committed()} GROUP BY workspace_id, group_id)`,
      ),
      groupMembers: await one(
        `(SELECT workspace_id, group_id, member_id FROM group_members WHERE ${committed()}
          GROUP BY workspace_id, group_id, member_id)`,
      ),
      planVersions: await countPlans(this.ch),
      tombstones: await one(`dedupe_keys FINAL WHERE seen_s = ${TOMBSTONE_SECONDS}`),
    };
  }

  private async workspace(id: string): Promise<WorkspaceDoc | null> {
    return (await readDocs<WorkspaceDoc>(this.ch, 'workspace', { id }))[0]?.value ?? null;
  }
  private async key(workspaceId: string, id: string): Promise<KeyDoc | null> {
    const d = (await readDocs<KeyDoc>(this.ch, 'key', { id }))[0];
    return d && d.workspaceId === workspaceId ? d.value : null;
  }

  async createWorkspace(ws: Workspace): Promise<void> {
    await writeDoc(this.ch, 'workspace', ws.id, ws.id, ws);
  }
  async listWorkspaces(): Promise<Workspace[]> {
    const all = (await readDocs<WorkspaceDoc>(this.ch, 'workspace')).map((d) => toWorkspace(d.value));
    return all.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : 1));
  }
  async updateWorkspaceSettings(id: string, settings: Workspace['settings']): Promise<boolean> {
    const w = await this.workspace(id);
    if (!w) return false;
    await writeDoc(this.ch, 'workspace', id, id, { ...w, settings });
    return true;
  }
  async updateWorkspace(
    id: string,
    patch: Partial<Pick<Workspace, 'name' | 'properties'>>,
  ): Promise<boolean> {
    const w = await this.workspace(id);
    if (!w) return false;
    if (patch.name === undefined && patch.properties === undefined) return true;
    await writeDoc(this.ch, 'workspace', id, id, { ...w, ...patch });
    return true;
  }
  async createKey(k: ApiKey): Promise<void> {
    await writeDoc(this.ch, 'key', k.id, k.workspaceId, k);
  }
  async listKeys(workspaceId?: string): Promise<ApiKey[]> {
    const all = (
      await readDocs<KeyDoc>(this.ch, 'key', workspaceId === undefined ? {} : { workspaceId })
    ).map((d) => toKey(d.value));
    return all.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : 1));
  }
  async revokeKey(workspaceId: string, id: string, at: Date): Promise<boolean> {
    const k = await this.key(workspaceId, id);
    if (!k) return false;
    if (k.revokedAt !== null) return false; // revoked already
    await writeDoc(this.ch, 'key', id, workspaceId, { ...k, revokedAt: at });
    return true;
  }
  async updateKeyAccess(workspaceId: string, id: string, access: Parameters<Admin['updateKeyAccess']>[2]) {
    const k = await this.key(workspaceId, id);
    if (!k) return false;
    await writeDoc(this.ch, 'key', id, workspaceId, {
      ...k,
      allowedOrigins: access.allowedOrigins,
      allowedIps: access.allowedIps,
      rateLimit: access.rateLimit,
    });
    return true;
  }
  keysVersion(): Promise<number> {
    return maxVersion(this.ch, ['workspace', 'key']);
  }
}
