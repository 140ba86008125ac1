// Workspaces and their keys: secrets are shown once and stored as sha256; lookups hit an in-memory ring.
// A change made through this ring updates it at once, so on this node a revocation takes effect on the next
// request. Changes made elsewhere (another node sharing the store) are seen by comparing the store's keys
// version every `refreshMs` (default 1 s) and reloading when it moved: that is the bound on how long a key
// revoked on one node keeps working on another. No lookup waits for the store. A new limit or allow-list made here applies to the next request.

import { hash } from 'node:crypto';
import { IntakeError } from '../core/errors.ts';
import { token, uuidv7 } from '../core/ids.ts';
import { sortScopes } from '../core/model.ts';
import { Poller } from '../core/poll.ts';
import {
  type ApiKey,
  DEFAULT_WORKSPACE_SETTINGS,
  type KeyAccess,
  type KeyKind,
  kindOf,
  PRESETS,
  type Preset,
  type RateLimit,
  type Scope,
  type Store,
  type Workspace,
  type WorkspaceSettings,
} from '../store/types.ts';
import { Access, type KeyGuard, normalizeAccess } from './access.ts';

/** The keys a new workspace gets (POST /admin/workspaces) and the default workspace is bootstrapped with. */
export const KEY_KINDS: Preset[] = ['write', 'read', 'admin'];
/** Every preset a key can be created with. */
export const PRESET_NAMES = Object.keys(PRESETS) as Preset[];
const PREFIX: Record<KeyKind, string> = {
  write: 'iwk_',
  read: 'irk_',
  private: 'ipk_',
  admin: 'iak_',
  custom: 'ick_',
};

/** A key's scopes: a preset's name, or the scopes themselves. */
export type KeySpec = Preset | readonly Scope[];

export const hashSecret = (secret: string): string => hash('sha256', secret, 'hex');

export interface CreatedKey {
  key: Omit<ApiKey, 'hash'>;
  /** The secret; returned once, never stored. */
  secret: string;
}

export const publicKey = ({ hash: _hash, ...rest }: ApiKey): Omit<ApiKey, 'hash'> => rest;

/** Settings as the admin API changes them: only the fields sent; `rateLimit: null` removes the limit. */
export type SettingsPatch = Partial<Omit<WorkspaceSettings, 'rateLimit'>> & { rateLimit?: RateLimit | null };

/** Most secrets whose hash KeyRing.resolve remembers. */
const HASH_MEMO = 10_000;

export class KeyRing {
  private byHash = new Map<string, ApiKey>();
  /**
   * The hash of each secret that resolved to a key, so a request does not pay a SHA-256 (~3 µs of a single
   * event's main-thread CPU): only secrets of keys, so clients sending unknown ones cannot grow it; emptied past
   * HASH_MEMO entries. The key is still looked up by hash, so a revoked key stops working at once.
   */
  private hashes = new Map<string, string>();
  private workspaces = new Map<string, Workspace>();
  private guards = new Map<string, KeyGuard>();

  private version = -1;
  private readonly poller = new Poller(() => this.refresh());
  /** Reloads and changes made through this ring run one at a time: a reload cannot drop a key made meanwhile. */
  private lock: Promise<unknown> = Promise.resolve();

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => {});
    return run;
  }

  constructor(private readonly store: Store) {}

  async load(): Promise<void> {
    return this.exclusive(async () => {
      this.version = await this.store.admin.keysVersion();
      this.workspaces = new Map((await this.store.admin.listWorkspaces()).map((w) => [w.id, w]));
      this.byHash = new Map(
        (await this.store.admin.listKeys()).filter((k) => k.revokedAt === null).map((k) => [k.hash, k]),
      );
      this.compileGuards();
    });
  }

  /**
   * Compiles every active key's guard after a change. Admin changes are rare and keys few, so all of them are
   * rebuilt; the rate objects are the stored ones, so a bucket sees its rate change only when it did change.
   */
  private compileGuards(): void {
    const guards = new Map<string, KeyGuard>();
    for (const key of this.byHash.values()) {
      // Limits are for keys that ingest. The workspace's applies to those that cannot change it (no manage or
      // admin scope), so a limit never locks out the key that sets it; a key's own limit is set for that key.
      const ingests = key.scopes.includes('ingest');
      const manages = key.scopes.includes('manage') || key.scopes.includes('admin');
      const inherited = manages ? null : (this.workspaces.get(key.workspaceId)?.settings.rateLimit ?? null);
      const rateLimit = ingests ? (key.rateLimit ?? inherited) : null;
      const access = Access.of(key);
      if (access || rateLimit) guards.set(key.id, { access, rateLimit });
    }
    this.guards = guards;
  }

  /** True when some key has an allow-list or a limit: until then requests skip the checks entirely. */
  get guarded(): boolean {
    return this.guards.size > 0;
  }

  /** The key's guard; undefined when it has none. */
  guardOf(keyId: string): KeyGuard | undefined {
    return this.guards.get(keyId);
  }

  /** Checks the store's keys version every `ms` and reloads when another node changed a key or workspace. */
  watch(ms = 1000): void {
    this.poller.start(ms);
  }

  /** Reloads when the store's keys version moved since the last load; true when it did. */
  async refresh(): Promise<boolean> {
    if ((await this.store.admin.keysVersion()) === this.version) return false;
    await this.load();
    return true;
  }

  /** Stops watching; resolves once a check in flight is done (the store may then be closed). */
  stop(): Promise<void> {
    return this.poller.stop();
  }

  /** The active key for a secret, if any. */
  resolve(secret: string): ApiKey | undefined {
    const memo = this.hashes.get(secret);
    if (memo !== undefined) return this.byHash.get(memo);
    const hash = hashSecret(secret);
    const key = this.byHash.get(hash);
    if (key) {
      if (this.hashes.size >= HASH_MEMO) this.hashes.clear();
      this.hashes.set(secret, hash);
    }
    return key;
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
  async updateSettings(id: string, patch: SettingsPatch): Promise<Workspace | undefined> {
    return this.exclusive(async () => {
      const ws = this.workspaces.get(id);
      if (!ws) return undefined;
      const settings: WorkspaceSettings = { ...ws.settings };
      for (const k of ['geo', 'anonymizeIp'] as const) {
        const v = patch[k];
        if (typeof v === 'boolean') settings[k] = v;
      }
      if (typeof patch.timezone === 'string') settings.timezone = patch.timezone;
      if (patch.rateLimit === null) delete settings.rateLimit;
      else if (patch.rateLimit) settings.rateLimit = patch.rateLimit;
      if (!(await this.store.admin.updateWorkspaceSettings(id, settings))) return undefined;
      const updated: Workspace = { ...ws, settings };
      this.workspaces.set(id, updated);
      this.compileGuards();
      return updated;
    });
  }

  findWorkspaceByName(name: string): Workspace | undefined {
    for (const w of this.workspaces.values()) if (w.name === name) return w;
    return undefined;
  }

  async createWorkspace(name: string, properties: Record<string, unknown> = {}): Promise<Workspace> {
    return this.exclusive(async () => {
      if (this.findWorkspaceByName(name))
        throw new IntakeError('INTAKE_ERR_CONFLICT', `workspace "${name}" already exists`);
      const ws: Workspace = {
        id: uuidv7(),
        name,
        createdAt: new Date(),
        settings: { ...DEFAULT_WORKSPACE_SETTINGS },
        properties,
      };
      await this.store.admin.createWorkspace(ws);
      this.workspaces.set(ws.id, ws);
      return ws;
    });
  }

  /** Renames a workspace and/or replaces its properties; undefined: no such workspace. */
  async updateWorkspace(
    id: string,
    patch: Partial<Pick<Workspace, 'name' | 'properties'>>,
  ): Promise<Workspace | undefined> {
    return this.exclusive(async () => {
      const ws = this.workspaces.get(id);
      if (!ws) return undefined;
      const other = patch.name === undefined ? undefined : this.findWorkspaceByName(patch.name);
      if (other && other.id !== id)
        throw new IntakeError('INTAKE_ERR_CONFLICT', `workspace "${patch.name}" already exists`);
      if (!(await this.store.admin.updateWorkspace(id, patch))) return undefined;
      const updated: Workspace = { ...ws, ...patch };
      this.workspaces.set(id, updated);
      return updated;
    });
  }

  async deleteWorkspace(id: string): Promise<boolean> {
    return this.exclusive(async () => {
      const found = await this.store.erasure.deleteWorkspace(id);
      this.workspaces.delete(id);
      for (const [h, k] of this.byHash) if (k.workspaceId === id) this.byHash.delete(h);
      this.compileGuards();
      return found;
    });
  }

  /**
   * Creates a key with a preset's scopes or the scopes given; `secret` is given for keys set by the operator
   * (INTAKE_WRITE_KEY, ...), else generated. `patch`: its allow-lists and rate limit, checked (a coded 400 naming a
   * bad field).
   */
  async createKey(
    workspaceId: string,
    spec: KeySpec,
    name?: string,
    secret?: string,
    patch: Partial<KeyAccess> = {},
  ): Promise<CreatedKey> {
    const scopes = sortScopes(typeof spec === 'string' ? PRESETS[spec] : spec);
    if (scopes.length === 0) {
      throw new IntakeError('INTAKE_ERR_INVALID_BODY', 'a key needs at least one scope', { field: 'scopes' });
    }
    const kind = kindOf(scopes);
    return this.exclusive(async () => {
      const access = normalizeAccess(scopes, patch);
      const s = secret ?? PREFIX[kind] + token(32);
      const key: ApiKey = {
        id: uuidv7(),
        workspaceId,
        kind,
        scopes,
        name: name ?? `${kind} key`,
        prefix: s.slice(0, Math.min(8, Math.max(1, s.length - 4))),
        hash: hashSecret(s),
        createdAt: new Date(),
        revokedAt: null,
        allowedOrigins: access.allowedOrigins ?? [],
        allowedIps: access.allowedIps ?? [],
        rateLimit: access.rateLimit ?? null,
      };
      await this.store.admin.createKey(key);
      this.byHash.set(key.hash, key);
      this.compileGuards();
      return { key: publicKey(key), secret: s };
    });
  }

  /** Changes an active key's allow-lists or rate limit (only the fields given); undefined: no such active key. */
  async updateKey(
    workspaceId: string,
    id: string,
    patch: Partial<KeyAccess>,
  ): Promise<Omit<ApiKey, 'hash'> | undefined> {
    return this.exclusive(async () => {
      let key: ApiKey | undefined;
      for (const k of this.byHash.values()) if (k.id === id && k.workspaceId === workspaceId) key = k;
      if (!key) return undefined;
      const updated: ApiKey = { ...key, ...normalizeAccess(key.scopes, patch) };
      if (!(await this.store.admin.updateKeyAccess(workspaceId, id, updated))) return undefined;
      this.byHash.set(updated.hash, updated);
      this.compileGuards();
      return publicKey(updated);
    });
  }

  async listKeys(workspaceId: string): Promise<Omit<ApiKey, 'hash'>[]> {
    return (await this.store.admin.listKeys(workspaceId)).map(publicKey);
  }

  /** A key of the workspace by id, active or revoked; undefined when there is none. */
  async getKey(workspaceId: string, id: string): Promise<Omit<ApiKey, 'hash'> | undefined> {
    return (await this.listKeys(workspaceId)).find((k) => k.id === id);
  }

  async revokeKey(workspaceId: string, id: string): Promise<boolean> {
    return this.exclusive(async () => {
      for (const [h, k] of this.byHash)
        if (k.id === id && k.workspaceId === workspaceId) this.byHash.delete(h);
      this.compileGuards();
      return this.store.admin.revokeKey(workspaceId, id, new Date());
    });
  }

  /** True when the workspace has an active key of this kind (a preset, or custom). */
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
 * not there yet); a write, read or admin kind with no active key gets a generated one. A private key (Trench's)
 * is made only when given.
 */
export async function bootstrap(
  ring: KeyRing,
  given: Partial<Record<Preset, string>>,
): Promise<BootstrapResult> {
  const workspace = ring.findWorkspaceByName('default') ?? (await ring.createWorkspace('default'));
  const generated: CreatedKey[] = [];
  for (const kind of PRESET_NAMES) {
    const secret = given[kind];
    if (secret) {
      const existing = ring.resolve(secret);
      if (existing && (existing.workspaceId !== workspace.id || existing.kind !== kind)) {
        throw new Error(
          `INTAKE_${kind.toUpperCase()}_KEY is already a ${existing.kind} key of another workspace`,
        );
      }
      if (!existing) await ring.createKey(workspace.id, kind, `${kind} key (from environment)`, secret);
    } else if (KEY_KINDS.includes(kind) && !ring.hasKind(workspace.id, kind)) {
      generated.push(await ring.createKey(workspace.id, kind));
    }
  }
  return { workspace, generated };
}
