// The pieces every ClickHouse insight statement is built from: a property read at its exact JSON path, filters,
// local calendar buckets, and the committed track events of a workspace with their person. Values are quoted
// literals (lit: 18.16 binds no parameters); the rest of the text is this folder's own.
//
// Properties: 18.16 has no JSONExtract, and visitParamExtract* finds a key at any depth (the first "plan": in
// the text, nested or not). The stored JSON is compact JSON.stringify output (rows.ts), so the text is cut into
// tokens (strings, brackets, commas, colons, scalars) with extractAll, the depth after each token is a running
// sum, and a key is the string token at depth 1 followed by ':'; its value is the tokens up to the ',' or '}' that
// closes it. A path repeats that on the value. Exact, and the same on current releases.
import type { CalendarUnit } from '../../../core/buckets.ts';
import type { EventMatcher, PropertyFilter, PropertyRef } from '../../../core/insights.ts';
import { type OffsetSpan, offsetSpans } from '../../../core/time-zone.ts';
import { lit, litList } from '../http.ts';
import { committed } from '../schema.ts';
import { IDENTITIES } from '../users.ts';

/** A JSON token: a string (with its escapes), a bracket, comma or colon, or a run of a scalar's characters. */
const TOKEN = '"(?:[^"\\\\]|\\\\.)*"|[{}\\[\\],:]|[^{}\\[\\],:"]+';

/** Where each source is in an event-level statement (`traits`: the person's, joined by `withTraits`). */
const SOURCE_COLUMN: Record<PropertyRef['source'], string> = {
  properties: 'properties',
  context: 'context',
  person: 'traits',
};

/**
 * The properties one statement reads, as columns: each path's raw JSON text ('' when absent) is computed in a
 * subquery level per path depth around the statement's rows (wrap), and the conditions and values below are
 * expressions over those columns. Levels, not aliases: 18.16 expands aliases into the syntax tree, so a path
 * three keys deep written as one expression is past its 500,000-node limit.
 */
export class Props {
  /** `${source}:${path prefix}` → its column, in order of registration. */
  private readonly cols = new Map<string, { name: string; parent: string; key: string; depth: number }>();

  /** The column holding the raw JSON text of the value at `ref`. */
  rawOf(ref: PropertyRef): string {
    let parent = SOURCE_COLUMN[ref.source];
    ref.path.forEach((key, i) => {
      const id = `${ref.source}:${JSON.stringify(ref.path.slice(0, i + 1))}`;
      let c = this.cols.get(id);
      if (!c) {
        c = { name: `_r${this.cols.size}`, parent, key, depth: i };
        this.cols.set(id, c);
      }
      parent = c.name;
    });
    return parent;
  }

  /** `rows` (a FROM item with the source columns) with a column per registered path, one level per depth. */
  wrap(rows: string): string {
    const all = [...this.cols.values()];
    let out = rows;
    for (let d = 0; all.some((c) => c.depth === d); d++) {
      const cols = all.filter((c) => c.depth === d).map((c) => member(c.parent, c.key, c.name));
      out = `(SELECT *, ${cols.join(', ')} FROM ${out})`;
    }
    return out;
  }

  /** Whether the property is set (present and not JSON null). */
  setOf(ref: PropertyRef): string {
    const raw = this.rawOf(ref);
    return `(${raw} != '' AND ${raw} != 'null')`;
  }

  /** The property's text when set ('' otherwise): a string unescaped, anything else its JSON text. */
  textOf(ref: PropertyRef): string {
    const raw = this.rawOf(ref);
    return `if(substring(${raw}, 1, 1) = '"', visitParamExtractString(concat('{"v":', ${raw}, '}'), 'v'), ${raw})`;
  }

  /** 1 when the property is a JSON number. */
  isNumber(ref: PropertyRef): string {
    return `match(${this.rawOf(ref)}, '^-?[0-9]')`;
  }

  /** The property as a Float64 (0 when it is not a number: read with isNumber). */
  numberOf(ref: PropertyRef): string {
    return `toFloat64OrZero(${this.rawOf(ref)})`;
  }

  /** A filter as 0 or 1 (core/insights.ts says how a missing value compares). */
  filter(f: PropertyFilter): string {
    const set = this.setOf(f.property);
    const text = this.textOf(f.property);
    switch (f.op) {
      case 'eq':
        return `(${set} AND ${text} IN ${litList(f.values)})`;
      case 'neq':
        return `(NOT ${set} OR ${text} NOT IN ${litList(f.values)})`;
      case 'gt':
      case 'gte':
      case 'lt':
      case 'lte': {
        const op = { gt: '>', gte: '>=', lt: '<', lte: '<=' }[f.op];
        return `(${this.isNumber(f.property)} AND ${this.numberOf(f.property)} ${op} ${lit(f.value)})`;
      }
      case 'contains':
        return `(${set} AND positionCaseInsensitiveUTF8(${text}, ${lit(f.value)}) > 0)`;
      case 'not_contains':
        return `(NOT ${set} OR positionCaseInsensitiveUTF8(${text}, ${lit(f.value)}) = 0)`;
      case 'is_set':
        return set;
      case 'is_not_set':
        return `(NOT ${set})`;
    }
  }

  /** The matcher's condition on an event row (its name included). */
  matcher(m: EventMatcher): string {
    return [`event = ${lit(m.event)}`, ...m.filters.map((f) => this.filter(f))].join(' AND ');
  }

  /** A breakdown value as two columns: bn (1 when not set) and bv (its text, '' when not set). */
  breakdown(ref: PropertyRef): string {
    return `NOT ${this.setOf(ref)} AS bn, if(bn, '', ${this.textOf(ref)}) AS bv`;
  }
}

export const usesPerson = (refs: Array<PropertyRef | null | undefined>): boolean =>
  refs.some((r) => r?.source === 'person');

export const filterRefs = (ms: EventMatcher[]): PropertyRef[] =>
  ms.flatMap((m) => m.filters.map((f) => f.property));

/**
 * Member `key` of the JSON object in column `json`, at its top level, as column `name` ('' when it has none).
 *
 * Fast path, exact: when the first `"key":` in the text has before it only the object's opening brace, no other
 * bracket, no backslash and an even number of quotes, it is a key at the top level (not in a string, not nested),
 * and visitParamExtractRaw's value (the first occurrence's) is the member's. Otherwise the text is tokenized; a row
 * on the fast path tokenizes '' instead (18.16 evaluates both branches of an if). The fast path is most rows
 * (events' properties are mostly flat): the bench's trends statement (33k events of 200k, breakdown by a
 * property) took 1,360 ms of ClickHouse CPU tokenizing every row, 820 ms with it.
 */
function member(json: string, key: string, name: string): string {
  const [p, pre, fast, t, d, a] = ['p', 'pre', 'fast', 't', 'd', 'a'].map((x) => `${name}_${x}`);
  const end = `arrayFirstIndex((_x, _d) -> (_x = ',' AND _d = 1) OR (_x = '}' AND _d = 0), arraySlice(${t}, ${a} + 2), arraySlice(${d}, ${a} + 2))`;
  return [
    `position(${json}, ${lit(`${JSON.stringify(key)}:`)}) AS ${p}`,
    `substring(${json}, 1, greatest(${p}, 1) - 1) AS ${pre}`,
    `(${p} = 0 OR (substring(${json}, 1, 1) = '{' AND position(substring(${pre}, 2), '{') = 0
      AND position(${pre}, '[') = 0 AND position(${pre}, '\\\\') = 0
      AND (length(${pre}) - length(replaceAll(${pre}, '"', ''))) % 2 = 0)) AS ${fast}`,
    `extractAll(if(${fast}, '', ${json}), ${lit(TOKEN)}) AS ${t}`,
    `arrayCumSum(arrayMap(_x -> (_x = '{' OR _x = '[') - (_x = '}' OR _x = ']'), ${t})) AS ${d}`,
    `arrayFirstIndex((_x, _nx, _d) -> _x = ${lit(JSON.stringify(key))} AND _nx = ':' AND _d = 1, ${t}, arrayPopFront(arrayPushBack(${t}, '')), ${d}) AS ${a}`,
    `multiIf(${fast} AND ${p} = 0, '', ${fast}, visitParamExtractRaw(${json}, ${lit(key)}),
      ${a} = 0, '', arrayStringConcat(arraySlice(${t}, ${a} + 2, ${end} - 1))) AS ${name}`,
  ].join(', ');
}

/** The persons' current traits (latest committed version, not deleted): person, traits. */
const TRAITS = (ws: string) =>
  `(SELECT person_id AS person, t AS traits FROM (
     SELECT person_id, argMax(traits, seq) AS t, argMax(deleted, seq) AS del FROM persons
     WHERE workspace_id = ${lit(ws)} AND ${committed()} GROUP BY person_id) WHERE del = 0)`;

/**
 * The workspace's committed, deduplicated track events that meet `scope` (a condition on the events table's
 * columns), as rows of id, event, t (ms), properties, context, person, and traits when `traits`. The person is
 * the one of the event's userId, else of its anonymousId (the identities table, latest version per id at or
 * below the checkpoint), else that id itself: the embedded engine's identity graph, read the same way. Without
 * `person`, no join and no person column (a count of events needs none).
 * 18.16 joins once per SELECT, so each join is a level.
 */
export function trackEvents(ws: string, scope: string, traits: boolean, person = true): string {
  const events = `SELECT id, ifNull(event, '') AS event, timestamp_ms AS t, properties, context,
      ifNull(user_id, ifNull(anonymous_id, '')) AS actor
    FROM events FINAL
    WHERE ${committed()} AND workspace_id = ${lit(ws)} AND type = 'track' AND ${scope}`;
  if (!person) return `(${events})`;
  const withPerson = `SELECT id, event, t, properties, context, if(mapped = '', actor, mapped) AS person
  FROM (${events}) ANY LEFT JOIN (SELECT id AS actor, person_id AS mapped FROM ${IDENTITIES(ws)}) USING actor`;
  if (!traits) return `(${withPerson})`;
  return `(SELECT id, event, t, properties, context, person, traits
  FROM (${withPerson}) ANY LEFT JOIN ${TRAITS(ws)} USING person)`;
}

/** The breakdown value of a person's trait, on rows with a `person` column (persons without traits: not set). */
export function personTraits(ws: string, rows: string): string {
  return `(SELECT * FROM (${rows}) ANY LEFT JOIN ${TRAITS(ws)} USING person)`;
}

/**
 * The local time (ms of wall-clock time as if it were UTC) of the epoch ms `t`, for instants in [from, to): the
 * zone's offsets over the range are found once (core/time-zone.ts) and applied with multiIf, as the embedded
 * engine does; 18.16's toStartOf* take a zone too, but its week and half-hour zones would each need checking.
 */
export function localSql(tz: string, from: number, to: number, t = 't'): string {
  const spans: OffsetSpan[] = offsetSpans(tz, from, to);
  const last = spans[spans.length - 1] as OffsetSpan;
  if (spans.length === 1) return last.offsetMs === 0 ? t : `(${t} + ${last.offsetMs})`;
  const cases = spans
    .slice(1)
    .map((s, i) => `${t} < ${s.from}, ${(spans[i] as OffsetSpan).offsetMs}`)
    .join(', ');
  return `(${t} + multiIf(${cases}, ${last.offsetMs}))`;
}

const HOUR = 3_600_000;
const DAY = 86_400_000;

/** The local start (ms) of the calendar unit holding local time `local` (core/buckets.ts truncLocal). */
export function truncSql(local: string, unit: CalendarUnit): string {
  switch (unit) {
    case 'hour':
      return `(intDiv(${local}, ${HOUR}) * ${HOUR})`;
    case 'day':
      return `(intDiv(${local}, ${DAY}) * ${DAY})`;
    case 'week':
      // Day 0 (1970-01-01) is a Thursday: (day + 3) % 7 is the days since Monday.
      return `((intDiv(${local}, ${DAY}) - (intDiv(${local}, ${DAY}) + 3) % 7) * ${DAY})`;
    case 'month':
      return `(toInt64(toUInt32(toStartOfMonth(toDateTime(intDiv(${local}, 1000), 'UTC')))) * ${DAY})`;
  }
}

/** A quantile of a sorted array (linear interpolation between the two nearest ranks; core's quantile()). */
export function quantileSql(sorted: string, p: number): string {
  const pos = `(${p} * (length(${sorted}) - 1))`;
  const lo = `${sorted}[toUInt64(floor(${pos})) + 1]`;
  const hi = `${sorted}[toUInt64(ceil(${pos})) + 1]`;
  return `if(length(${sorted}) = 0, NULL, ${lo} + (${pos} - floor(${pos})) * (${hi} - ${lo}))`;
}

/** The median of a sorted array: the mean of the two middle values (the reference's median()). */
export const medianSql = (sorted: string): string =>
  `if(length(${sorted}) = 0, NULL, (${sorted}[intDiv(length(${sorted}) - 1, 2) + 1] + ${sorted}[intDiv(length(${sorted}), 2) + 1]) / 2)`;
