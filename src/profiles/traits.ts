// Trait merging as a last-writer-wins tree keyed by event time: every path remembers when it was last set,
// so merging is commutative, associative and idempotent and out-of-order arrival gives the same profile.
import type { JsonObject } from '../core/event.ts';

/**
 * The stored merge state of one profile's traits. At each path: `t`/`v` is the latest scalar (or array, or
 * null = deleted) set there and when (ms); `o` is the latest time an object was set there, with its keys in `c`.
 */
export interface TraitNode {
  t?: number;
  v?: unknown;
  o?: number;
  c?: Record<string, TraitNode>;
}

const isPlainObject = (v: unknown): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const hasOwn = (o: object, k: string): boolean => Object.hasOwn(o, k);

/** The state of `value` set at time `t` (ms). An object merges key by key; null deletes; anything else replaces. */
export function traitState(value: unknown, t: number): TraitNode {
  if (!isPlainObject(value)) return { t, v: value === undefined ? null : value };
  const c: Record<string, TraitNode> = {};
  for (const k of Object.keys(value)) c[k] = traitState(value[k], t);
  return { o: t, c };
}

/** Deterministic winner between two scalars set at the same time, so ties do not depend on arrival order. */
function laterScalar(a: TraitNode, b: TraitNode): TraitNode {
  const ta = a.t ?? -Infinity;
  const tb = b.t ?? -Infinity;
  if (ta !== tb) return ta > tb ? a : b;
  return JSON.stringify(a.v) >= JSON.stringify(b.v) ? a : b;
}

/** Drops what a later scalar or deletion at this path or above (`killedAt`) has overwritten. */
function prune(n: TraitNode, killedAt: number): TraitNode | undefined {
  const out: TraitNode = {};
  if (n.t !== undefined && n.t > killedAt) {
    out.t = n.t;
    out.v = n.v;
  }
  if (n.o !== undefined && n.o > killedAt) out.o = n.o;
  if (n.c) {
    const kill = Math.max(killedAt, out.t ?? -Infinity);
    const c: Record<string, TraitNode> = {};
    let any = false;
    for (const k of Object.keys(n.c)) {
      const child = prune(n.c[k] as TraitNode, kill);
      if (child) {
        c[k] = child;
        any = true;
      }
    }
    if (any) out.c = c;
  }
  return out.t === undefined && out.o === undefined && out.c === undefined ? undefined : out;
}

function join(a: TraitNode, b: TraitNode): TraitNode {
  const out: TraitNode = {};
  if (a.t !== undefined || b.t !== undefined) {
    const w = laterScalar(a, b);
    out.t = w.t;
    out.v = w.v;
  }
  if (a.o !== undefined || b.o !== undefined) out.o = Math.max(a.o ?? -Infinity, b.o ?? -Infinity);
  if (a.c || b.c) {
    const c: Record<string, TraitNode> = { ...a.c };
    for (const k of Object.keys(b.c ?? {})) {
      const bk = (b.c as Record<string, TraitNode>)[k] as TraitNode;
      c[k] = hasOwn(c, k) ? join(c[k] as TraitNode, bk) : bk;
    }
    out.c = c;
  }
  return out;
}

/** Merges two states (either may be missing). The result is the same whatever the order of merges. */
export function mergeTraitStates(a: TraitNode | undefined, b: TraitNode | undefined): TraitNode {
  if (!a) return b ?? {};
  if (!b) return a;
  return prune(join(a, b), -Infinity) ?? {};
}

/** The traits a state stands for: the visible JSON object. */
export function materialize(state: TraitNode | undefined): JsonObject {
  const out: JsonObject = {};
  for (const [k, child] of Object.entries(state?.c ?? {})) {
    const v = value(child);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

function value(n: TraitNode): unknown {
  // A scalar wins over an object set at the same instant (a deterministic tie-break).
  if (n.t !== undefined && (n.o === undefined || n.t >= n.o)) return n.v === null ? undefined : n.v;
  if (n.o === undefined) return undefined;
  return materialize(n);
}

/** Applies `traits` set at time `t` to `state`: the one-call form of traitState + mergeTraitStates. */
export function applyTraits(state: TraitNode | undefined, traits: JsonObject, t: number): TraitNode {
  return mergeTraitStates(state, traitState(traits, t));
}
