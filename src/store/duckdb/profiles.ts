// Profile effects of newly stored events, applied inside the ingest transaction (write.ts) so a 2xx means the
// profile change is as durable as the event. Set-based: a few statements per workspace per batch, with the
// batch's values bound as lists, never a round trip per event.
import { listValue } from '@duckdb/node-api';
import type { CanonicalEvent } from '../../core/event.ts';
import { profileEffects, type WorkspaceEffects } from '../../profiles/effects.ts';
import {
  type IdentityPlan,
  type KnownId,
  personsToInspect,
  planIdentities,
} from '../../profiles/identity.ts';
import { materialize, mergeTraitStates, type TraitNode } from '../../profiles/traits.ts';
import type { Db } from './db.ts';
import { applyGroups } from './group-profiles.ts';
import type { ProfileCaches, ProfileChanges, TableCache } from './profile-cache.ts';

const strs = (xs: Iterable<string>) => listValue([...xs]);
const IN_LIST = 'IN (SELECT unnest(?::VARCHAR[]))';

/**
 * Applies the profile effects of `events` (all of them newly stored); `cap` is the most ids one person may
 * have. Returns the changes for `caches`, to apply once the transaction has committed.
 */
export async function applyProfiles(
  db: Db,
  events: readonly CanonicalEvent[],
  cap: number,
  caches: ProfileCaches,
): Promise<ProfileChanges> {
  const changes: ProfileChanges = { identities: [], traits: [] };
  // Events the cached identities already settle add no ids or links (profiles/effects.ts): the common case,
  // a known user's events, then costs a few map lookups. The cache only holds committed rows, as lookup does.
  const effects = profileEffects(events, (ws) => caches.identities.scope(ws));
  for (const [ws, fx] of effects) await applyWorkspace(db, ws, fx, cap, caches, changes);
  return changes;
}

/** The stored identities of the batch's ids: from the cache, and from the database for what it lacks. */
async function lookup(db: Db, ws: string, ids: Iterable<string>, cache: ProfileCaches['identities']) {
  const known = new Map<string, KnownId>();
  const misses: string[] = [];
  for (const id of ids) {
    const c = cache.get(ws, id);
    if (c) known.set(id, { person: c.person, isUser: c.isUser });
    else misses.push(id);
  }
  if (misses.length > 0 && !cache.complete) {
    const rows = await db.all(
      `SELECT id, person_id, is_user FROM identities WHERE workspace_id = ? AND id ${IN_LIST}`,
      [ws, listValue(misses)],
    );
    for (const r of rows) {
      const entry = { person: String(r.person_id), isUser: r.is_user === true };
      known.set(String(r.id), { ...entry });
      cache.remember(ws, String(r.id), entry);
    }
  }
  return known;
}

async function applyWorkspace(
  db: Db,
  ws: string,
  fx: WorkspaceEffects,
  cap: number,
  caches: ProfileCaches,
  changes: ProfileChanges,
): Promise<void> {
  const plan = fx.ids.size > 0 ? await applyIdentities(db, ws, fx, cap, caches, changes) : NO_MOVES;
  await applyPersonTraits(db, ws, fx, plan.personOf, plan.remap, caches.traits, changes);
  await applyGroups(db, ws, fx);
}

const NO_MOVES: Pick<IdentityPlan, 'personOf' | 'remap'> = { personOf: new Map(), remap: new Map() };

async function applyIdentities(
  db: Db,
  ws: string,
  fx: WorkspaceEffects,
  cap: number,
  caches: ProfileCaches,
  changes: ProfileChanges,
): Promise<IdentityPlan> {
  const known = await lookup(db, ws, fx.ids.keys(), caches.identities);
  const sizes = new Map<string, number>();
  const inspect = personsToInspect(fx.links, known, fx.ids);
  if (inspect.size > 0) {
    const persons = await db.all(
      `SELECT person_id, count(*)::BIGINT AS n, bool_or(is_user AND id = person_id) AS person_is_user
       FROM identities WHERE workspace_id = ? AND person_id ${IN_LIST} GROUP BY person_id`,
      [ws, strs(inspect)],
    );
    const isUser = new Map(persons.map((r) => [String(r.person_id), r.person_is_user === true]));
    for (const r of persons) sizes.set(String(r.person_id), Number(r.n));
    for (const k of known.values()) if (isUser.has(k.person)) k.personIsUser = isUser.get(k.person);
  }
  const plan = planIdentities({ ids: fx.ids, links: fx.links, known, sizes, cap });

  // New ids are inserted; a stored id changes only when first seen as a userId or when its person merges.
  const fresh = [...fx.ids.keys()].filter((id) => !known.has(id));
  if (fresh.length > 0) {
    await db.run(
      'INSERT INTO identities SELECT ?, unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::BOOLEAN[])',
      [
        ws,
        listValue(fresh),
        listValue(fresh.map((id) => plan.personOf.get(id) as string)),
        listValue(fresh.map((id) => fx.ids.get(id) === true)),
      ],
    );
  }
  const nowUser = [...known].filter(([id, k]) => !k.isUser && fx.ids.get(id) === true).map(([id]) => id);
  if (nowUser.length > 0) {
    await db.run(`UPDATE identities SET is_user = true WHERE workspace_id = ? AND id ${IN_LIST}`, [
      ws,
      listValue(nowUser),
    ]);
  }
  for (const id of fx.ids.keys()) {
    const k = known.get(id);
    const person = plan.personOf.get(id) as string;
    const isUser = k?.isUser === true || fx.ids.get(id) === true;
    if (!k || k.person !== person || k.isUser !== isUser)
      changes.identities.push([ws, id, { person, isUser }]);
  }
  if (plan.remap.size > 0) {
    const moved = await db.all(
      `UPDATE identities SET person_id = m.to_p
       FROM (SELECT unnest(?::VARCHAR[]) AS from_p, unnest(?::VARCHAR[]) AS to_p) m
       WHERE identities.workspace_id = ? AND identities.person_id = m.from_p
       RETURNING identities.id, identities.person_id, identities.is_user`,
      [strs(plan.remap.keys()), strs(plan.remap.values()), ws],
    );
    for (const r of moved) {
      changes.identities.push([
        ws,
        String(r.id),
        { person: String(r.person_id), isUser: r.is_user === true },
      ]);
    }
  }
  if (plan.refused.length > 0) {
    // One row per refused pair: a shared device keeps asking on every event, the answer stays the same.
    const pairs = [...new Map(plan.refused.map((r) => [`${r.a}\0${r.b}`, r])).values()];
    await db.run(
      `INSERT INTO identity_refusals SELECT ?, unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[]),
         epoch_ms(unnest(?::BIGINT[])), unnest(?::VARCHAR[])
       ON CONFLICT DO NOTHING`,
      [
        ws,
        listValue(pairs.map((r) => r.a)),
        listValue(pairs.map((r) => r.b)),
        listValue(pairs.map((r) => r.messageId)),
        listValue(pairs.map((r) => BigInt(r.t))),
        listValue(pairs.map((r) => r.reason)),
      ],
    );
  }
  return plan;
}

/** Merges trait changes into persons, and the traits of persons merged away into their new person. */
async function applyPersonTraits(
  db: Db,
  ws: string,
  fx: WorkspaceEffects,
  personOf: Map<string, string>,
  remap: Map<string, string>,
  cache: TableCache<string>,
  changes: ProfileChanges,
): Promise<void> {
  const delta = new Map<string, TraitNode>();
  for (const [actor, state] of fx.userTraits) {
    const stored = fx.storedPersons.get(actor);
    const p = personOf.get(actor) ?? remap.get(stored as string) ?? (stored as string);
    delta.set(p, mergeTraitStates(delta.get(p), state));
  }
  if (delta.size === 0 && remap.size === 0) return;
  const wanted = new Set([...delta.keys(), ...remap.keys(), ...remap.values()]);
  const stored = new Map<string, string>();
  const misses: string[] = [];
  for (const p of wanted) {
    const state = cache.get(ws, p);
    if (state !== undefined) stored.set(p, state);
    else misses.push(p);
  }
  if (misses.length > 0 && !cache.complete) {
    const rows = await db.all(
      `SELECT person_id, state FROM persons WHERE workspace_id = ? AND person_id ${IN_LIST}`,
      [ws, listValue(misses)],
    );
    for (const r of rows) {
      stored.set(String(r.person_id), String(r.state));
      cache.remember(ws, String(r.person_id), String(r.state));
    }
  }
  const next = new Map(delta);
  const movedAway: string[] = [];
  for (const [from, state] of stored) {
    const to = remap.get(from) ?? from;
    if (to !== from) movedAway.push(from);
    next.set(to, mergeTraitStates(next.get(to), JSON.parse(state) as TraitNode));
  }
  if (movedAway.length > 0) {
    await db.run(`DELETE FROM persons WHERE workspace_id = ? AND person_id ${IN_LIST}`, [
      ws,
      listValue(movedAway),
    ]);
    for (const p of movedAway) changes.traits.push([ws, p, null]);
  }
  if (next.size === 0) return;
  const states = [...next.values()].map((s) => JSON.stringify(s));
  const persons = [...next.keys()];
  persons.forEach((p, i) => {
    changes.traits.push([ws, p, states[i] as string]);
  });
  await db.run(
    `INSERT INTO persons SELECT ?, unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[])
     ON CONFLICT (workspace_id, person_id) DO UPDATE SET state = excluded.state, traits = excluded.traits`,
    [
      ws,
      listValue(persons),
      listValue(states),
      listValue([...next.values()].map((s) => JSON.stringify(materialize(s)))),
    ],
  );
}
