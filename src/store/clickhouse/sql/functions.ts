// Intake SQL's functions (the allow-list of duckdb/sql/functions.ts) as ClickHouse renders them, on what 18.16 and
// current releases share. Each entry: the arities it takes and how it renders from its compiled arguments. A
// function of the allow-list that is not here has no faithful equivalent on ClickHouse 18.16 and is refused with a
// coded 400 naming it (compile.ts), never sent with another meaning.

import { INTEGER_TYPES, stringConstant } from '../../duckdb/sql/clickhouse.ts';

export { INTEGER_TYPES as INTEGERS, stringConstant };

type Json = Record<string, unknown>;

export interface Fn {
  /** The argument counts it takes. */
  arity: readonly number[];
  /** The ClickHouse expression, from the compiled arguments (and their parse-tree nodes, for constants). */
  render(args: string[], nodes: Json[]): string;
}

/** A plain call of a ClickHouse function of the same arguments. */
const call = (name: string, ...arity: number[]): Fn => ({
  arity,
  render: (a) => `${name}(${a.join(', ')})`,
});

/** Thrown for an argument this engine cannot render faithfully; compile.ts makes it a coded 400. */
export class Unsupported extends Error {}

/** date_trunc's parts: the start of the period, as a DateTime (DuckDB answers a TIMESTAMP). */
const TRUNC: Readonly<Record<string, (x: string) => string>> = {
  second: (x) => `toDateTime(${x})`,
  minute: (x) => `toStartOfMinute(toDateTime(${x}))`,
  hour: (x) => `toStartOfHour(toDateTime(${x}))`,
  day: (x) => `toStartOfDay(toDateTime(${x}))`,
  week: (x) => `toDateTime(toMonday(${x}))`,
  month: (x) => `toDateTime(toStartOfMonth(${x}))`,
  quarter: (x) => `toDateTime(toStartOfQuarter(${x}))`,
  year: (x) => `toDateTime(toStartOfYear(${x}))`,
};

/** date_part's parts (DuckDB's dow counts from Sunday = 0; isodow from Monday = 1). */
const PART: Readonly<Record<string, (x: string) => string>> = {
  year: (x) => `toYear(${x})`,
  quarter: (x) => `toQuarter(${x})`,
  month: (x) => `toMonth(${x})`,
  day: (x) => `toDayOfMonth(${x})`,
  hour: (x) => `toHour(${x})`,
  minute: (x) => `toMinute(${x})`,
  second: (x) => `toSecond(${x})`,
  dow: (x) => `(toDayOfWeek(${x}) % 7)`,
  isodow: (x) => `toDayOfWeek(${x})`,
  doy: (x) => `toDayOfYear(${x})`,
  epoch: (x) => `toUnixTimestamp(${x})`,
};

const part = (table: Readonly<Record<string, (x: string) => string>>, fn: string): Fn => ({
  arity: [2],
  render: (a, n) => {
    const p = stringConstant(n[0])?.toLowerCase();
    const r = p === undefined ? undefined : table[p];
    if (!r) throw new Unsupported(`${fn}() with the part ${p ?? '(not a constant)'}`);
    return r(a[1] as string);
  },
});

const one = (f: (x: string) => string): Fn => ({ arity: [1], render: (a) => f(a[0] as string) });
const two = (f: (x: string, y: string) => string): Fn => ({
  arity: [2],
  render: (a) => f(a[0] as string, a[1] as string),
});

const interval = (unit: string) => one((x) => `toInterval${unit}(${x})`);

/** SQL's NULL-skipping text concatenation (DuckDB's concat: NULL reads as ''). */
const concat: Fn = {
  arity: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16],
  render: (a) => `concat(${a.map((x) => `ifNull(toString(${x}), '')`).join(', ')}, '')`,
};

/** substring(s, start[, length]): 1-based characters on both engines. */
const substring: Fn = {
  arity: [2, 3],
  render: (a) => `substringUTF8(${a[0]}, ${a[1]}, ${a[2] ?? '4294967295'})`,
};

export const FUNCTIONS: ReadonlyMap<string, Fn> = new Map<string, Fn>([
  // Aggregates.
  ['count_star', { arity: [0], render: () => 'count()' }],
  ['count', call('count', 1)],
  ['sum', call('sum', 1)],
  ['avg', call('avg', 1)],
  ['mean', call('avg', 1)],
  ['min', call('min', 1)],
  ['max', call('max', 1)],
  ['any_value', call('any', 1)],
  ['arg_max', call('argMax', 2)],
  ['argmax', call('argMax', 2)],
  ['max_by', call('argMax', 2)],
  ['arg_min', call('argMin', 2)],
  ['argmin', call('argMin', 2)],
  ['min_by', call('argMin', 2)],
  ['approx_count_distinct', call('uniq', 1)],
  ['stddev', call('stddevSamp', 1)],
  ['stddev_samp', call('stddevSamp', 1)],
  ['stddev_pop', call('stddevPop', 1)],
  ['variance', call('varSamp', 1)],
  ['var_samp', call('varSamp', 1)],
  ['var_pop', call('varPop', 1)],
  ['corr', call('corr', 2)],
  ['covar_pop', call('covarPop', 2)],
  ['covar_samp', call('covarSamp', 2)],
  ['count_if', one((x) => `countIf(${x})`)],
  ['countif', one((x) => `countIf(${x})`)],
  ['bool_and', one((x) => `(min(${x}) = 1)`)],
  ['bool_or', one((x) => `(max(${x}) = 1)`)],
  ['list', call('groupArray', 1)],
  ['array_agg', call('groupArray', 1)],
  [
    'string_agg',
    { arity: [1, 2], render: (a) => `arrayStringConcat(groupArray(${a[0]}), ${a[1] ?? "','"})` },
  ],
  [
    'group_concat',
    { arity: [1, 2], render: (a) => `arrayStringConcat(groupArray(${a[0]}), ${a[1] ?? "','"})` },
  ],
  // Operators.
  ['+', { arity: [1, 2], render: (a) => (a.length === 1 ? `(${a[0]})` : `(${a[0]} + ${a[1]})`) }],
  ['-', { arity: [1, 2], render: (a) => (a.length === 1 ? `(-${a[0]})` : `(${a[0]} - ${a[1]})`) }],
  ['*', two((x, y) => `(${x} * ${y})`)],
  ['/', two((x, y) => `(${x} / ${y})`)],
  ['//', two((x, y) => `intDiv(${x}, ${y})`)],
  ['%', two((x, y) => `(${x} % ${y})`)],
  ['mod', two((x, y) => `(${x} % ${y})`)],
  ['^', call('pow', 2)],
  ['**', call('pow', 2)],
  ['||', two((x, y) => `concat(toString(${x}), toString(${y}))`)],
  ['~~', two((x, y) => `(${x} LIKE ${y})`)],
  ['!~~', two((x, y) => `(${x} NOT LIKE ${y})`)],
  ['~~*', two((x, y) => `(lowerUTF8(${x}) LIKE lowerUTF8(${y}))`)],
  ['!~~*', two((x, y) => `(lowerUTF8(${x}) NOT LIKE lowerUTF8(${y}))`)],
  ['regexp_full_match', two((x, y) => `match(${x}, concat('^(?:', ${y}, ')$'))`)],
  ['regexp_matches', call('match', 2)],
  ['trunc', one((x) => `trunc(${x})`)],
  // Intervals: DuckDB writes INTERVAL 2 DAY as to_days(2).
  ['to_seconds', interval('Second')],
  ['to_minutes', interval('Minute')],
  ['to_hours', interval('Hour')],
  ['to_days', interval('Day')],
  ['to_weeks', interval('Week')],
  ['to_months', interval('Month')],
  ['to_years', interval('Year')],
  // Times.
  ['date_trunc', part(TRUNC, 'date_trunc')],
  ['datetrunc', part(TRUNC, 'date_trunc')],
  ['date_part', part(PART, 'date_part')],
  ['datepart', part(PART, 'date_part')],
  ['year', one((x) => `toYear(${x})`)],
  ['quarter', one((x) => `toQuarter(${x})`)],
  ['month', one((x) => `toMonth(${x})`)],
  ['day', one((x) => `toDayOfMonth(${x})`)],
  ['dayofmonth', one((x) => `toDayOfMonth(${x})`)],
  ['hour', one((x) => `toHour(${x})`)],
  ['minute', one((x) => `toMinute(${x})`)],
  ['second', one((x) => `toSecond(${x})`)],
  ['dayofweek', one((x) => `(toDayOfWeek(${x}) % 7)`)],
  ['isodow', one((x) => `toDayOfWeek(${x})`)],
  ['dayofyear', one((x) => `toDayOfYear(${x})`)],
  ['epoch', one((x) => `toUnixTimestamp(${x})`)],
  ['epoch_ms', one((x) => `toDateTime(intDiv(${x}, 1000))`)],
  ['to_timestamp', one((x) => `toDateTime(${x})`)],
  ['now', { arity: [0], render: () => 'now()' }],
  ['current_timestamp', { arity: [0], render: () => 'now()' }],
  ['get_current_timestamp', { arity: [0], render: () => 'now()' }],
  ['current_date', { arity: [0], render: () => 'today()' }],
  ['today', { arity: [0], render: () => 'today()' }],
  // Text.
  ['lower', call('lowerUTF8', 1)],
  ['lcase', call('lowerUTF8', 1)],
  ['upper', call('upperUTF8', 1)],
  ['ucase', call('upperUTF8', 1)],
  ['length', call('lengthUTF8', 1)],
  ['len', call('lengthUTF8', 1)],
  ['char_length', call('lengthUTF8', 1)],
  ['character_length', call('lengthUTF8', 1)],
  ['strlen', call('length', 1)],
  ['octet_length', call('length', 1)],
  ['concat', concat],
  ['substring', substring],
  ['substr', substring],
  ['replace', call('replaceAll', 3)],
  ['starts_with', call('startsWith', 2)],
  ['prefix', call('startsWith', 2)],
  ['ends_with', call('endsWith', 2)],
  ['suffix', call('endsWith', 2)],
  ['contains', two((x, y) => `(position(${x}, ${y}) > 0)`)],
  ['strpos', call('positionUTF8', 2)],
  ['instr', call('positionUTF8', 2)],
  ['position', call('positionUTF8', 2)],
  ['left', two((x, n) => `substringUTF8(${x}, 1, ${n})`)],
  ['reverse', call('reverseUTF8', 1)],
  ['md5', one((x) => `lower(hex(MD5(${x})))`)],
  [
    'regexp_replace',
    {
      arity: [3, 4],
      render: (a, n) => {
        const flags = a.length === 4 ? stringConstant(n[3]) : '';
        if (flags !== '' && flags !== 'g')
          throw new Unsupported(`regexp_replace() with the options '${flags}'`);
        return `${flags === 'g' ? 'replaceRegexpAll' : 'replaceRegexpOne'}(${a[0]}, ${a[1]}, ${a[2]})`;
      },
    },
  ],
  // Numbers.
  ['abs', call('abs', 1)],
  ['round', call('round', 1, 2)],
  ['floor', call('floor', 1)],
  ['ceil', call('ceil', 1)],
  ['ceiling', call('ceil', 1)],
  ['sqrt', call('sqrt', 1)],
  ['cbrt', call('cbrt', 1)],
  ['pow', call('pow', 2)],
  ['power', call('pow', 2)],
  ['exp', call('exp', 1)],
  ['ln', call('log', 1)],
  ['log10', call('log10', 1)],
  ['log2', call('log2', 1)],
  ['pi', { arity: [0], render: () => 'pi()' }],
  ['greatest', call('greatest', 2)],
  ['least', call('least', 2)],
  // NULLs and conditions.
  ['coalesce', { arity: [1, 2, 3, 4, 5, 6, 7, 8], render: (a) => `coalesce(${a.join(', ')})` }],
  ['ifnull', call('ifNull', 2)],
  ['nullif', call('nullIf', 2)],
  ['if', call('if', 3)],
  ['iff', call('if', 3)],
]);
