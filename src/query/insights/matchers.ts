// The parts every insight request shares: property paths, filters, event matchers, breakdowns and the time
// zone, each refused with a coded 400 whose `details.field` names the field.
import { type ErrorCode, IntakeError } from '../../core/errors.ts';
import {
  type Breakdown,
  type EventMatcher,
  INSIGHT_LIMITS,
  type PropertyFilter,
  type PropertyRef,
} from '../../core/insights.ts';
import { isTimeZone } from '../../core/time-zone.ts';

export const fail = (code: ErrorCode, field: string, why: string) =>
  new IntakeError(code, `${field} ${why}`, { field });

const SEGMENT = /^[A-Za-z0-9_$][A-Za-z0-9_$ -]{0,99}$/;
const SOURCES: Record<string, PropertyRef['source']> = {
  properties: 'properties',
  context: 'context',
  person: 'person',
};

export function parseProperty(raw: string, field: string): PropertyRef {
  const [head, ...path] = raw.split('.');
  const source = SOURCES[head ?? ''];
  if (
    !source ||
    path.length === 0 ||
    path.length > INSIGHT_LIMITS.maxPathDepth ||
    !path.every((p) => SEGMENT.test(p))
  ) {
    throw fail(
      'INTAKE_ERR_INSIGHT_PROPERTY',
      field,
      `is "${raw.slice(0, 100)}": write properties.<key>, context.<key> or person.<trait>, with dot-separated keys of letters, digits, _ $ - and space, at most ${INSIGHT_LIMITS.maxPathDepth} levels`,
    );
  }
  return { source, path };
}

type Scalar = string | number | boolean;
const textOf = (v: Scalar) => (typeof v === 'string' ? v : JSON.stringify(v));

function parseFilter(
  raw: { property: string; op: string; value?: Scalar | Scalar[] },
  field: string,
): PropertyFilter {
  const property = parseProperty(raw.property, `${field}.property`);
  const { op, value } = raw;
  const need = (what: string) =>
    fail('INTAKE_ERR_INSIGHT_INVALID', `${field}.value`, `must be ${what} for op ${op}`);
  switch (op) {
    case 'eq':
    case 'neq': {
      if (value === undefined) throw need('a value or a list of values');
      return { property, op, values: (Array.isArray(value) ? value : [value]).map(textOf) };
    }
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      if (typeof value !== 'number') throw need('a number');
      return { property, op, value };
    case 'contains':
    case 'not_contains':
      if (typeof value !== 'string' || value === '') throw need('non-empty text');
      return { property, op, value };
    case 'is_set':
    case 'is_not_set':
      if (value !== undefined)
        throw fail('INTAKE_ERR_INSIGHT_INVALID', `${field}.value`, `is not taken by op ${op}`);
      return { property, op };
    default:
      throw fail(
        'INTAKE_ERR_INSIGHT_INVALID',
        `${field}.op`,
        `is "${String(op).slice(0, 40)}": use eq, neq, gt, gte, lt, lte, contains, not_contains, is_set or is_not_set`,
      );
  }
}

export function parseMatcher(
  raw: { event: string; filters?: Array<{ property: string; op: string; value?: Scalar | Scalar[] }> },
  field: string,
): EventMatcher {
  const filters = raw.filters ?? [];
  if (filters.length > INSIGHT_LIMITS.maxFilters) {
    throw fail(
      'INTAKE_ERR_INSIGHT_INVALID',
      `${field}.filters`,
      `has ${filters.length} filters; at most ${INSIGHT_LIMITS.maxFilters}`,
    );
  }
  return { event: raw.event, filters: filters.map((f, i) => parseFilter(f, `${field}.filters[${i}]`)) };
}

export function parseBreakdown(raw: { property: string; limit?: number } | undefined): Breakdown | null {
  if (!raw) return null;
  const limit = raw.limit ?? 10;
  if (limit > INSIGHT_LIMITS.maxBreakdownLimit) {
    throw fail(
      'INTAKE_ERR_INSIGHT_INVALID',
      'breakdown.limit',
      `is ${limit}; at most ${INSIGHT_LIMITS.maxBreakdownLimit}`,
    );
  }
  return { property: parseProperty(raw.property, 'breakdown.property'), limit };
}

/** The request's time zone, else the workspace's. */
export function timeZoneOf(raw: string | undefined, workspaceZone: string): string {
  if (raw === undefined) return workspaceZone;
  if (!isTimeZone(raw)) {
    throw new IntakeError(
      'INTAKE_ERR_INVALID_TIMEZONE',
      `timezone "${raw.slice(0, 64)}" is not an IANA time zone (e.g. Europe/Paris, America/New_York, UTC)`,
      { field: 'timezone' },
    );
  }
  return raw;
}
