// Profile effects of newly stored events, applied by the store inside its load transaction, so a loaded event
// and its profile change are one. Engine-neutral: what to look up and what to write is decided here; the
// engine only runs the port's set-based calls (port.ts), a few per workspace per batch, never one per event.
import type { CanonicalEvent, EventViews } from '../core/event.ts';
import { nextTurn } from '../core/turns.ts';
import { applyGroups, applyPersonTraits } from './apply-traits.ts';
import type { ProfileCaches, ProfileChanges } from './cache.ts';
import { profileEffects, type WorkspaceEffects } from './effects.ts';
import { type IdentityPlan, type KnownId, personsToInspect, planSteps } from './identity.ts';
import type { ProfilePort } from './port.ts';

/**
 * Applies the profile effects of `events` (all of them newly stored); `cap` is the most ids one person may
 * have. Returns the changes for `caches`, to apply once the transaction has committed.
 */
export async function applyProfiles(
  port: ProfilePort,
  events: EventViews,
  cap: number,
  caches: ProfileCaches,
): Promise<ProfileChanges> {
  return applyProfileEffects(port, await gatherProfileEffects(events, caches), cap, caches);
}

/**
 * The effects of `events` per workspace (effects.ts), gathered a slice at a time: `each` sees every slice
 * first, so a caller's other per-event work shares the one pass (a log's compact events are decoded as they
 * are read, ingest/file/views.ts). Needs no I/O and no transaction; the caches must not change before the
 * effects are applied (loads are serialized).
 */
export async function gatherProfileEffects(
  events: EventViews,
  caches: ProfileCaches,
  each?: (slice: readonly CanonicalEvent[]) => void,
): Promise<Map<string, WorkspaceEffects>> {
  // Events the cached identities already settle add no ids or links (effects.ts): the common case, a known
  // user's events, then costs a few map lookups. The cache only holds committed rows, as lookup does.
  const effects = new Map<string, WorkspaceEffects>();
  const scope = (ws: string) => caches.identities.scope(ws);
  for (let i = 0; i < events.length; i += EVENTS_PER_SLICE) {
    const slice = events.slice(i, i + EVENTS_PER_SLICE);
    each?.(slice);
    profileEffects(slice, scope, effects);
    await nextTurn();
  }
  return effects;
}

/** Stores gathered effects (gatherProfileEffects) through `port`; returns the changes for `caches`. */
export async function applyProfileEffects(
  port: ProfilePort,
  effects: Map<string, WorkspaceEffects>,
  cap: number,
  caches: ProfileCaches,
): Promise<ProfileChanges> {
  const changes: ProfileChanges = { identities: [], traits: [] };
  for (const [ws, fx] of effects) {
    const plan = fx.ids.size > 0 ? await applyIdentities(port, ws, fx, cap, caches, changes) : NO_MOVES;
    await applyPersonTraits(port, ws, fx, plan, caches.traits, changes);
    await applyGroups(port, ws, fx);
  }
  return changes;
}

/**
 * The step runs on the main thread inside the load's transaction; a segment of 10,000 events with new identities
 * held the event loop 100-400 ms in one go (requests waiting behind it). Between slices of its work it takes
 * the event loop's turns (core/turns.ts) with the requests: the transaction stays open meanwhile (loads are
 * serialized, so nothing else changes the tables or the caches), so its effects stay atomic with the segment's
 * rows.
 */
const EVENTS_PER_SLICE = 1000;

const NO_MOVES: Pick<IdentityPlan, 'personOf' | 'remap'> = { personOf: new Map(), remap: new Map() };

/** The stored identities of the batch's ids: from the cache, and from the port for what it lacks. */
async function lookup(
  port: ProfilePort,
  ws: string,
  ids: Iterable<string>,
  cache: ProfileCaches['identities'],
) {
  const known = new Map<string, KnownId>();
  const misses: string[] = [];
  let n = 0;
  for (const id of ids) {
    if (++n % 2048 === 0) await nextTurn();
    const c = cache.get(ws, id);
    if (c) known.set(id, { person: c.person, isUser: c.isUser });
    else misses.push(id);
  }
  if (misses.length > 0 && !cache.complete) {
    for (const r of await port.identities(ws, misses)) {
      const entry = { person: r.person, isUser: r.isUser };
      known.set(r.id, { ...entry });
      cache.remember(ws, r.id, entry);
    }
  }
  return known;
}

/** Links the batch's ids into persons (identity.ts) and stores the result: new ids, new userIds, merges. */
async function applyIdentities(
  port: ProfilePort,
  ws: string,
  fx: WorkspaceEffects,
  cap: number,
  caches: ProfileCaches,
  changes: ProfileChanges,
): Promise<IdentityPlan> {
  const known = await lookup(port, ws, fx.ids.keys(), caches.identities);
  await nextTurn();
  const sizes = new Map<string, number>();
  const inspect = personsToInspect(fx.links, known, fx.ids);
  if (inspect.size > 0) {
    const persons = await port.personSizes(ws, [...inspect]);
    const isUser = new Map(persons.map((p) => [p.person, p.isUser]));
    for (const p of persons) sizes.set(p.person, p.size);
    for (const k of known.values()) if (isUser.has(k.person)) k.personIsUser = isUser.get(k.person);
  }
  await nextTurn();
  const steps = planSteps({ ids: fx.ids, links: fx.links, known, sizes, cap });
  let step = steps.next();
  for (; !step.done; step = steps.next()) await nextTurn();
  const plan = step.value;

  // New ids are inserted; a stored id changes only when first seen as a userId or when its person merges.
  const fresh = [...fx.ids.keys()].filter((id) => !known.has(id));
  if (fresh.length > 0) {
    await port.insertIdentities(ws, {
      ids: fresh,
      persons: fresh.map((id) => plan.personOf.get(id) as string),
      isUser: fresh.map((id) => fx.ids.get(id) === true),
    });
  }
  await nextTurn();
  const nowUser = [...known].filter(([id, k]) => !k.isUser && fx.ids.get(id) === true).map(([id]) => id);
  if (nowUser.length > 0) await port.markUsers(ws, nowUser);
  let n = 0;
  for (const id of fx.ids.keys()) {
    if (++n % 2048 === 0) await nextTurn();
    const k = known.get(id);
    const person = plan.personOf.get(id) as string;
    const isUser = k?.isUser === true || fx.ids.get(id) === true;
    if (!k || k.person !== person || k.isUser !== isUser)
      changes.identities.push([ws, id, { person, isUser }]);
  }
  await nextTurn();
  if (plan.remap.size > 0) {
    const moved = await port.remapPersons(ws, [...plan.remap.keys()], [...plan.remap.values()]);
    for (const r of moved) changes.identities.push([ws, r.id, { person: r.person, isUser: r.isUser }]);
  }
  if (plan.refused.length > 0) {
    // One row per refused pair: a shared device keeps asking on every event, the answer stays the same.
    const pairs = [...new Map(plan.refused.map((r) => [`${r.a}\0${r.b}`, r])).values()];
    await port.insertRefusals(ws, {
      a: pairs.map((r) => r.a),
      b: pairs.map((r) => r.b),
      messageIds: pairs.map((r) => r.messageId),
      at: pairs.map((r) => r.t),
      reasons: pairs.map((r) => r.reason),
    });
  }
  return plan;
}
