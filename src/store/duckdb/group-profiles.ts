// Group calls inside the ingest transaction: merge the group's traits (profiles/traits.ts) and record members.
import { listValue } from '@duckdb/node-api';
import type { WorkspaceEffects } from '../../profiles/effects.ts';
import { materialize, mergeTraitStates, type TraitNode } from '../../profiles/traits.ts';
import type { Db } from './db.ts';

const IN_LIST = 'IN (SELECT unnest(?::VARCHAR[]))';

export async function applyGroups(db: Db, ws: string, fx: WorkspaceEffects): Promise<void> {
  if (fx.groups.size === 0) return;
  const stored = await db.all(
    `SELECT group_id, state FROM group_profiles WHERE workspace_id = ? AND group_id ${IN_LIST}`,
    [ws, listValue([...fx.groups.keys()])],
  );
  const prior = new Map(stored.map((r) => [String(r.group_id), JSON.parse(String(r.state)) as TraitNode]));
  const gids = [...fx.groups.keys()];
  const gs = gids.map((g) => fx.groups.get(g) as NonNullable<ReturnType<typeof fx.groups.get>>);
  const states = gids.map((g, i) => mergeTraitStates(prior.get(g), gs[i]?.state));
  await db.run(
    `INSERT INTO group_profiles SELECT ?, unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[]),
       epoch_ms(unnest(?::BIGINT[])), epoch_ms(unnest(?::BIGINT[]))
     ON CONFLICT (workspace_id, group_id) DO UPDATE SET state = excluded.state, traits = excluded.traits,
       first_seen = least(group_profiles.first_seen, excluded.first_seen),
       last_seen = greatest(group_profiles.last_seen, excluded.last_seen)`,
    [
      ws,
      listValue(gids),
      listValue(states.map((s) => JSON.stringify(s))),
      listValue(states.map((s) => JSON.stringify(materialize(s)))),
      listValue(gs.map((g) => BigInt(g.first))),
      listValue(gs.map((g) => BigInt(g.last))),
    ],
  );
  const mg: string[] = [];
  const mm: string[] = [];
  const mt: bigint[] = [];
  for (const [g, members] of fx.members) {
    for (const [m, t] of members) {
      mg.push(g);
      mm.push(m);
      mt.push(BigInt(t));
    }
  }
  await db.run(
    `INSERT INTO group_members SELECT ?, unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), epoch_ms(unnest(?::BIGINT[]))
     ON CONFLICT (workspace_id, group_id, member_id) DO UPDATE SET since = least(group_members.since, excluded.since)`,
    [ws, listValue(mg), listValue(mm), listValue(mt)],
  );
}
