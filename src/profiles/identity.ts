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

// rank() as a class and an id, in planIdentities: EMPTY is the empty rank (a person nothing can change).
const EMPTY = 0;
const USER = 1;
const ANON = 2;

/** Whether rank (cls, id) is smaller than rank (cls2, id2), as rank()'s strings compare ('' equals ''). */
const better = (cls: number, id: string, cls2: number, id2: string): boolean =>
  cls < cls2 || (cls === cls2 && cls !== EMPTY && id < id2);

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
  const steps = planSteps(input);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** Items between two yields of planSteps. */
const STEP = 2048;

/**
 * planIdentities in steps: it yields every STEP items of work, so that a caller on the main thread may let the
 * event loop run between them (profiles/apply.ts); the plan is the generator's return value.
 */
export function* planSteps(input: IdentityInput): Generator<void, IdentityPlan, void> {
  const { ids, known, sizes, cap } = input;
  let work = 0;
  // The common batch: every id known, no link joins two persons, no id newly a userId. Nothing moves.
  if (sizes.size === 0 && [...ids.keys()].every((id) => known.has(id))) {
    if (personsToInspect(input.links, known, ids).size === 0) {
      const personOf = new Map<string, string>();
      for (const id of ids.keys()) personOf.set(id, (known.get(id) as KnownId).person);
      return { personOf, remap: new Map(), refused: [] };
    }
  }
  // Union-find over integer nodes (typed arrays, no string per rank): a batch of new identities puts every id
  // here, and the earlier maps of strings cost ~3.5 µs of CPU an event and most of the step's garbage.
  const bound = known.size * 2 + ids.size;
  const index = new Map<string, number>();
  const names: string[] = [];
  const parent = new Int32Array(bound);
  const weight = new Float64Array(bound);
  // The best (smallest) rank in each component, and the id that has it. A rank is a class (EMPTY: a person
  // nothing can change, which beats every other; USER; ANON) and the id: rank() with no string built.
  const bestClass = new Uint8Array(bound);
  const bestId: string[] = [];

  const find = (x: number): number => {
    let r = x;
    while (parent[r] !== r) r = parent[r] as number;
    for (let y = x; y !== r; ) {
      const next = parent[y] as number;
      parent[y] = r;
      y = next;
    }
    return r;
  };
  const node = (x: string, w: number, cls: number): number => {
    const found = index.get(x);
    if (found !== undefined) return found;
    const i = names.length;
    index.set(x, i);
    names.push(x);
    parent[i] = i;
    weight[i] = w;
    bestClass[i] = cls;
    bestId[i] = x;
    return i;
  };
  const union = (x: number, y: number): void => {
    const rx = find(x);
    const ry = find(y);
    if (rx === ry) return;
    const [keep, drop] = (names[rx] as string) < (names[ry] as string) ? [rx, ry] : [ry, rx];
    parent[drop] = keep;
    weight[keep] = (weight[keep] as number) + (weight[drop] as number);
    if (
      better(
        bestClass[drop] as number,
        bestId[drop] as string,
        bestClass[keep] as number,
        bestId[keep] as string,
      )
    ) {
      bestClass[keep] = bestClass[drop] as number;
      bestId[keep] = bestId[drop] as string;
    }
  };
  const improve = (x: number, id: string, cls: number) => {
    const root = find(x);
    if (better(cls, id, bestClass[root] as number, bestId[root] as string)) {
      bestClass[root] = cls;
      bestId[root] = id;
    }
  };

  // Stored persons are components already; their weight is their stored id count.
  for (const [id, k] of known) {
    if (++work % STEP === 0) yield;
    // A person nothing can change keeps its id: the empty rank beats every other.
    const person = node(
      k.person,
      sizes.get(k.person) ?? 0,
      k.personIsUser === undefined ? EMPTY : k.personIsUser ? USER : ANON,
    );
    const cls = k.isUser || ids.get(id) === true ? USER : ANON;
    const x = node(id, 0, cls);
    union(x, person);
    improve(x, id, cls);
  }
  for (const [id, isUser] of ids) {
    if (++work % STEP === 0) yield;
    if (!known.has(id)) node(id, 1, isUser ? USER : ANON);
  }

  const refused: RefusedLink[] = [];
  const links = [...input.links].sort(linkOrder);
  yield;
  for (const l of links) {
    if (++work % STEP === 0) yield;
    const ra = find(node(l.a, 0, ANON));
    const rb = find(node(l.b, 0, ANON));
    if (ra === rb) continue;
    const total = (weight[ra] as number) + (weight[rb] as number);
    if (total > cap) {
      refused.push({ ...l, reason: `the merged person would have ${total} ids, over the cap of ${cap}` });
      continue;
    }
    union(ra, rb);
  }

  const canonical = (x: string) => bestId[find(index.get(x) as number)] as string;
  const personOf = new Map<string, string>();
  for (const id of ids.keys()) {
    if (++work % STEP === 0) yield;
    personOf.set(id, canonical(id));
  }
  const remap = new Map<string, string>();
  for (const k of known.values()) {
    if (++work % STEP === 0) yield;
    const to = canonical(k.person);
    if (to !== k.person) remap.set(k.person, to);
  }
  return { personOf, remap, refused };
}
