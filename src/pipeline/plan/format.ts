// The tracking plan document, as PUT /plans/current takes it (README "Tracking plans"), and the check of its
// shape, which names the field at fault. The JSON Schemas inside are checked by compiling them (compile.ts).
import {
  VIOLATION_KINDS,
  VIOLATION_MODES,
  type ViolationKind,
  type ViolationMode,
} from '../../core/violations.ts';

/** A JSON Schema (draft 2020-12 or 07, as the plan's `draft` says), kept as sent. */
export type Schema = Record<string, unknown> | boolean;

/** What an event name, page or screen of the plan may carry. */
export interface EventRule {
  description?: string;
  /** Its `properties`. */
  properties?: Schema;
  /** Its `context`, if the plan checks it. */
  context?: Schema;
}

export const CASE_STYLES = [
  'Title Case',
  'Sentence case',
  'lower case',
  'snake_case',
  'camelCase',
  'PascalCase',
  'kebab-case',
] as const;
export type CaseStyle = (typeof CASE_STYLES)[number];

export interface TrackingPlan {
  /** The JSON Schema dialect of every schema in the plan: `2020-12` (default) or `07`. */
  draft?: '2020-12' | '07';
  /** Rules for track event names: a case style, a regular expression (JavaScript, unanchored unless it says), or both. */
  naming?: { case?: CaseStyle; pattern?: string };
  /** What a violation of each kind does: allow (default), omit or reject. */
  modes?: Partial<Record<ViolationKind, ViolationMode>>;
  /** Applied to every event: `properties` to track, page and screen calls, `context` to all. */
  common?: { properties?: Schema; context?: Schema };
  /** Track events by name. Absent: any name is planned. */
  events?: Record<string, EventRule>;
  /** Page and screen calls by name. Absent: any name is planned. */
  pages?: Record<string, EventRule>;
  screens?: Record<string, EventRule>;
  identify?: { traits?: Schema };
  group?: { traits?: Schema };
}

/** A plan document that is not one: `field` names where (`events.Order Completed.properties`). */
export class PlanError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field === '' ? 'the plan' : field} ${message}`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function only(o: Record<string, unknown>, field: string, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k))
      throw new PlanError(
        field === '' ? k : `${field}.${k}`,
        `is not a plan field (expected ${allowed.join(', ')})`,
      );
  }
}

function schema(v: unknown, field: string): void {
  if (v !== undefined && typeof v !== 'boolean' && !isObject(v))
    throw new PlanError(field, 'must be a JSON Schema (an object or a boolean)');
}

function rules(v: unknown, field: string): void {
  if (v === undefined) return;
  if (!isObject(v)) throw new PlanError(field, 'must be an object of names');
  for (const [name, rule] of Object.entries(v)) {
    const f = `${field}.${name}`;
    if (!isObject(rule)) throw new PlanError(f, 'must be an object ({properties?, context?, description?})');
    only(rule, f, ['description', 'properties', 'context']);
    if (rule.description !== undefined && typeof rule.description !== 'string')
      throw new PlanError(`${f}.description`, 'must be a string');
    schema(rule.properties, `${f}.properties`);
    schema(rule.context, `${f}.context`);
  }
}

/** Checks a plan document's shape (not its schemas, which compile.ts compiles); returns it typed. */
export function checkPlan(doc: unknown): TrackingPlan {
  if (!isObject(doc)) throw new PlanError('', 'must be a JSON object');
  only(doc, '', ['draft', 'naming', 'modes', 'common', 'events', 'pages', 'screens', 'identify', 'group']);
  if (doc.draft !== undefined && doc.draft !== '2020-12' && doc.draft !== '07')
    throw new PlanError('draft', 'must be "2020-12" or "07"');
  if (doc.naming !== undefined) {
    const n = doc.naming;
    if (!isObject(n)) throw new PlanError('naming', 'must be an object ({case?, pattern?})');
    only(n, 'naming', ['case', 'pattern']);
    if (n.case !== undefined && !CASE_STYLES.includes(n.case as CaseStyle))
      throw new PlanError('naming.case', `must be one of ${CASE_STYLES.join(', ')}`);
    if (n.pattern !== undefined) {
      if (typeof n.pattern !== 'string' || n.pattern.length > 1000)
        throw new PlanError('naming.pattern', 'must be a regular expression of at most 1000 characters');
      try {
        new RegExp(n.pattern, 'u');
      } catch (err) {
        throw new PlanError('naming.pattern', `is not a valid regular expression: ${(err as Error).message}`);
      }
    }
  }
  if (doc.modes !== undefined) {
    if (!isObject(doc.modes)) throw new PlanError('modes', 'must be an object of kind: mode');
    only(doc.modes, 'modes', VIOLATION_KINDS);
    for (const [k, m] of Object.entries(doc.modes)) {
      if (!VIOLATION_MODES.includes(m as ViolationMode))
        throw new PlanError(`modes.${k}`, `must be one of ${VIOLATION_MODES.join(', ')}`);
    }
  }
  if (doc.common !== undefined) {
    if (!isObject(doc.common)) throw new PlanError('common', 'must be an object ({properties?, context?})');
    only(doc.common, 'common', ['properties', 'context']);
    schema(doc.common.properties, 'common.properties');
    schema(doc.common.context, 'common.context');
  }
  rules(doc.events, 'events');
  rules(doc.pages, 'pages');
  rules(doc.screens, 'screens');
  for (const k of ['identify', 'group'] as const) {
    const v = doc[k];
    if (v === undefined) continue;
    if (!isObject(v)) throw new PlanError(k, 'must be an object ({traits?})');
    only(v, k, ['traits']);
    schema(v.traits, `${k}.traits`);
  }
  return doc as TrackingPlan;
}
