// Compiles a tracking plan once per version into what check.ts runs per event: one ajv validator per schema
// (the common schema merged into each event's), the naming rule, the modes. Compiling is where a bad schema is
// found, so PUT /plans/current refuses it with the field named before anything uses it.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import formats from 'ajv-formats';
import type { ViolationKind, ViolationMode } from '../../core/violations.ts';
import { type EventRule, PlanError, type Schema, type TrackingPlan } from './format.ts';
import { NamingRule } from './naming.ts';

/** A compiled schema: its validator, where it sits in the plan (for schemaPath), and which column it checks. */
export interface Validator {
  validate: ValidateFunction;
  /** `#/events/Order Completed/properties`: prefixed to ajv's schemaPath. */
  base: string;
  /** Properties that came from the common schema, and where that is: their errors point there. */
  common: { names: ReadonlySet<string>; base: string } | null;
}

/** What applies to one kind of call, or to one named event of it. */
export interface Target {
  properties: Validator | null;
  context: Validator | null;
  traits: Validator | null;
}

export interface Compiled {
  modes: Record<ViolationKind, ViolationMode>;
  naming: NamingRule | null;
  /** Planned track events by name; null when the plan lists none (any name is planned). */
  events: Map<string, Target> | null;
  pages: Map<string, Target> | null;
  screens: Map<string, Target> | null;
  /** What applies to a name the plan does not list (or when it lists none): the common schemas. */
  unlisted: Target;
  identify: Target;
  group: Target;
  alias: Target;
}

type AddFormats = (ajv: Ajv) => unknown;
const addFormats = ((formats as unknown as { default?: AddFormats }).default ??
  formats) as unknown as AddFormats;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** A JSON pointer segment. */
export const pointer = (s: string): string => s.replaceAll('~', '~0').replaceAll('/', '~1');

/**
 * An event's (or identify's, group's) own schema of properties or traits that lists `properties` and says
 * nothing of others is closed: a property it does not list is
 * unplanned. Applied to the root and, recursively, to what `properties` and `items` hold (not inside
 * combinators, where closing one branch would refuse what another allows). Returns a copy.
 */
export function closeSchema(s: Schema): Schema {
  if (!isObject(s)) return s;
  const out: Record<string, unknown> = { ...s };
  if (
    isObject(s.properties) &&
    !('additionalProperties' in s) &&
    !('unevaluatedProperties' in s) &&
    !('patternProperties' in s)
  )
    out.additionalProperties = false;
  if (isObject(s.properties)) {
    out.properties = Object.fromEntries(
      Object.entries(s.properties).map(([k, v]) => [k, closeSchema(v as Schema)]),
    );
  }
  if (isObject(s.items)) out.items = closeSchema(s.items);
  return out;
}

/**
 * The common schema with an event's own: their `properties` together (the event's definition of a property
 * wins) and their `required` lists joined; the event's other keywords win. A boolean schema on either side is
 * combined with allOf.
 */
export function mergeSchemas(common: Schema | undefined, own: Schema | undefined): Schema | undefined {
  if (common === undefined) return own;
  if (own === undefined) return common;
  if (!isObject(common) || !isObject(own)) return { allOf: [common, own] };
  const out: Record<string, unknown> = { ...common, ...own };
  if (isObject(common.properties) || isObject(own.properties))
    out.properties = { ...(common.properties as object), ...(own.properties as object) };
  const required = [
    ...(Array.isArray(common.required) ? common.required : []),
    ...(Array.isArray(own.required) ? own.required : []),
  ];
  if (required.length > 0) out.required = [...new Set(required)];
  return out;
}

class Compiler {
  private readonly ajv: Ajv;

  constructor(private readonly plan: TrackingPlan) {
    // allErrors: every violation of an event is reported (and omitted) at once, not the first only.
    const opts = { allErrors: true, strict: false, validateFormats: true } as const;
    this.ajv = plan.draft === '07' ? new Ajv(opts) : new Ajv2020(opts);
    addFormats(this.ajv);
  }

  validator(
    own: Schema | undefined,
    ownBase: string,
    common: Schema | undefined,
    commonBase: string,
    /** Closed (closeSchema) when the name has a schema of its own; the common schema alone stays open. */
    close = own !== undefined,
  ): Validator | null {
    const merged = mergeSchemas(common, own);
    if (merged === undefined) return null;
    const field = (own === undefined ? commonBase : ownBase).slice(2).replaceAll('/', '.');
    let validate: ValidateFunction;
    try {
      validate = this.ajv.compile(close ? closeSchema(merged) : merged);
    } catch (err) {
      throw new PlanError(field, `is not a valid JSON Schema: ${(err as Error).message}`);
    }
    const ownProps = isObject(own) && isObject(own.properties) ? own.properties : {};
    const commonNames =
      own !== undefined && isObject(common) && isObject(common.properties)
        ? new Set(Object.keys(common.properties).filter((k) => !(k in ownProps)))
        : null;
    return {
      validate,
      base: own === undefined ? commonBase : ownBase,
      common: commonNames && commonNames.size > 0 ? { names: commonNames, base: commonBase } : null,
    };
  }

  target(rule: EventRule | undefined, base: string): Target {
    const common = this.plan.common;
    return {
      properties: this.validator(
        rule?.properties,
        `${base}/properties`,
        common?.properties,
        '#/common/properties',
      ),
      // Context schemas stay open: SDKs fill context with fields (library, userAgent, page) no plan lists.
      context: this.validator(rule?.context, `${base}/context`, common?.context, '#/common/context', false),
      traits: null,
    };
  }

  named(rules: Record<string, EventRule> | undefined, section: string): Map<string, Target> | null {
    if (rules === undefined) return null;
    const out = new Map<string, Target>();
    for (const [name, rule] of Object.entries(rules))
      out.set(name, this.target(rule, `#/${section}/${pointer(name)}`));
    return out;
  }

  traits(kind: 'identify' | 'group'): Target {
    const common = this.plan.common?.context;
    return {
      properties: null,
      context: this.validator(undefined, '', common, '#/common/context', false),
      traits: this.validator(this.plan[kind]?.traits, `#/${kind}/traits`, undefined, ''),
    };
  }
}

/** Compiles a plan whose shape checkPlan accepted; throws PlanError naming a schema that does not compile. */
export function compile(plan: TrackingPlan): Compiled {
  const c = new Compiler(plan);
  const modes = {
    unplannedEvent: 'allow',
    unplannedProperty: 'allow',
    missingRequired: 'allow',
    wrongType: 'allow',
    naming: 'allow',
    ...plan.modes,
  } as Record<ViolationKind, ViolationMode>;
  const common = c.target(undefined, '');
  return {
    modes,
    naming:
      plan.naming && (plan.naming.case || plan.naming.pattern !== undefined)
        ? new NamingRule(plan.naming)
        : null,
    events: c.named(plan.events, 'events'),
    pages: c.named(plan.pages, 'pages'),
    screens: c.named(plan.screens, 'screens'),
    unlisted: common,
    identify: c.traits('identify'),
    group: c.traits('group'),
    alias: { properties: null, context: common.context, traits: null },
  };
}

export type { ErrorObject };
