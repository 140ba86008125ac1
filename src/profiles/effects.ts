// What a batch of newly stored events does to profiles, gathered per workspace in one pass and with no I/O:
// the ids and links for the identity graph, and trait changes for users and groups. An event whose ids are all
// stored already, as they are, and already in one person changes nothing in the graph; given the stored ids
// (a cache), such an event costs a few lookups and adds no id or link.
import { type CanonicalEvent, type JsonObject, nonEmptyObject } from '../core/event.ts';
import type { Link } from './identity.ts';
import { applyTraits, type TraitNode } from './traits.ts';

export interface WorkspaceEffects {
  /** Every id seen, with whether it was seen as a userId, except those of the events the stored ids settle. */
  ids: Map<string, boolean>;
  /**
   * The stored person of each actor of a settled event that changes traits, as stored before the batch (the
   * batch may still merge it into another: resolve through the plan's remap).
   */
  storedPersons: Map<string, string>;
  links: Link[];
  /** User trait changes, by the id the event was attributed to (resolved to its person later). */
  userTraits: Map<string, TraitNode>;
  groups: Map<string, { state: TraitNode | undefined; first: number; last: number }>;
  /** group id → member id → time of the group call. */
  members: Map<string, Map<string, number>>;
}

function empty(): WorkspaceEffects {
  return {
    ids: new Map(),
    storedPersons: new Map(),
    links: [],
    userTraits: new Map(),
    groups: new Map(),
    members: new Map(),
  };
}

function seeId(fx: WorkspaceEffects, id: string | null, isUser: boolean): void {
  if (id === null) return;
  if (isUser || !fx.ids.has(id)) fx.ids.set(id, isUser || fx.ids.get(id) === true);
}

/** A stored id as far as the effects need it: its person, and whether it was ever seen as a userId. */
export interface StoredId {
  person: string;
  isUser: boolean;
}

/** The stored ids of one workspace (all or some of them: a missing id only means the event takes the long way). */
export type StoredIds = (workspaceId: string) => ReadonlyMap<string, StoredId> | undefined;

/**
 * Whether the identity graph already holds everything `e` says: each of its ids stored, its userId stored as a
 * userId, and each id it links to its userId already in the userId's person. Links only merge persons, so a
 * link that holds at the start of a batch holds at its end, whatever else the batch does.
 */
function settled(e: CanonicalEvent, stored: ReadonlyMap<string, StoredId>): boolean {
  if (e.userId === null) return holds(stored, e.anonymousId, null) && holds(stored, aliasOf(e), null);
  const k = stored.get(e.userId);
  if (k === undefined || !k.isUser) return false;
  return holds(stored, e.anonymousId, k.person) && holds(stored, aliasOf(e), k.person);
}

/** Whether `id` is absent, or stored (in `person`, when one is given). No closure: this runs per event. */
function holds(stored: ReadonlyMap<string, StoredId>, id: string | null, person: string | null): boolean {
  if (id === null) return true;
  const k = stored.get(id);
  return k !== undefined && (person === null || k.person === person);
}

const aliasOf = (e: CanonicalEvent): string | null => (e.type === 'alias' ? e.previousId : null);

/** The id an event is attributed to (its person's event, trait change or membership): userId, else anonymousId. */
export const actorOf = (e: Pick<CanonicalEvent, 'userId' | 'anonymousId'>): string | null =>
  e.userId ?? e.anonymousId;

function addEvent(
  fx: WorkspaceEffects,
  e: CanonicalEvent,
  stored: ReadonlyMap<string, StoredId> | undefined,
): void {
  const t = e.timestamp.getTime();
  const known = stored !== undefined && settled(e, stored);
  if (!known) {
    seeId(fx, e.userId, true);
    seeId(fx, e.anonymousId, false);
    seeId(fx, aliasOf(e), false);
    if (e.userId && e.anonymousId && e.userId !== e.anonymousId)
      fx.links.push({ a: e.anonymousId, b: e.userId, t, messageId: e.messageId });
    if (e.type === 'alias' && e.previousId && e.userId && e.previousId !== e.userId)
      fx.links.push({ a: e.previousId, b: e.userId, t, messageId: e.messageId });
  }

  const actor = actorOf(e);
  if (actor === null) return;

  // A group call's own traits describe the group; context.traits always describe the user.
  const own = e.type !== 'group' && nonEmptyObject(e.traits);
  const context = nonEmptyObject(e.context.traits);
  if ((own || context) && known) fx.storedPersons.set(actor, (stored.get(actor) as StoredId).person);
  if (own) fx.userTraits.set(actor, applyTraits(fx.userTraits.get(actor), e.traits, t));
  if (context)
    fx.userTraits.set(actor, applyTraits(fx.userTraits.get(actor), e.context.traits as JsonObject, t));

  if (e.type === 'group' && e.groupId) {
    const g = fx.groups.get(e.groupId) ?? { state: undefined, first: t, last: t };
    if (nonEmptyObject(e.traits)) g.state = applyTraits(g.state, e.traits, t);
    g.first = Math.min(g.first, t);
    g.last = Math.max(g.last, t);
    fx.groups.set(e.groupId, g);
    const m = fx.members.get(e.groupId) ?? new Map<string, number>();
    m.set(actor, Math.min(m.get(actor) ?? t, t));
    fx.members.set(e.groupId, m);
  }
}

/**
 * Gathers the profile effects of `events`, per workspace; `stored` lets settled events skip the graph. `out`
 * carries on from an earlier call (a batch gathered in slices, letting the event loop run between them).
 */
export function profileEffects(
  events: Iterable<CanonicalEvent>,
  stored?: StoredIds,
  out: Map<string, WorkspaceEffects> = new Map(),
): Map<string, WorkspaceEffects> {
  let ws: string | undefined;
  let fx = empty();
  let ids: ReadonlyMap<string, StoredId> | undefined;
  for (const e of events) {
    if (e.workspaceId !== ws) {
      ws = e.workspaceId;
      let f = out.get(ws);
      if (!f) {
        f = empty();
        out.set(ws, f);
      }
      fx = f;
      ids = stored?.(ws);
    }
    addEvent(fx, e, ids);
  }
  return out;
}
