// Tracking plans in DuckDB: one row per version of a workspace's plan, never changed once written.
import type { StoredPlan } from '../governance.ts';
import { type Db, date, type Row, ts } from './db.ts';

export const PLAN_MIGRATIONS = [
  `CREATE TABLE IF NOT EXISTS plans (workspace_id VARCHAR NOT NULL, version INTEGER NOT NULL,
     created_at TIMESTAMP NOT NULL, plan JSON NOT NULL)`,
];

const toPlan = (r: Row): StoredPlan => ({
  version: Number(r.version),
  createdAt: date(r.created_at),
  plan: JSON.parse(String(r.plan)) as Record<string, unknown>,
});

/** The next version in one statement, so two saves at once cannot both take the same number. */
export async function savePlan(
  db: Db,
  ws: string,
  plan: Record<string, unknown>,
  at: Date,
): Promise<StoredPlan> {
  const rows = await db.all(
    `INSERT INTO plans
     SELECT ?, coalesce(max(version), 0) + 1, ?, ?::JSON FROM plans WHERE workspace_id = ?
     RETURNING version, created_at, plan::VARCHAR AS plan`,
    [ws, ts(at), JSON.stringify(plan), ws],
  );
  return toPlan(rows[0] as Row);
}

export async function getPlan(db: Db, ws: string, version?: number): Promise<StoredPlan | null> {
  const rows =
    version === undefined
      ? await db.all(
          `SELECT version, created_at, plan::VARCHAR AS plan FROM plans WHERE workspace_id = ?
            ORDER BY version DESC LIMIT 1`,
          [ws],
        )
      : await db.all(
          'SELECT version, created_at, plan::VARCHAR AS plan FROM plans WHERE workspace_id = ? AND version = ?',
          [ws, version],
        );
  return rows[0] ? toPlan(rows[0]) : null;
}

export async function listPlans(db: Db, ws: string): Promise<Array<{ version: number; createdAt: Date }>> {
  const rows = await db.all(
    'SELECT version, created_at FROM plans WHERE workspace_id = ? ORDER BY version DESC',
    [ws],
  );
  return rows.map((r) => ({ version: Number(r.version), createdAt: date(r.created_at) }));
}

/** A digest of the set of stored (workspace, version) pairs: their count and the XOR of their 64-bit hashes. */
export async function plansVersion(db: Db): Promise<string> {
  const rows = await db.all(
    'SELECT count(*)::BIGINT AS n, coalesce(bit_xor(hash(workspace_id, version)), 0)::UBIGINT AS x FROM plans',
  );
  return `${Number(rows[0]?.n ?? 0)}:${String(rows[0]?.x ?? 0)}`;
}

export async function currentPlans(db: Db): Promise<Array<StoredPlan & { workspaceId: string }>> {
  const rows = await db.all(
    `SELECT workspace_id, version, created_at, plan::VARCHAR AS plan FROM plans
      QUALIFY version = max(version) OVER (PARTITION BY workspace_id)`,
  );
  return rows.map((r) => ({ workspaceId: String(r.workspace_id), ...toPlan(r) }));
}
