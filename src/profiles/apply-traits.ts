// Trait changes of a batch stored through the port (port.ts): persons' traits merged (traits.ts), including
// the traits of persons merged away into their new person, and group calls' traits and members.
import type { ProfileCaches, ProfileChanges } from './cache.ts';
import type { WorkspaceEffects } from './effects.ts';
import type { IdentityPlan } from './identity.ts';
import type { Memberships, ProfilePort } from './port.ts';
import { materialize, mergeTraitStates, type TraitNode } from './traits.ts';

/** Merges trait changes into persons, and the traits of persons merged away into their new person. */
export async function applyPersonTraits(
  port: ProfilePort,
  ws: string,
  fx: WorkspaceEffects,
  { personOf, remap }: Pick<IdentityPlan, 'personOf' | 'remap'>,
  cache: ProfileCaches['traits'],
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
    for (const r of await port.traitStates(ws, misses)) {
      stored.set(r.person, r.state);
      cache.remember(ws, r.person, r.state);
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
    await port.deletePersons(ws, movedAway);
    for (const p of movedAway) changes.traits.push([ws, p, null]);
  }
  if (next.size === 0) return;
  const states = [...next.values()].map((s) => JSON.stringify(s));
  const persons = [...next.keys()];
  persons.forEach((p, i) => {
    changes.traits.push([ws, p, states[i] as string]);
  });
  await port.upsertPersons(ws, {
    persons,
    states,
    traits: [...next.values()].map((s) => JSON.stringify(materialize(s))),
  });
}

/** Merges group calls' traits into their groups (first and last seen kept) and records their members. */
export async function applyGroups(port: ProfilePort, ws: string, fx: WorkspaceEffects): Promise<void> {
  if (fx.groups.size === 0) return;
  const gids = [...fx.groups.keys()];
  const prior = new Map(
    (await port.groupStates(ws, gids)).map((r) => [r.group, JSON.parse(r.state) as TraitNode]),
  );
  const gs = gids.map((g) => fx.groups.get(g) as NonNullable<ReturnType<typeof fx.groups.get>>);
  const states = gids.map((g, i) => mergeTraitStates(prior.get(g), gs[i]?.state));
  await port.upsertGroups(ws, {
    groups: gids,
    states: states.map((s) => JSON.stringify(s)),
    traits: states.map((s) => JSON.stringify(materialize(s))),
    first: gs.map((g) => g.first),
    last: gs.map((g) => g.last),
  });
  const members: Memberships = { groups: [], members: [], since: [] };
  for (const [g, ms] of fx.members) {
    for (const [m, t] of ms) {
      members.groups.push(g);
      members.members.push(m);
      members.since.push(t);
    }
  }
  await port.upsertMembers(ws, members);
}
