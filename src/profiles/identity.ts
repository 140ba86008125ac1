// The identity graph: ids (userIds, anonymousIds, alias previousIds) that are linked resolve to one person.
// A batch's links are applied with union-find over the ids already known; the person's id is canonical and
// order-independent: the smallest userId of its ids, or the smallest anonymousId when it has no userId.

export interface KnownId {
  /** The person the id belongs to now. */
  person: string;
  /** Whether this id was ever seen as a userId. */
  isUser: boolean;
  /**
   * Whether that person has any userId (its canonical id is then a userId). Needed only for the persons
   * personsToInspect names; when absent the person keeps its id.
   */
  personIsUser?: boolean;
}

export interface Link {
  a: string;
  b: string;
  /** Event time, ms: links are applied oldest first. */
  t: number;
  messageId: string;
}

export interface IdentityInput {
  /** Every id in the batch, with whether it was seen as a userId in the batch. */
  ids: Map<string, boolean>;
  links: Link[];
  /** Batch ids already stored. */
  known: Map<string, KnownId>;
  /** Stored id count of each person that a link may grow (see personsToInspect). */
  sizes: Map<string, number>;
  /** Most ids one person may have; a link that would exceed it is refused. */
  cap: number;
}

export interface RefusedLink extends Link {
  reason: string;
}

export interface IdentityPlan {
  /** The person of every batch id after the batch. */
  personOf: Map<string, string>;
  /** Stored persons whose id changes (merged into another, or a better canonical id appeared): old → new. */
  remap: Map<string, string>;
  refused: RefusedLink[];
}

/** Orders ids for the canonical choice: userIds before anonymous ids, then by code unit. */
export const rank = (id: string, isUser: boolean): string => (isUser ? '0' : '1') + id;

const linkOrder = (x: Link, y: Link): number =>
  x.t - y.t || (x.a < y.a ? -1 : x.a > y.a ? 1 : x.b < y.b ? -1 : x.b > y.b ? 1 : 0);

const trivial = (l: Link, known: Map<string, KnownId>): boolean => {
  const a = known.get(l.a);
  const b = known.get(l.b);
  return a !== undefined && b !== undefined && a.person === b.person;
};

/**
 * The stored persons whose size and canonical kind the plan needs: those at an end of a link that may merge
 * something, and those with an id now seen as a userId for the first time (its canonical id may change).
 */
export function personsToInspect(
  links: Link[],
  known: Map<string, KnownId>,
  ids: Map<string, boolean>,
): Set<string> {
  const out = new Set<string>();
  for (const [id, k] of known) if (!k.isUser && ids.get(id) === true) out.add(k.person);
  for (const l of links) {
    if (trivial(l, known)) continue;
    for (const id of [l.a, l.b]) {
      const k = known.get(id);
      if (k) out.add(k.person);
    }
  }
  return out;
}

export function planIdentities(input: IdentityInput): IdentityPlan {
  const { ids, known, sizes, cap } = input;
  // The common batch: every id known, no link joins two persons, no id newly a userId. Nothing moves.
  if (sizes.size === 0 && [...ids.keys()].every((id) => known.has(id))) {
    if (personsToInspect(input.links, known, ids).size === 0) {
      const personOf = new Map<string, string>();
      for (const id of ids.keys()) personOf.set(id, (known.get(id) as KnownId).person);
      return { personOf, remap: new Map(), refused: [] };
    }
  }
  const parent = new Map<string, string>();
  const weight = new Map<string, number>();
  // The best (smallest) rank in each component, and the id that has it.
  const best = new Map<string, { rank: string; id: string }>();

  const find = (x: string): string => {
    let r = x;
    for (let p = parent.get(r); p !== undefined && p !== r; p = parent.get(r)) r = p;
    for (let y = x; y !== r; ) {
      const next = parent.get(y) as string;
      parent.set(y, r);
      y = next;
    }
    return r;
  };
  const node = (x: string, w: number, r: string) => {
    if (parent.has(x)) return;
    parent.set(x, x);
    weight.set(x, w);
    best.set(x, { rank: r, id: x });
  };
  const union = (x: string, y: string): void => {
    const rx = find(x);
    const ry = find(y);
    if (rx === ry) return;
    const [keep, drop] = rx < ry ? [rx, ry] : [ry, rx];
    parent.set(drop, keep);
    weight.set(keep, (weight.get(keep) ?? 0) + (weight.get(drop) ?? 0));
    const bk = best.get(keep) as { rank: string; id: string };
    const bd = best.get(drop) as { rank: string; id: string };
    if (bd.rank < bk.rank) best.set(keep, bd);
  };
  const improve = (x: string, r: string) => {
    const root = find(x);
    const b = best.get(root) as { rank: string; id: string };
    if (r < b.rank) best.set(root, { rank: r, id: x });
  };

  // Stored persons are components already; their weight is their stored id count.
  for (const [id, k] of known) {
    // A person nothing can change keeps its id: the empty rank beats every other.
    node(
      k.person,
      sizes.get(k.person) ?? 0,
      k.personIsUser === undefined ? '' : rank(k.person, k.personIsUser),
    );
    node(id, 0, rank(id, k.isUser || ids.get(id) === true));
    union(id, k.person);
    improve(id, rank(id, k.isUser || ids.get(id) === true));
  }
  for (const [id, isUser] of ids) if (!known.has(id)) node(id, 1, rank(id, isUser));

  const refused: RefusedLink[] = [];
  for (const l of [...input.links].sort(linkOrder)) {
    const ra = find(l.a);
    const rb = find(l.b);
    if (ra === rb) continue;
    const total = (weight.get(ra) ?? 0) + (weight.get(rb) ?? 0);
    if (total > cap) {
      refused.push({ ...l, reason: `the merged person would have ${total} ids, over the cap of ${cap}` });
      continue;
    }
    union(ra, rb);
  }

  const canonical = (x: string) => (best.get(find(x)) as { id: string }).id;
  const personOf = new Map<string, string>();
  for (const id of ids.keys()) personOf.set(id, canonical(id));
  const remap = new Map<string, string>();
  for (const k of known.values()) {
    const to = canonical(k.person);
    if (to !== k.person) remap.set(k.person, to);
  }
  return { personOf, remap, refused };
}
