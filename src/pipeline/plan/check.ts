// Checking one event against a workspace's compiled tracking plan, on the ingest path after validate and before
// normalize (which serializes the JSON columns, so what `omit` removes and the marks added are in them): each
// violation's kind has a mode. `allow` keeps the event and marks it (`context.violationErrors`), `omit` keeps it
// without the offending values and marks it, `reject` refuses it (kept at /rejected with its violations); a
// single rejecting violation refuses the event. An event with no violation passes untouched, without an
// allocation: the common case costs the name lookups and the ajv validators' own time.
import type { JsonObject } from '../../core/event.ts';
import { RUDDERSTACK_TYPE, type Violation, type ViolationKind } from '../../core/violations.ts';
import type { ValidItem } from '../validate.ts';
import { type Compiled, compile, type ErrorObject, pointer, type Target, type Validator } from './compile.ts';
import { checkPlan } from './format.ts';

export type PlanResult =
  | { ok: true; value: ValidItem }
  | { ok: false; code: 'INTAKE_ERR_PLAN_VIOLATION'; reason: string; violations: Violation[] };

type Column = 'properties' | 'context' | 'traits';

interface Found {
  violation: Violation;
  /** What `omit` removes: a column and the path inside it; null when there is nothing to remove. */
  target: { column: Column; path: string[] } | null;
}

/**
 * Violations kept per event (the first ones found): an event with hundreds of unplanned properties would
 * otherwise carry marks past the event size limit and be refused for its size. `omit` still removes them all.
 */
export const MAX_VIOLATIONS = 50;

/** Combinator branches report errors that the combinator's own error sums up: those are skipped. */
const BRANCH = /\/(anyOf|oneOf|not|if|contains)\//;

const unpointer = (s: string) => s.replaceAll('~1', '/').replaceAll('~0', '~');
const split = (p: string): string[] => (p === '' ? [] : p.slice(1).split('/').map(unpointer));

/** `properties.items[0].sku`, for messages. */
function dotted(column: Column, path: string[]): string {
  let out: string = column;
  for (const s of path) out += /^\d+$/.test(s) ? `[${s}]` : `.${s}`;
  return out;
}

function violation(
  kind: ViolationKind,
  message: string,
  instancePath: string,
  schemaPath: string,
): Violation {
  return { type: RUDDERSTACK_TYPE[kind], kind, message, meta: { instancePath, schemaPath } };
}

function fromAjv(e: ErrorObject, column: Column, v: Validator): Found | null {
  if (e.keyword === 'if' || BRANCH.test(e.schemaPath)) return null;
  const at = split(e.instancePath);
  const top = at[0] ?? (e.params as { missingProperty?: string }).missingProperty;
  const base =
    v.common && at.length <= 1 && top !== undefined && v.common.names.has(top) ? v.common.base : v.base;
  const schemaPath = base + e.schemaPath.slice(1);
  if (e.keyword === 'additionalProperties' || e.keyword === 'unevaluatedProperties') {
    const p = e.params as { additionalProperty?: string; unevaluatedProperty?: string };
    const path = [...at, String(p.additionalProperty ?? p.unevaluatedProperty)];
    const where = dotted(column, path);
    return {
      violation: violation(
        'unplannedProperty',
        `${where} is not in the plan`,
        toPointer(column, path),
        schemaPath,
      ),
      target: { column, path },
    };
  }
  if (e.keyword === 'required') {
    const path = [...at, String((e.params as { missingProperty: string }).missingProperty)];
    return {
      violation: violation(
        'missingRequired',
        `${dotted(column, path)} is required`,
        toPointer(column, path),
        schemaPath,
      ),
      target: null,
    };
  }
  return {
    violation: violation(
      'wrongType',
      `${dotted(column, at)} ${e.message ?? 'is invalid'}`,
      toPointer(column, at),
      schemaPath,
    ),
    // A column as a whole (a root keyword like maxProperties) is never removed.
    target: at.length > 0 ? { column, path: at } : null,
  };
}

const toPointer = (column: Column, path: string[]): string =>
  `/${column}${path.map((s) => `/${pointer(s)}`).join('')}`;

/** Removes the value at `path` from a copy of `root` (copying only the objects along the way). */
function without(root: JsonObject, path: string[]): JsonObject {
  const copy = (v: unknown): unknown => (Array.isArray(v) ? [...v] : { ...(v as object) });
  const out = copy(root) as JsonObject;
  let node: unknown = out;
  for (let i = 0; i < path.length - 1; i++) {
    const k = path[i] as string;
    const child = (node as Record<string, unknown>)[k];
    if (typeof child !== 'object' || child === null) return out;
    const c = copy(child);
    (node as Record<string, unknown>)[k] = c;
    node = c;
  }
  const last = path[path.length - 1] as string;
  if (Array.isArray(node)) node.splice(Number(last), 1);
  else delete (node as Record<string, unknown>)[last];
  return out;
}

/** Array elements are removed from the last one back, so the indexes of the others still hold. */
function byPathDescending(a: string[], b: string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] as string;
    const y = b[i] as string;
    if (x === y) continue;
    if (/^\d+$/.test(x) && /^\d+$/.test(y)) return Number(y) - Number(x);
    return x < y ? 1 : -1;
  }
  return b.length - a.length;
}

export class CompiledPlan {
  private constructor(
    readonly version: number,
    private readonly c: Compiled | null,
  ) {}

  /** No plan: events pass, except that a client's own `context.violationErrors` is removed (Intake sets it). */
  static readonly NONE = new CompiledPlan(0, null);

  /** Checks and compiles a plan document; throws PlanError naming the field at fault. */
  static of(doc: unknown, version: number): CompiledPlan {
    return new CompiledPlan(version, compile(checkPlan(doc)));
  }

  /** The same compiled plan as version `n` (the ring compiles a plan before the store numbers it). */
  withVersion(n: number): CompiledPlan {
    return new CompiledPlan(n, this.c);
  }

  check(item: ValidItem): PlanResult {
    const c = this.c;
    if (c === null)
      return item.context?.violationErrors === undefined ? { ok: true, value: item } : this.mark(item, []);
    const found: Found[] = [];
    let target: Target;
    switch (item.type) {
      case 'track': {
        const name = item.event ?? '';
        const rule = c.naming?.check(name);
        if (rule)
          found.push({
            violation: violation(
              'naming',
              `event name ${JSON.stringify(name)} is not ${rule}`,
              '/event',
              '#/naming',
            ),
            target: null,
          });
        target = this.named(c.events, name, 'event', '#/events', c.unlisted, found);
        break;
      }
      case 'page':
      case 'screen':
        target = this.named(
          item.type === 'page' ? c.pages : c.screens,
          item.name ?? '',
          `${item.type} name`,
          `#/${item.type}s`,
          c.unlisted,
          found,
        );
        break;
      case 'identify':
      case 'group':
        target = c[item.type];
        break;
      default:
        target = c.alias;
    }
    run(target.properties, item.properties, 'properties', found);
    run(target.context, item.context, 'context', found);
    run(target.traits, item.traits, 'traits', found);
    if (found.length === 0)
      return item.context?.violationErrors === undefined ? { ok: true, value: item } : this.mark(item, []);
    if (found.some((f) => c.modes[f.violation.kind] === 'reject')) {
      const violations = found.slice(0, MAX_VIOLATIONS).map((f) => f.violation);
      const reason = `tracking plan: ${violations.map((v) => v.message).join('; ')}`;
      return {
        ok: false,
        code: 'INTAKE_ERR_PLAN_VIOLATION',
        reason: reason.length > 1000 ? `${reason.slice(0, 999)}…` : reason,
        violations,
      };
    }
    const out: ValidItem = { ...item };
    const omit = found.filter((f) => f.target !== null && c.modes[f.violation.kind] === 'omit');
    omit.sort((a, b) =>
      byPathDescending(
        [a.target?.column ?? '', ...(a.target?.path ?? [])],
        [b.target?.column ?? '', ...(b.target?.path ?? [])],
      ),
    );
    for (const f of omit) {
      const t = f.target as { column: Column; path: string[] };
      const root = out[t.column];
      if (root) out[t.column] = without(root, t.path);
      f.violation.omitted = true;
    }
    return this.mark(
      out,
      found.slice(0, MAX_VIOLATIONS).map((f) => f.violation),
    );
  }

  /** Sets (or, with none, removes) context.violationErrors on a copy of the item. */
  private mark(item: ValidItem, violations: Violation[]): PlanResult {
    const context: JsonObject = { ...(item.context ?? {}) };
    if (violations.length > 0) context.violationErrors = violations;
    else delete context.violationErrors;
    return { ok: true, value: { ...item, context } };
  }

  private named(
    listed: Map<string, Target> | null,
    name: string,
    what: string,
    section: string,
    unlisted: Target,
    found: Found[],
  ): Target {
    if (listed === null) return unlisted;
    const t = listed.get(name);
    if (t !== undefined) return t;
    found.push({
      violation: violation(
        'unplannedEvent',
        `${what} ${JSON.stringify(name)} is not in the plan`,
        what === 'event' ? '/event' : '/name',
        section,
      ),
      target: null,
    });
    return unlisted;
  }
}

function run(v: Validator | null, value: JsonObject | null, column: Column, found: Found[]): void {
  if (v === null) return;
  if (v.validate(value ?? {})) return;
  const seen = new Set<string>();
  for (const e of v.validate.errors ?? []) {
    const f = fromAjv(e, column, v);
    if (f === null) continue;
    const key = `${f.violation.kind} ${f.violation.meta.instancePath}`;
    if (seen.has(key)) continue;
    seen.add(key);
    found.push(f);
  }
}
