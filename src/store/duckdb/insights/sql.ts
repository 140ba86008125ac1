// The pieces every insight statement is built from: bound parameters, a property's text or number, filters,
// local time, the person of an event. Values are always bound; the only text pasted into SQL is this file's
// own, and calendar units and percentiles taken from fixed lists.
import type { CalendarUnit } from '../../../core/buckets.ts';
import type { CompiledSql, EventMatcher, PropertyFilter, PropertyRef } from '../../../core/insights.ts';
import { type OffsetSpan, offsetSpans } from '../../../core/time-zone.ts';

type Param = CompiledSql['params'][number];

/** Collects bound values and hands out their placeholders ($1, $2, ...). */
export class Params {
  readonly values: Param[] = [];
  private readonly seen = new Map<string, string>();

  /** The placeholder of `v`; one value used twice is bound once. */
  add(v: Param): string {
    const key = `${typeof v}:${String(v)}`;
    let p = this.seen.get(key);
    if (!p) {
      this.values.push(v);
      p = `$${this.values.length}`;
      this.seen.set(key, p);
    }
    return p;
  }

  /** An instant, bound as text DuckDB reads as a TIMESTAMP (UTC, like the events' column). */
  time(t: Date | number): string {
    const iso = new Date(t).toISOString();
    return `${this.add(`${iso.slice(0, 10)} ${iso.slice(11, 23)}`)}::TIMESTAMP`;
  }

  int(n: number): string {
    return `${this.add(n)}::BIGINT`;
  }
}

/** The JSON path of a property: $."a"."b" (keys are checked by parse.ts: no quote can be in them). */
export const jsonPath = (path: string[]): string => `$.${path.map((k) => `"${k}"`).join('.')}`;

/** Where each source lives in a statement over `events e` (persons joined as `pt` when a person trait is used). */
const SOURCE_COLUMN: Record<PropertyRef['source'], string> = {
  properties: 'e.properties',
  context: 'e.context',
  person: 'pt.traits',
};

/** The property's text (json_extract_string: strings unquoted, other values as JSON, null when not set). */
export const textSql = (p: Params, ref: PropertyRef): string =>
  `json_extract_string(${SOURCE_COLUMN[ref.source]}, ${p.add(jsonPath(ref.path))})`;

/** The property as a DOUBLE when it is a JSON number, else NULL. */
export function numberSql(p: Params, ref: PropertyRef): string {
  const j = `json_extract(${SOURCE_COLUMN[ref.source]}, ${p.add(jsonPath(ref.path))})`;
  return `CASE WHEN json_type(${j}) IN ('UBIGINT', 'BIGINT', 'DOUBLE', 'HUGEINT') THEN ${j}::DOUBLE END`;
}

/** A filter as a boolean that is never NULL (core/insights.ts says how a missing value compares). */
export function filterSql(p: Params, f: PropertyFilter): string {
  const text = textSql(p, f.property);
  switch (f.op) {
    case 'eq':
      return `coalesce(${text} IN (${f.values.map((v) => p.add(v)).join(', ')}), false)`;
    case 'neq':
      return `coalesce(${text} NOT IN (${f.values.map((v) => p.add(v)).join(', ')}), true)`;
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const op = { gt: '>', gte: '>=', lt: '<', lte: '<=' }[f.op];
      return `coalesce(${numberSql(p, f.property)} ${op} ${p.add(f.value)}::DOUBLE, false)`;
    }
    case 'contains':
      return `coalesce(contains(lower(${text}), lower(${p.add(f.value)})), false)`;
    case 'not_contains':
      return `coalesce(NOT contains(lower(${text}), lower(${p.add(f.value)})), true)`;
    case 'is_set':
      return `(${text} IS NOT NULL)`;
    case 'is_not_set':
      return `(${text} IS NULL)`;
  }
}

/** The matcher's condition on `events e` (its type and name are filtered by the caller, for the scan). */
export function matcherSql(p: Params, m: EventMatcher): string {
  return [`e.event = ${p.add(m.event)}`, ...m.filters.map((f) => filterSql(p, f))].join(' AND ');
}

export const usesPerson = (refs: Array<PropertyRef | null | undefined>): boolean =>
  refs.some((r) => r?.source === 'person');

export const filterRefs = (ms: EventMatcher[]): PropertyRef[] =>
  ms.flatMap((m) => m.filters.map((f) => f.property));

/**
 * The event's person: the person of its userId, else of its anonymousId (identities), else the id itself. Only
 * ids whose person is another id are joined, and of those only the ones the statement's events can carry: every
 * id seen as a userId (is_user; usually few have another person: users merged by alias), and the anonymousIds of
 * the events in `scope` that have no userId. `scope` is a condition over `events e` that every event the
 * statement reads meets (a wider one is only slower). An event with a userId is attributed to it, and a userId's
 * row is always is_user (profiles/effects.ts), so the answer is the same as joining every mapped id.
 *
 * The hash table of the join is what costs: on the bench data set (10M events, 1M users who each have an
 * anonymousId merged into them), the 4 names of a funnel over 44 days (465k events) took 335 ms of CPU with
 * every mapped id (1M) in the table, 205 ms with this one (a second scan of the scope for anonymous events, which
 * the column's statistics skip when every event has a userId), 113 ms with no person at all.
 */
export function personJoin(p: Params, workspaceId: string, scope: string): { join: string; person: string } {
  const ws = p.add(workspaceId);
  return {
    join: `LEFT JOIN (SELECT id, person_id FROM identities WHERE workspace_id = ${ws} AND person_id <> id
        AND (is_user OR id IN (SELECT e.anonymous_id FROM events e WHERE ${scope} AND e.user_id IS NULL))) pm
      ON pm.id = coalesce(e.user_id, e.anonymous_id)`,
    person: 'coalesce(pm.person_id, e.user_id, e.anonymous_id)',
  };
}

/** The persons table joined as `pt`, for person traits; `person` is the expression of the event's person. */
export const traitsJoin = (p: Params, workspaceId: string, person: string): string =>
  `LEFT JOIN persons pt ON pt.workspace_id = ${p.add(workspaceId)} AND pt.person_id = ${person}`;

/**
 * The event's local time in `tz`, for events in [from, to). DuckDB's ICU can convert (timezone()), but per row it
 * cost 10x the whole rest of a daily count (520 vs 50 ms of CPU over 1.3M events): the zone's offsets over the
 * range are found once (core/time-zone.ts) and applied with a CASE on the timestamp.
 */
export function localSql(p: Params, tz: string, from: number, to: number, column = 'e.timestamp'): string {
  const spans: OffsetSpan[] = offsetSpans(tz, from, to);
  const only = spans[0];
  if (spans.length === 1 && only) {
    return only.offsetMs === 0
      ? column
      : `make_timestamp(epoch_us(${column}) + ${p.int(only.offsetMs * 1000)})`;
  }
  const cases = spans
    .slice(1)
    .map(
      (s, i) => `WHEN ${column} < ${p.time(s.from)} THEN ${p.int((spans[i] as OffsetSpan).offsetMs * 1000)}`,
    )
    .join(' ');
  const last = spans[spans.length - 1] as OffsetSpan;
  return `make_timestamp(epoch_us(${column}) + CASE ${cases} ELSE ${p.int(last.offsetMs * 1000)} END)`;
}

/** date_trunc's unit for a calendar unit (a fixed list: never user text). */
export const TRUNC: Record<CalendarUnit, string> = {
  hour: "'hour'",
  day: "'day'",
  week: "'week'",
  month: "'month'",
};
