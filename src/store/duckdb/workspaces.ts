// Workspaces and API keys (stored hashed).
import {
  type ApiKey,
  DEFAULT_WORKSPACE_SETTINGS,
  type KeyKind,
  type Workspace,
  type WorkspaceSettings,
} from '../types.ts';
import { type Db, date, dateOrNull, ts } from './db.ts';

export async function createWorkspace(db: Db, ws: Workspace): Promise<void> {
  await db.run('INSERT INTO workspaces (id, name, created_at, settings) VALUES (?, ?, ?, ?)', [
    ws.id,
    ws.name,
    ts(ws.createdAt),
    JSON.stringify(ws.settings),
  ]);
}

/** Stored settings over the defaults, so a setting added later reads as its default in older rows. */
function readSettings(raw: unknown): WorkspaceSettings {
  const s = { ...DEFAULT_WORKSPACE_SETTINGS };
  if (raw === null || raw === undefined) return s;
  const stored = JSON.parse(String(raw)) as Partial<Record<keyof WorkspaceSettings, unknown>>;
  if (typeof stored.geo === 'boolean') s.geo = stored.geo;
  if (typeof stored.anonymizeIp === 'boolean') s.anonymizeIp = stored.anonymizeIp;
  if (typeof stored.timezone === 'string') s.timezone = stored.timezone;
  return s;
}

export async function listWorkspaces(db: Db): Promise<Workspace[]> {
  const rows = await db.all('SELECT * FROM workspaces ORDER BY created_at, id');
  return rows.map((r) => ({
    id: String(r.id),
    name: String(r.name),
    createdAt: date(r.created_at),
    settings: readSettings(r.settings),
  }));
}

export async function updateWorkspaceSettings(
  db: Db,
  id: string,
  settings: WorkspaceSettings,
): Promise<boolean> {
  const n = await db.run('UPDATE workspaces SET settings = ? WHERE id = ?', [JSON.stringify(settings), id]);
  return n > 0;
}

const WORKSPACE_TABLES = [
  'api_keys',
  'events',
  'rejected',
  'identities',
  'persons',
  'group_profiles',
  'group_members',
  'identity_refusals',
  'deletions',
];

export async function deleteWorkspace(db: Db, id: string): Promise<boolean> {
  await db.run('BEGIN TRANSACTION');
  try {
    const n = await db.run('DELETE FROM workspaces WHERE id = ?', [id]);
    // Every table holding workspace rows. Its dedupe keys stay: they hash the workspace id, which is never reused.
    for (const table of WORKSPACE_TABLES) {
      await db.run(`DELETE FROM ${table} WHERE workspace_id = ?`, [id]);
    }
    await db.run('COMMIT');
    return n > 0;
  } catch (err) {
    await db.run('ROLLBACK').catch(() => {});
    throw err;
  }
}

export async function createKey(db: Db, k: ApiKey): Promise<void> {
  await db.run('INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
    k.id,
    k.workspaceId,
    k.kind,
    k.name,
    k.prefix,
    k.hash,
    ts(k.createdAt),
    k.revokedAt ? ts(k.revokedAt) : null,
  ]);
}

export async function listKeys(db: Db, workspaceId?: string): Promise<ApiKey[]> {
  const rows = workspaceId
    ? await db.all('SELECT * FROM api_keys WHERE workspace_id = ? ORDER BY created_at, id', [workspaceId])
    : await db.all('SELECT * FROM api_keys ORDER BY created_at, id');
  return rows.map((r) => ({
    id: String(r.id),
    workspaceId: String(r.workspace_id),
    kind: String(r.kind) as KeyKind,
    name: String(r.name),
    prefix: String(r.prefix),
    hash: String(r.hash),
    createdAt: date(r.created_at),
    revokedAt: dateOrNull(r.revoked_at),
  }));
}

export async function revokeKey(db: Db, workspaceId: string, id: string, at: Date): Promise<boolean> {
  const n = await db.run(
    'UPDATE api_keys SET revoked_at = ? WHERE workspace_id = ? AND id = ? AND revoked_at IS NULL',
    [ts(at), workspaceId, id],
  );
  return n > 0;
}
