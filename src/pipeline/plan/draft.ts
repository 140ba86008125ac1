// A draft tracking plan from what the data dictionary saw: every name seen in the window, with a schema of the
// paths seen there, so that the plan accepts every event it was made from. A path is required when every event
// of its name (all time) held it, or, nested, every event holding its parent object; paths under arrays are
// never required (an array may be empty). Types are those seen (an integer-only path is `integer`; one that
// also held fractions is `number`), with up to 3 `examples` as JSON Schema annotations.
import type { DictionaryKind, JsonType } from '../dictionary/observe.ts';
import type { TrackingPlan } from './format.ts';

/** What the draft reads of a dictionary entry (store/governance.ts NameDetail fits it). */
export interface SeenName {
  kind: DictionaryKind;
  name: string;
  count: number;
  properties: Array<{
    path: string;
    count: number;
    types: Partial<Record<JsonType, number>>;
    examples: unknown[];
  }>;
}

interface Node {
  count: number;
  types: Set<JsonType>;
  examples: unknown[];
  children: Map<string, Node>;
  items: Node | null;
}

const node = (): Node => ({ count: 0, types: new Set(), examples: [], children: new Map(), items: null });

/** A path's steps: `a`, `["a.b"]` (a quoted key), `[]` (the items of an array); pipeline/dictionary's syntax. */
export function parsePath(path: string): Array<string | null> {
  const out: Array<string | null> = [];
  let i = 0;
  while (i < path.length) {
    if (path.startsWith('[]', i)) {
      out.push(null);
      i += 2;
    } else if (path.startsWith('["', i)) {
      // A JSON string literal: up to the first quote not escaped (a backslash escapes the character after it).
      let j = i + 2;
      while (j < path.length && path[j] !== '"') j += path[j] === '\\' ? 2 : 1;
      out.push(JSON.parse(path.slice(i + 1, j + 1)) as string);
      i = j + 2;
    } else {
      if (path[i] === '.') i++;
      let j = i;
      while (j < path.length && path[j] !== '.' && path[j] !== '[') j++;
      out.push(path.slice(i, j));
      i = j;
    }
  }
  return out;
}

function tree(paths: SeenName['properties']): Node {
  const root = node();
  for (const p of paths) {
    let at = root;
    const steps = parsePath(p.path);
    for (const step of steps) {
      let next = step === null ? at.items : at.children.get(step);
      if (!next) {
        next = node();
        if (step === null) at.items = next;
        else at.children.set(step, next);
      }
      at = next;
    }
    at.count = p.count;
    for (const t of Object.keys(p.types) as JsonType[]) at.types.add(t);
    at.examples = p.examples;
  }
  return root;
}

function schemaOf(n: Node, presence: number | null): Record<string, unknown> {
  // An integer is a number: `number` alone when both were seen.
  const types = [...n.types].filter((t) => t !== 'integer' || !n.types.has('number'));
  const s: Record<string, unknown> = {};
  if (types.length === 1) s.type = types[0];
  else if (types.length > 1) s.type = types;
  if (n.children.size > 0) objectPart(s, n, presence);
  if (n.items) s.items = schemaOf(n.items, null);
  if (n.examples.length > 0) s.examples = n.examples;
  return s;
}

/** `presence`: events holding the object (null under an array, where nothing is required). */
function objectPart(s: Record<string, unknown>, n: Node, presence: number | null): void {
  const properties: Record<string, unknown> = {};
  const required: string[] = [];
  for (const [k, child] of n.children) {
    // A child's own presence as an object: events where it held an object (its count when always one).
    properties[k] = schemaOf(child, presence === null ? null : child.count);
    if (presence !== null && child.count >= presence) required.push(k);
  }
  s.properties = properties;
  if (required.length > 0) s.required = required;
}

function rootSchema(seen: SeenName): Record<string, unknown> {
  const s: Record<string, unknown> = { type: 'object' };
  const t = tree(seen.properties);
  if (t.children.size > 0) objectPart(s, t, seen.count);
  else s.properties = {};
  return s;
}

/** The draft plan: everything seen (pages and screens sections only when some were seen), every mode `allow`. */
export function draftPlan(seen: readonly SeenName[]): TrackingPlan {
  const plan: TrackingPlan = {
    draft: '2020-12',
    modes: {
      unplannedEvent: 'allow',
      unplannedProperty: 'allow',
      missingRequired: 'allow',
      wrongType: 'allow',
      naming: 'allow',
    },
    events: {},
  };
  for (const n of seen) {
    if (n.kind === 'identify' || n.kind === 'group') {
      plan[n.kind] = { traits: rootSchema(n) };
      continue;
    }
    const section = n.kind === 'track' ? 'events' : n.kind === 'page' ? 'pages' : 'screens';
    plan[section] ??= {};
    (plan[section] as Record<string, unknown>)[n.name] = { properties: rootSchema(n) };
  }
  return plan;
}
