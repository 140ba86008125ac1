// What the compiler's parts share: the coded refusal, quoted names, the literals of the tree's constants, and how
// a name in an expression resolves.
import { IntakeError } from '../../../core/errors.ts';
import { lit } from '../http.ts';
import { INTEGERS } from './functions.ts';

export type Json = Record<string, unknown>;

/**
 * Where a rewritten Trench call (duckdb/sql/clickhouse.ts turns JSONExtractString(...) into DuckDB's expression,
 * which the binder types) keeps the call as written: its name and arguments, which this compiler renders.
 */
export const ORIGINAL = '__intake_original_call';

/** A coded 400 for what the cluster engine cannot run faithfully. */
export const unsupported = (what: string) =>
  new IntakeError(
    'INTAKE_ERR_QUERY_UNSUPPORTED',
    `${what} is not available on the cluster engine (ClickHouse 18.16): it has no faithful equivalent there`,
  );

/** A quoted ClickHouse identifier, lower case. */
export const ident = (name: string): string =>
  `\`${name.toLowerCase().replaceAll('\\', '\\\\').replaceAll('`', '\\`')}\``;

/** A compiled query and the names of its columns (null: not known here, a * among them). */
export interface Query {
  sql: string;
  names: string[] | null;
}

/** An expression's tree without its alias and place in the text: equal for the same expression. */
export const shape = (e: Json): string =>
  JSON.stringify(e, (k, v) => (k === 'alias' || k === 'query_location' ? undefined : v));

/** How a name in an expression resolves: a column of the FROM, else a select item's alias (as DuckDB binds). */
export interface Context {
  columns: Set<string> | null;
  /** Select items by alias (lower case): their reference (the inner alias or the expression). */
  aliases: Map<string, string>;
  /** ORDER BY: aliases before columns. */
  aliasFirst?: boolean;
  /** Select items by shape: an expression equal to one reads it (see compile.ts). */
  same?: ReadonlyMap<string, string>;
}

export const NONE: Context = { columns: null, aliases: new Map() };

export const describe = (kind: string) => kind.toLowerCase().replaceAll('_', ' ');

/** A time constant as ClickHouse's toDateTime reads it ('YYYY-MM-DD hh:mm:ss'), or undefined. */
export function timeText(s: string): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2}(?::\d{2})?)(?:\.\d+)?)?(Z|[+-]00(?::?00)?)?$/.exec(
    s.trim(),
  );
  if (!m) return undefined;
  const time = m[2] === undefined ? '00:00:00' : m[2].length === 5 ? `${m[2]}:00` : m[2];
  return `${m[1]} ${time}`;
}

/** The name DuckDB gives a select item that has none, where an outer query may read it by name. */
export function nameOf(item: Json, k: number): string {
  const alias = String(item.alias ?? '');
  if (alias !== '') return alias;
  if (item.class === 'COLUMN_REF') return String((item.column_names as string[]).at(-1));
  if (item.class === 'FUNCTION' && item.function_name === 'count_star') return 'count_star()';
  return `__intake_col${k}`;
}

/** A constant of the tree as a ClickHouse literal. */
export function constant(e: Json): string {
  const v = e.value as {
    type?: { id?: string; type_info?: { scale?: number } };
    is_null?: boolean;
    value?: unknown;
  };
  if (v.is_null) return 'NULL';
  const id = String(v.type?.id);
  if (id === 'VARCHAR') return lit(String(v.value));
  if (id === 'BOOLEAN') return v.value ? '1' : '0';
  if (INTEGERS.has(id) && (typeof v.value === 'number' || typeof v.value === 'string')) {
    const s = String(v.value);
    if (!/^-?\d+$/.test(s)) throw unsupported(`the number ${s}`);
    return s.startsWith('-') ? `(${s})` : s;
  }
  if ((id === 'DOUBLE' || id === 'FLOAT') && typeof v.value === 'number' && Number.isFinite(v.value))
    return v.value < 0 ? `(${v.value})` : String(v.value);
  if (id === 'DECIMAL' && (typeof v.value === 'number' || typeof v.value === 'string')) {
    const digits = String(v.value);
    if (!/^-?\d+$/.test(digits)) throw unsupported(`the number ${digits}`);
    const scale = v.type?.type_info?.scale ?? 0;
    const neg = digits.startsWith('-');
    const abs = (neg ? digits.slice(1) : digits).padStart(scale + 1, '0');
    const text = scale === 0 ? abs : `${abs.slice(0, abs.length - scale)}.${abs.slice(abs.length - scale)}`;
    return neg ? `(-${text})` : text;
  }
  throw unsupported(`a ${id} constant`);
}
