// What a batch of newly stored events does to profiles, gathered per workspace in one pass and with no I/O:
// the ids and links for the identity graph, and trait changes for users and groups.
import type { CanonicalEvent, JsonObject } from '../pipeline/types.ts';
import type { Link } from './identity.ts';
import { applyTraits, type TraitNode } from './traits.ts';

export interface WorkspaceEffects {
  /** Every id seen, with whether it was seen as a userId. */
  ids: Map<string, boolean>;
  links: Link[];
  /** User trait changes, by the id the event was attributed to (resolved to its person later). */
  userTraits: Map<string, TraitNode>;
  groups: Map<string, { state: TraitNode | undefined; first: number; last: number }>;
  /** group id → member id → time of the group call. */
  members: Map<string, Map<string, number>>;
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const nonEmpty = (v: unknown): v is JsonObject => isObject(v) && Object.keys(v).length > 0;

function empty(): WorkspaceEffects {
  return {
    ids: new Map(),
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

/** The id an event is attributed to (its person's event, trait change or membership): userId, else anonymousId. */
export const actorOf = (e: Pick<CanonicalEvent, 'userId' | 'anonymousId'>): string | null =>
  e.userId ?? e.anonymousId;

function addEvent(fx: WorkspaceEffects, e: CanonicalEvent): void {
  const t = e.timestamp.getTime();
  seeId(fx, e.userId, true);
  seeId(fx, e.anonymousId, false);
  seeId(fx, e.type === 'alias' ? e.previousId : null, false);
  if (e.userId && e.anonymousId && e.userId !== e.anonymousId)
    fx.links.push({ a: e.anonymousId, b: e.userId, t, messageId: e.messageId });
  if (e.type === 'alias' && e.previousId && e.userId && e.previousId !== e.userId)
    fx.links.push({ a: e.previousId, b: e.userId, t, messageId: e.messageId });

  const actor = actorOf(e);
  if (actor === null) return;

  // A group call's own traits describe the group; context.traits always describe the user.
  const userTraits: JsonObject[] = [];
  if (e.type !== 'group' && nonEmpty(e.traits)) userTraits.push(e.traits);
  if (nonEmpty(e.context.traits)) userTraits.push(e.context.traits);
  for (const traits of userTraits) fx.userTraits.set(actor, applyTraits(fx.userTraits.get(actor), traits, t));

  if (e.type === 'group' && e.groupId) {
    const g = fx.groups.get(e.groupId) ?? { state: undefined, first: t, last: t };
    if (nonEmpty(e.traits)) g.state = applyTraits(g.state, e.traits, t);
    g.first = Math.min(g.first, t);
    g.last = Math.max(g.last, t);
    fx.groups.set(e.groupId, g);
    const m = fx.members.get(e.groupId) ?? new Map<string, number>();
    m.set(actor, Math.min(m.get(actor) ?? t, t));
    fx.members.set(e.groupId, m);
  }
}

/** Gathers the profile effects of `events`, per workspace. */
export function profileEffects(events: Iterable<CanonicalEvent>): Map<string, WorkspaceEffects> {
  const out = new Map<string, WorkspaceEffects>();
  for (const e of events) {
    let fx = out.get(e.workspaceId);
    if (!fx) {
      fx = empty();
      out.set(e.workspaceId, fx);
    }
    addEvent(fx, e);
  }
  return out;
}
