// Workspaces and API keys (stored hashed).

import { uuidv7 } from '../../core/ids.ts';
import {
  type ApiKey,
  DEFAULT_WORKSPACE_SETTINGS,
  type KeyAccess,
  kindOf,
  PRESETS,
  type Preset,
  type Rate,
  type RateLimit,
  SCOPES,
  type Scope,
  type StoreCounts,
  type Workspace,
  type WorkspaceSettings,
} from '../types.ts';
import { type Db, date, dateOrNull, ts } from './db.ts';
import { TOMBSTONE_SEEN_AT } from './profile-schema.ts';

export async function createWorkspace(db: Db, ws: Workspace): Promise<void> {
  await db.run('INSERT INTO workspaces (id, name, created_at, settings, properties) VALUES (?, ?, ?, ?, ?)', [
    ws.id,
    ws.name,
    ts(ws.createdAt),
    JSON.stringify(ws.settings),
    JSON.stringify(ws.properties),
  ]);
}

/** Stored properties; NULL (workspaces made before they existed) reads as {}. */
function readProperties(raw: unknown): Record<string, unknown> {
  if (raw === null || raw === undefined) return {};
  const v = JSON.parse(String(raw)) as unknown;
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/**
 * A key's scopes. Keys stored before scopes existed have none stored (NULL): their kind's preset, so a write,
 * read or admin key keeps doing what it did (admin keys can now also do what the other presets do).
 */
function readScopes(raw: unknown, kind: string): Scope[] {
  if (raw === null || raw === undefined) return [...(PRESETS[kind as Preset] ?? [])];
  const stored = JSON.parse(String(raw)) as unknown;
  const list = Array.isArray(stored) ? stored : [];
  return SCOPES.filter((s) => list.includes(s));
}

/** Stored settings over the defaults, so a setting added later reads as its default in older rows. */
function readSettings(raw: unknown): WorkspaceSettings {
  const s = { ...DEFAULT_WORKSPACE_SETTINGS };
  if (raw === null || raw === undefined) return s;
  const stored = JSON.parse(String(raw)) as Partial<Record<keyof WorkspaceSettings, unknown>>;
  for (const k of ['geo', 'anonymizeIp'] as const) {
    if (typeof stored[k] === 'boolean') s[k] = stored[k];
  }
  const rateLimit = readRateLimit(stored.rateLimit);
  if (rateLimit) s.rateLimit = rateLimit;
  if (typeof stored.timezone === 'string') s.timezone = stored.timezone;
  return s;
}

/** A stored rate limit (written validated by the admin API); anything else reads as none. */
function readRateLimit(raw: unknown): RateLimit | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const rate = (v: unknown): Rate | undefined => {
    const r = v as Partial<Rate> | null | undefined;
    return typeof r?.perSecond === 'number' && typeof r.burst === 'number' && r.perSecond > 0 && r.burst >= 1
      ? { perSecond: r.perSecond, burst: r.burst }
      : undefined;
  };
  const { events, requests } = raw as Record<string, unknown>;
  const out: RateLimit = {};
  const e = rate(events);
  const r = rate(requests);
  if (e) out.events = e;
  if (r) out.requests = r;
  return e || r ? out : undefined;
}

function readAccess(raw: unknown): KeyAccess {
  const stored: Record<string, unknown> = raw === null || raw === undefined ? {} : JSON.parse(String(raw));
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x) => typeof x === 'string') : []);
  return {
    allowedOrigins: strings(stored.allowedOrigins),
    allowedIps: strings(stored.allowedIps),
    rateLimit: readRateLimit(stored.rateLimit) ?? null,
  };
}

const accessJson = (k: KeyAccess) =>
  JSON.stringify({ allowedOrigins: k.allowedOrigins, allowedIps: k.allowedIps, rateLimit: k.rateLimit });

export async function listWorkspaces(db: Db): Promise<Workspace[]> {
  const rows = await db.all('SELECT * FROM workspaces ORDER BY created_at, id');
  return rows.map((r) => ({
    id: String(r.id),
    name: String(r.name),
    createdAt: date(r.created_at),
    settings: readSettings(r.settings),
    properties: readProperties(r.properties),
  }));
}

export async function updateWorkspace(
  db: Db,
  id: string,
  patch: Partial<Pick<Workspace, 'name' | 'properties'>>,
): Promise<boolean> {
  const sets: string[] = [];
  const values: string[] = [];
  if (patch.name !== undefined) {
    sets.push('name = ?');
    values.push(patch.name);
  }
  if (patch.properties !== undefined) {
    sets.push('properties = ?');
    values.push(JSON.stringify(patch.properties));
  }
  if (sets.length === 0) return (await db.all('SELECT 1 FROM workspaces WHERE id = ?', [id])).length > 0;
  return (await db.run(`UPDATE workspaces SET ${sets.join(', ')} WHERE id = ?`, [...values, id])) > 0;
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
  'dictionary_days',
  'dictionary_paths',
  'plans',
];

/**
 * Deletes the workspace and every row it owns, and records it as a finished deletion of the whole workspace
 * (subject NULL), so the purge (erasure.ts) erases the rows' bytes from the file as it does a person's.
 */
export async function counts(db: Db): Promise<StoreCounts> {
  const n = (sql: string) => `(SELECT count(*) FROM ${sql})::BIGINT`;
  const rows = await db.all(
    `SELECT ${n('workspaces')} AS workspaces, ${n('api_keys')} AS keys, ${n('events')} AS events,
       ${n('rejected')} AS rejected, ${n('(SELECT DISTINCT workspace_id, person_id FROM identities)')} AS persons, ${n('identities')} AS identities,
       ${n('group_profiles')} AS groups, ${n('group_members')} AS group_members, ${n('plans')} AS plan_versions,
       ${n(`dedupe_keys WHERE seen_at = ${TOMBSTONE_SEEN_AT}`)} AS tombstones`,
  );
  const r = rows[0] ?? {};
  return {
    workspaces: Number(r.workspaces),
    keys: Number(r.keys),
    events: Number(r.events),
    rejected: Number(r.rejected),
    persons: Number(r.persons),
    identities: Number(r.identities),
    groups: Number(r.groups),
    groupMembers: Number(r.group_members),
    planVersions: Number(r.plan_versions),
    tombstones: Number(r.tombstones),
  };
}

export async function deleteWorkspace(db: Db, id: string, at: Date): Promise<boolean> {
  await db.run('BEGIN TRANSACTION');
  try {
    const n = await db.run('DELETE FROM workspaces WHERE id = ?', [id]);
    // Every table holding workspace rows. Its dedupe keys stay: they hash the workspace id, which is never reused.
    let events = 0;
    for (const table of WORKSPACE_TABLES) {
      const deleted = await db.run(`DELETE FROM ${table} WHERE workspace_id = ?`, [id]);
      if (table === 'events') events = deleted;
    }
    if (n > 0) {
      await db.run(
        `INSERT INTO deletions (id, workspace_id, subject, status, requested_at, started_at, finished_at, events_deleted)
         VALUES (?, ?, NULL, 'done', ?, ?, ?, ?)`,
        [uuidv7(at.getTime()), id, ts(at), ts(at), ts(at), events],
      );
    }
    await db.run('COMMIT');
    return n > 0;
  } catch (err) {
    await db.run('ROLLBACK').catch(() => {});
    throw err;
  }
}

export async function createKey(db: Db, k: ApiKey): Promise<void> {
  await db.run(
    `INSERT INTO api_keys (id, workspace_id, kind, name, prefix, hash, created_at, revoked_at, access, scopes)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      k.id,
      k.workspaceId,
      k.kind,
      k.name,
      k.prefix,
      k.hash,
      ts(k.createdAt),
      k.revokedAt ? ts(k.revokedAt) : null,
      accessJson(k),
      JSON.stringify(k.scopes),
    ],
  );
}

export async function listKeys(db: Db, workspaceId?: string): Promise<ApiKey[]> {
  const rows = workspaceId
    ? await db.all('SELECT * FROM api_keys WHERE workspace_id = ? ORDER BY created_at, id', [workspaceId])
    : await db.all('SELECT * FROM api_keys ORDER BY created_at, id');
  return rows.map((r) => {
    const scopes = readScopes(r.scopes, String(r.kind));
    return {
      id: String(r.id),
      workspaceId: String(r.workspace_id),
      kind: kindOf(scopes),
      scopes,
      name: String(r.name),
      prefix: String(r.prefix),
      hash: String(r.hash),
      createdAt: date(r.created_at),
      revokedAt: dateOrNull(r.revoked_at),
      ...readAccess(r.access),
    };
  });
}

export async function revokeKey(db: Db, workspaceId: string, id: string, at: Date): Promise<boolean> {
  const n = await db.run(
    'UPDATE api_keys SET revoked_at = ? WHERE workspace_id = ? AND id = ? AND revoked_at IS NULL',
    [ts(at), workspaceId, id],
  );
  return n > 0;
}

export async function updateKeyAccess(
  db: Db,
  workspaceId: string,
  id: string,
  access: KeyAccess,
): Promise<boolean> {
  const n = await db.run(
    'UPDATE api_keys SET access = ? WHERE workspace_id = ? AND id = ? AND revoked_at IS NULL',
    [accessJson(access), workspaceId, id],
  );
  return n > 0;
}
