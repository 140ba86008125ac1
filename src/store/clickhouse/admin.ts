// Workspaces and keys on ClickHouse: versioned documents (docs.ts), shared by every node, whose largest version
// is keysVersion().
import type { Admin, ApiKey, Workspace } from '../types.ts';
import { maxVersion, readDocs, writeDoc } from './docs.ts';
import type { ClickHouse } from './http.ts';

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
