// Workspaces and their keys: secrets are shown once and stored as sha256; lookups hit an in-memory ring.
// A change made through this ring updates it at once, so on this node a revocation takes effect on the next
// request. Changes made elsewhere (another node sharing the store) are seen by comparing the store's keys
// version every `refreshMs` (default 1 s) and reloading when it moved: that is the bound on how long a key
// revoked on one node keeps working on another. No lookup waits for the store.
import { hash } from 'node:crypto';
import { IntakeError } from '../core/errors.ts';
import { token, uuidv7 } from '../core/ids.ts';
import {
  type ApiKey,
  DEFAULT_WORKSPACE_SETTINGS,
  type KeyKind,
  type Store,
  type Workspace,
  type WorkspaceSettings,
} from '../store/types.ts';

export const KEY_KINDS: KeyKind[] = ['write', 'read', 'admin'];
const PREFIX: Record<KeyKind, string> = { write: 'iwk_', read: 'irk_', admin: 'iak_' };

export const hashSecret = (secret: string): string => hash('sha256', secret, 'hex');

export interface CreatedKey {
  key: Omit<ApiKey, 'hash'>;
  /** The secret; returned once, never stored. */
  secret: string;
}

export const publicKey = ({ hash: _hash, ...rest }: ApiKey): Omit<ApiKey, 'hash'> => rest;

export class KeyRing {
  private byHash = new Map<string, ApiKey>();
  private workspaces = new Map<string, Workspace>();

  private version = -1;
  private timer: NodeJS.Timeout | null = null;
  /** Counts changes made through this ring, so a reload that overlapped one is done again. */
  private changes = 0;

  constructor(private readonly store: Store) {}

  async load(): Promise<void> {
    // A change made here while the store was read (a key created by a request) may be missing from what was
    // read: read again until none overlapped, or that key would be refused until the next refresh.
    for (;;) {
      const changes = this.changes;
      const version = await this.store.admin.keysVersion();
      const workspaces = new Map((await this.store.admin.listWorkspaces()).map((w) => [w.id, w]));
      const keys = (await this.store.admin.listKeys()).filter((k) => k.revokedAt === null);
      if (changes !== this.changes) continue;
      this.version = version;
      this.workspaces = workspaces;
      this.byHash = new Map(keys.map((k) => [k.hash, k]));
      return;
    }
  }

  /** Checks the store's keys version every `ms` and reloads when another node changed a key or workspace. */
  watch(ms = 1000): void {
    this.timer = setInterval(() => void this.refresh().catch(() => {}), ms);
    this.timer.unref();
  }

  /** Reloads when the store's keys version moved since the last load; true when it did. */
  async refresh(): Promise<boolean> {
    if ((await this.store.admin.keysVersion()) === this.version) return false;
    await this.load();
    return true;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** The active key for a secret, if any. */
  resolve(secret: string): ApiKey | undefined {
    return this.byHash.get(hashSecret(secret));
  }

  listWorkspaces(): Workspace[] {
    return [...this.workspaces.values()];
  }

  getWorkspace(id: string): Workspace | undefined {
    return this.workspaces.get(id);
  }

  /** The workspace's settings from memory (the ingest path asks once per request); defaults if unknown. */
  settingsOf(id: string): WorkspaceSettings {
    return this.workspaces.get(id)?.settings ?? DEFAULT_WORKSPACE_SETTINGS;
  }

  /** Changes some settings of a workspace; the next request sees them. Undefined: no such workspace. */
  async updateSettings(id: string, patch: Partial<WorkspaceSettings>): Promise<Workspace | undefined> {
    const ws = this.workspaces.get(id);
    if (!ws) return undefined;
    const settings: WorkspaceSettings = { ...ws.settings };
    if (typeof patch.geo === 'boolean') settings.geo = patch.geo;
    if (typeof patch.anonymizeIp === 'boolean') settings.anonymizeIp = patch.anonymizeIp;
    if (typeof patch.timezone === 'string') settings.timezone = patch.timezone;
    if (!(await this.store.admin.updateWorkspaceSettings(id, settings))) return undefined;
    const updated: Workspace = { ...ws, settings };
    this.workspaces.set(id, updated);
    this.changes++;
    return updated;
  }

  findWorkspaceByName(name: string): Workspace | undefined {
    for (const w of this.workspaces.values()) if (w.name === name) return w;
    return undefined;
  }

  async createWorkspace(name: string): Promise<Workspace> {
    if (this.findWorkspaceByName(name))
      throw new IntakeError('INTAKE_ERR_CONFLICT', `workspace "${name}" already exists`);
    const ws: Workspace = {
      id: uuidv7(),
      name,
      createdAt: new Date(),
      settings: { ...DEFAULT_WORKSPACE_SETTINGS },
    };
    await this.store.admin.createWorkspace(ws);
    this.workspaces.set(ws.id, ws);
    this.changes++;
    return ws;
  }

  async deleteWorkspace(id: string): Promise<boolean> {
    const found = await this.store.erasure.deleteWorkspace(id);
    this.workspaces.delete(id);
    for (const [h, k] of this.byHash) if (k.workspaceId === id) this.byHash.delete(h);
    this.changes++;
    return found;
  }

  /** Creates a key; `secret` is given for keys set by the operator (INTAKE_WRITE_KEY, ...), else generated. */
  async createKey(
    workspaceId: string,
    kind: KeyKind,
    name = `${kind} key`,
    secret?: string,
  ): Promise<CreatedKey> {
    const s = secret ?? PREFIX[kind] + token(32);
    const key: ApiKey = {
      id: uuidv7(),
      workspaceId,
      kind,
      name,
      prefix: s.slice(0, Math.min(8, Math.max(1, s.length - 4))),
      hash: hashSecret(s),
      createdAt: new Date(),
      revokedAt: null,
    };
    await this.store.admin.createKey(key);
    this.byHash.set(key.hash, key);
    this.changes++;
    return { key: publicKey(key), secret: s };
  }

  async listKeys(workspaceId: string): Promise<Omit<ApiKey, 'hash'>[]> {
    return (await this.store.admin.listKeys(workspaceId)).map(publicKey);
  }

  async revokeKey(workspaceId: string, id: string): Promise<boolean> {
    for (const [h, k] of this.byHash) if (k.id === id && k.workspaceId === workspaceId) this.byHash.delete(h);
    this.changes++;
    const revoked = await this.store.admin.revokeKey(workspaceId, id, new Date());
    this.changes++; // a reload that read the key before the store revoked it must read again
    return revoked;
  }

  /** True when the workspace has an active key of this kind. */
  hasKind(workspaceId: string, kind: KeyKind): boolean {
    for (const k of this.byHash.values()) if (k.workspaceId === workspaceId && k.kind === kind) return true;
    return false;
  }
}

export interface BootstrapResult {
  workspace: Workspace;
  /** Keys generated on this start; print them once. */
  generated: CreatedKey[];
}

/**
 * On first start the `default` workspace exists. Keys given in the environment become its keys (added if
 * not there yet); a kind with no active key gets a generated one.
 */
export async function bootstrap(
  ring: KeyRing,
  given: Partial<Record<KeyKind, string>>,
): Promise<BootstrapResult> {
  const workspace = ring.findWorkspaceByName('default') ?? (await ring.createWorkspace('default'));
  const generated: CreatedKey[] = [];
  for (const kind of KEY_KINDS) {
    const secret = given[kind];
    if (secret) {
      const existing = ring.resolve(secret);
      if (existing && (existing.workspaceId !== workspace.id || existing.kind !== kind)) {
        throw new Error(
          `INTAKE_${kind.toUpperCase()}_KEY is already a ${existing.kind} key of another workspace`,
        );
      }
      if (!existing) await ring.createKey(workspace.id, kind, `${kind} key (from environment)`, secret);
    } else if (!ring.hasKind(workspace.id, kind)) {
      generated.push(await ring.createKey(workspace.id, kind));
    }
  }
  return { workspace, generated };
}
