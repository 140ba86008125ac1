// Tracking plans on ClickHouse: one row per version of a workspace's plan, never changed once written. Without
// transactions the next version number is taken, then checked: each save's row has an id (UUIDv7), and when
// two saves (on two nodes) took the same number, the smaller id keeps it and the other deletes its row and
// takes the next. Reads see the smaller id's row of a version, so a loser's row is never read.
import { uuidv7 } from '../../core/ids.ts';
import type { StoredPlan } from '../governance.ts';
import { type ChRow, type ClickHouse, lit } from './http.ts';
import { mutationsDone } from './load.ts';

/** Every version once: the row with the smallest id of each (workspace, version). */
const VERSIONS = `(SELECT workspace_id AS w, version AS v, argMin(created_ms, id) AS c, argMin(plan, id) AS p
  FROM plans GROUP BY workspace_id, version)`;

const toPlan = (r: ChRow): StoredPlan => ({
  version: Number(r.v),
  createdAt: new Date(Number(r.c)),
  plan: JSON.parse(String(r.p)) as Record<string, unknown>,
});

export async function savePlan(
  ch: ClickHouse,
  ws: string,
  plan: Record<string, unknown>,
  at: Date,
): Promise<StoredPlan> {
  const id = uuidv7();
  const text = JSON.stringify(plan);
  for (;;) {
    const last = await ch.rows(`SELECT max(version) AS v FROM plans WHERE workspace_id = ${lit(ws)}`);
    const version = Number(last[0]?.v ?? 0) + 1;
    await ch.insert('plans', [{ workspace_id: ws, version, created_ms: at.getTime(), plan: text, id }]);
    const owners = await ch.rows(
      `SELECT min(id) AS id FROM plans WHERE workspace_id = ${lit(ws)} AND version = ${version}`,
    );
    if (owners[0]?.id === id) return { version, createdAt: at, plan };
    await ch.exec(`ALTER TABLE plans DELETE WHERE id = ${lit(id)}`);
    await mutationsDone(ch, 'plans');
  }
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
