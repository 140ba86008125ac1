// Tracking plans on ClickHouse: one row per version of a workspace's plan, never changed once written. Without
// transactions, a save claims its version number first with the one step ClickHouse does atomically: creating a
// table (an empty Null table per workspace and version, `plan_claim_<md5(ws)>_<version>`; a second CREATE fails
// with "already exists"), so two nodes saving at once take two versions. A save that dies between its claim and
// its row leaves that version number unused (the next save takes the next one).
import { createHash } from 'node:crypto';
import { uuidv7 } from '../../core/ids.ts';
import type { StoredPlan } from '../governance.ts';
import { type ChRow, type ClickHouse, ClickHouseError, lit } from './http.ts';

/** Every version once (an insert retried on a new connection may have landed twice: the same row). */
const VERSIONS = `(SELECT workspace_id AS w, version AS v, argMin(created_ms, id) AS c, argMin(plan, id) AS p
  FROM plans GROUP BY workspace_id, version)`;

const toPlan = (r: ChRow): StoredPlan => ({
  version: Number(r.v),
  createdAt: new Date(Number(r.c)),
  plan: JSON.parse(String(r.p)) as Record<string, unknown>,
});

const claimPrefix = (ws: string) => `plan_claim_${createHash('md5').update(ws).digest('hex').slice(0, 16)}_`;

/** True when this call made the claim of (ws, version), false when another save holds it. */
async function claim(ch: ClickHouse, ws: string, version: number): Promise<boolean> {
  try {
    await ch.exec(`CREATE TABLE ${claimPrefix(ws)}${version} (x UInt8) ENGINE = Null`);
    return true;
  } catch (err) {
    if (err instanceof ClickHouseError && err.chCode === 57) return false; // TABLE_ALREADY_EXISTS
    throw err;
  }
}

export async function savePlan(
  ch: ClickHouse,
  ws: string,
  plan: Record<string, unknown>,
  at: Date,
): Promise<StoredPlan> {
  const last = await ch.rows(`SELECT max(version) AS v FROM plans WHERE workspace_id = ${lit(ws)}`);
  let version = Number(last[0]?.v ?? 0) + 1;
  // Claimed ones are taken by saves that have not written their row yet (or died before it).
  while (!(await claim(ch, ws, version))) version++;
  await ch.insert('plans', [
    { workspace_id: ws, version, created_ms: at.getTime(), plan: JSON.stringify(plan), id: uuidv7() },
  ]);
  return { version, createdAt: at, plan };
}

/** Drops a deleted workspace's claims, so that its id may save a version 1 again. */
export async function dropClaims(ch: ClickHouse, ws: string): Promise<void> {
  const rows = await ch.rows(
    `SELECT name FROM system.tables WHERE database = currentDatabase() AND startsWith(name, ${lit(claimPrefix(ws))})`,
  );
  for (const r of rows) await ch.exec(`DROP TABLE IF EXISTS ${String(r.name).replace(/[^A-Za-z0-9_]/g, '')}`);
}

export async function getPlan(ch: ClickHouse, ws: string, version?: number): Promise<StoredPlan | null> {
  const which = version === undefined ? 'ORDER BY v DESC LIMIT 1' : `AND v = ${Math.trunc(version)}`;
  const rows = await ch.rows(`SELECT * FROM ${VERSIONS} WHERE w = ${lit(ws)} ${which}`);
  return rows[0] ? toPlan(rows[0]) : null;
}

export async function listPlans(
  ch: ClickHouse,
  ws: string,
): Promise<Array<{ version: number; createdAt: Date }>> {
  const rows = await ch.rows(`SELECT v, c FROM ${VERSIONS} WHERE w = ${lit(ws)} ORDER BY v DESC`);
  return rows.map((r) => ({ version: Number(r.v), createdAt: new Date(Number(r.c)) }));
}

/** A digest of the set of stored (workspace, version) pairs: their count and the XOR of their 64-bit hashes. */
export async function plansVersion(ch: ClickHouse): Promise<string> {
  const rows = await ch.rows(
    `SELECT count() AS n, toString(groupBitXor(cityHash64(w, v))) AS x FROM
       (SELECT DISTINCT workspace_id AS w, version AS v FROM plans)`,
  );
  return `${Number(rows[0]?.n ?? 0)}:${String(rows[0]?.x ?? 0)}`;
}

export async function currentPlans(ch: ClickHouse): Promise<Array<StoredPlan & { workspaceId: string }>> {
  const rows = await ch.rows(
    `SELECT * FROM ${VERSIONS}
      WHERE (w, v) IN (SELECT workspace_id, max(version) FROM plans GROUP BY workspace_id)`,
  );
  return rows.map((r) => ({ workspaceId: String(r.w), ...toPlan(r) }));
}

/** Stored versions, all workspaces (admin.counts). */
export async function countPlans(ch: ClickHouse): Promise<number> {
  const rows = await ch.rows('SELECT count() AS n FROM (SELECT DISTINCT workspace_id, version FROM plans)');
  return Number(rows[0]?.n ?? 0);
}
