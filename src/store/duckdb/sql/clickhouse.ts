// The ClickHouse JSON functions Trench's users write (POST /queries), rewritten on DuckDB's parse tree into
// DuckDB expressions with ClickHouse's results: JSONExtractString(properties, 'a', 'b') reads properties.a.b and
// gives '' when it is missing or not a string, as ClickHouse does. Keys and indices (1-based; negative from the
// end) must be constants; they become one JSON path. The expressions are DuckDB SQL parsed once by the engine
// (run.ts), with the user's JSON argument and the path put in place of placeholders; check.ts then checks the
// result like any other expression, the user's argument included, so a rewrite can add no function the allow-list
// does not hold.
import { IntakeError } from '../../../core/errors.ts';

type Json = Record<string, unknown>;

/** Stands for the user's JSON argument (a column reference) and for the path (a string constant). */
export const JSON_PLACEHOLDER = '__intake_json';
export const PATH_PLACEHOLDER = '__intake_path';
const J = JSON_PLACEHOLDER;
const P = `'${PATH_PLACEHOLDER}'`;
const TYPE = `json_type(${J}, ${P})`;
const VALUE = `json_extract(${J}, ${P})`;
const NUMBER = `${TYPE} IN ('BIGINT', 'UBIGINT', 'DOUBLE')`;

export type Kind = 'string' | 'int' | 'float' | 'bool' | 'raw' | 'has' | 'length';

/**
 * Each kind's DuckDB expression: NULL where ClickHouse gives its default (coalesced to DEFAULTS, except for a
 * Nullable(T) type), else the value as ClickHouse reads it.
 */
export const EXPRESSIONS: Readonly<Record<Kind, string>> = {
  string: `CASE WHEN ${TYPE} = 'VARCHAR' THEN json_extract_string(${J}, ${P}) END`,
  int: `CASE WHEN ${TYPE} IN ('BIGINT', 'UBIGINT') THEN TRY_CAST(${VALUE} AS BIGINT)
    WHEN ${TYPE} = 'DOUBLE' THEN TRY_CAST(trunc(CAST(${VALUE} AS DOUBLE)) AS BIGINT)
    WHEN ${TYPE} = 'BOOLEAN' THEN CAST(CAST(${VALUE} AS BOOLEAN) AS BIGINT) END`,
  float: `CASE WHEN ${NUMBER} THEN CAST(${VALUE} AS DOUBLE)
    WHEN ${TYPE} = 'BOOLEAN' THEN CAST(CAST(${VALUE} AS BOOLEAN) AS DOUBLE) END`,
  bool: `CASE WHEN ${TYPE} = 'BOOLEAN' THEN CAST(CAST(${VALUE} AS BOOLEAN) AS UTINYINT)
    WHEN ${NUMBER} THEN CAST(CAST(${VALUE} AS DOUBLE) <> 0 AS UTINYINT) END`,
  raw: `CAST(${VALUE} AS VARCHAR)`,
  has: `CAST(coalesce(json_exists(${J}, ${P}), false) AS UTINYINT)`,
  length: `CASE WHEN ${TYPE} = 'ARRAY' THEN CAST(json_array_length(${J}, ${P}) AS BIGINT)
    WHEN ${TYPE} = 'OBJECT' THEN CAST(len(json_keys(${J}, ${P})) AS BIGINT) END`,
};

/** ClickHouse's default for a missing or mistyped value; `has` and `length` never give NULL. */
const DEFAULTS: Readonly<Record<Kind, string>> = {
  string: "''",
  int: '0',
  float: 'CAST(0 AS DOUBLE)',
  bool: 'CAST(0 AS UTINYINT)',
  raw: "''",
  has: '0',
  length: '0',
};

/** Each kind's expression with its default: `coalesce(expression, default)`. */
export const WITH_DEFAULTS: Readonly<Record<Kind, string>> = Object.fromEntries(
  (Object.keys(EXPRESSIONS) as Kind[]).map((k) => [k, `coalesce(${EXPRESSIONS[k]}, ${DEFAULTS[k]})`]),
) as Record<Kind, string>;

/**
 * A few other ClickHouse functions Trench's queries use, of one argument, as DuckDB expressions of it (weeks start
 * on Sunday: ClickHouse's default mode 0).
 */
export const UNARY: Readonly<Record<string, string>> = {
  todate: `CAST(${J} AS DATE)`,
  todatetime: `CAST(${J} AS TIMESTAMP)`,
  tostartofminute: `date_trunc('minute', ${J})`,
  tostartofhour: `date_trunc('hour', ${J})`,
  tostartofday: `date_trunc('day', ${J})`,
  tostartofweek: `CAST(${J} AS DATE) - CAST(dayofweek(${J}) AS INTEGER)`,
  tostartofmonth: `CAST(date_trunc('month', ${J}) AS DATE)`,
  tostartofyear: `CAST(date_trunc('year', ${J}) AS DATE)`,
  tounixtimestamp: `CAST(epoch(${J}) AS BIGINT)`,
};

/** ClickHouse aggregates that are a DuckDB aggregate under another name (uniq: count of distinct values). */
const AGGREGATES: Readonly<Record<string, { name: string; distinct?: true }>> = {
  uniq: { name: 'count', distinct: true },
  uniqexact: { name: 'count', distinct: true },
};

/** ClickHouse's names (as DuckDB's parser folds them, to lower case) and what each reads. */
export const FUNCTIONS: Readonly<Record<string, Kind | 'typed'>> = {
  jsonextractstring: 'string',
  jsonextractint: 'int',
  jsonextractuint: 'int',
  jsonextractfloat: 'float',
  jsonextractbool: 'bool',
  jsonextractraw: 'raw',
  jsonhas: 'has',
  jsonlength: 'length',
  jsonextract: 'typed',
};

/** The kind JSONExtract(json, ..., 'Type') reads for its ClickHouse type name. */
export function kindOfType(name: string): Kind | undefined {
  if (name === 'String') return 'string';
  if (/^U?Int(8|16|32|64|128|256)$/.test(name)) return 'int';
  if (/^Float(32|64)$/.test(name)) return 'float';
  if (name === 'Bool' || name === 'Boolean') return 'bool';
  return undefined;
}

/** The parsed expressions (run.ts parses EXPRESSIONS and WITH_DEFAULTS once with the engine). */
export interface ParsedExpressions {
  plain: ReadonlyMap<Kind, Json>;
  withDefault: ReadonlyMap<Kind, Json>;
  unary: ReadonlyMap<string, Json>;
}

const invalid = (message: string) => new IntakeError('INTAKE_ERR_QUERY_INVALID', message);

/** A string constant's value, or undefined. */
export function stringConstant(node: Json | undefined): string | undefined {
  const value = node?.value as { type?: { id?: string }; is_null?: boolean; value?: unknown } | undefined;
  if (node?.class !== 'CONSTANT' || value?.is_null || value?.type?.id !== 'VARCHAR') return undefined;
  return String(value.value);
}

/** DuckDB's whole-number types, as the parse tree names them. */
export const INTEGER_TYPES: ReadonlySet<string> = new Set([
  'TINYINT',
  'SMALLINT',
  'INTEGER',
  'BIGINT',
  'HUGEINT',
  'UTINYINT',
  'USMALLINT',
  'UINTEGER',
  'UBIGINT',
]);
/** ClickHouse's keys and 1-based indices (negative: from the end) as one DuckDB JSON path. */
export function pathOf(fn: string, args: Json[]): string {
  let path = '$';
  for (const arg of args) {
    const key = stringConstant(arg);
    const value = arg.value as { type?: { id?: string }; is_null?: boolean; value?: unknown } | undefined;
    if (key !== undefined) {
      path += `."${key.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
    } else if (arg.class === 'CONSTANT' && !value?.is_null && INTEGER_TYPES.has(String(value?.type?.id))) {
      const i = Number(value?.value);
      if (!Number.isSafeInteger(i) || i === 0)
        throw invalid(`${fn}: indices are 1-based (negative from the end), got ${String(value?.value)}`);
      path += i > 0 ? `[${i - 1}]` : `[#${i}]`;
    } else {
      throw invalid(`${fn}: keys and indices must be constants (a string key or an integer index)`);
    }
  }
  return path;
}

/** `template` with the placeholders replaced: the JSON argument by a copy of `json`, the path by `path`. */
function fill(template: Json, json: Json, path: string): Json {
  const visit = (v: unknown): unknown => {
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map(visit);
    const o = v as Json;
    const names = o.column_names as unknown[] | undefined;
    if (o.class === 'COLUMN_REF' && names?.length === 1 && names[0] === JSON_PLACEHOLDER) {
      return { ...structuredClone(json), alias: '' };
    }
    if (stringConstant(o) === PATH_PLACEHOLDER) {
      const value = o.value as Json;
      return { ...o, value: { ...value, value: path } };
    }
    const out: Json = {};
    for (const [k, x] of Object.entries(o)) out[k] = visit(x);
    return out;
  };
  return visit(template) as Json;
}

/**
 * The DuckDB expression for a FUNCTION node calling one of ClickHouse's JSON functions (unqualified), keeping the
 * node's alias; undefined for any other function. Throws a coded 400 for arguments it cannot read.
 */
export function rewriteClickHouse(node: Json, parsed: ParsedExpressions): Json | undefined {
  if ((node.schema ?? '') !== '' || (node.catalog ?? '') !== '') return undefined;
  const name = String(node.function_name ?? '').toLowerCase();
  const args = (node.children as Json[] | undefined) ?? [];
  const aggregate = AGGREGATES[name];
  if (aggregate) {
    if (args.length !== 1) throw invalid(`${name}() takes one argument here`);
    return { ...node, function_name: aggregate.name, distinct: aggregate.distinct ?? node.distinct };
  }
  const unary = parsed.unary.get(name);
  if (unary) {
    if (args.length !== 1 || args[0] === undefined) throw invalid(`${name}() takes one argument here`);
    return { ...fill(unary, args[0], ''), alias: node.alias ?? '' };
  }
  const what = FUNCTIONS[name];
  if (what === undefined) return undefined;
  const json = args[0];
  if (json === undefined) throw invalid(`${name}() needs a JSON argument`);
  let kind: Kind;
  let keys = args.slice(1);
  let templates = parsed.withDefault;
  if (what === 'typed') {
    const type = stringConstant(args[args.length - 1]);
    const nullable = type === undefined ? undefined : /^Nullable\((.*)\)$/.exec(type)?.[1];
    const found = kindOfType(nullable ?? type ?? '');
    if (args.length < 2 || found === undefined) {
      throw invalid(
        `JSONExtract: its last argument must be a constant type: String, Int8..Int64, UInt8..UInt64, Float32, Float64, Bool, or Nullable(...) of one; got ${type ?? 'none'}`,
      );
    }
    kind = found;
    keys = args.slice(1, -1);
    if (nullable !== undefined) templates = parsed.plain;
  } else kind = what;
  if (
    node.distinct === true ||
    (node.filter ?? null) !== null ||
    ((node.order_bys as Json)?.orders as [])?.length > 0
  )
    throw invalid(`${name}() takes no DISTINCT, FILTER or ORDER BY`);
  const expr = fill(templates.get(kind) as Json, json, pathOf(name, keys));
  return { ...expr, alias: node.alias ?? '' };
}
