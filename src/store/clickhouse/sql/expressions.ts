// Expressions of a checked parse tree as ClickHouse renders them: constants, names, functions (functions.ts),
// comparisons, CASE, casts, subqueries, and JSON paths (json.ts). See compile.ts.
import { kindOfType, FUNCTIONS as TRENCH_JSON } from '../../duckdb/sql/clickhouse.ts';
import { lit } from '../http.ts';
import { FUNCTIONS, INTEGERS, stringConstant, Unsupported } from './functions.ts';
import { JsonPaths, type Step, trenchKind, withValue } from './json.ts';
import {
  type Context,
  constant,
  describe,
  ident,
  type Json,
  ORIGINAL,
  type Query,
  shape,
  timeText,
  unsupported,
} from './parts.ts';

/** Intake's JSON operators and functions that read one path. */
const INTAKE_JSON = new Set([
  '->',
  '->>',
  'json_extract',
  'json_extract_string',
  'json_extract_path',
  'json_extract_path_text',
]);

const COMPARISONS: Readonly<Record<string, string>> = {
  COMPARE_EQUAL: '=',
  COMPARE_NOTEQUAL: '!=',
  COMPARE_LESSTHAN: '<',
  COMPARE_GREATERTHAN: '>',
  COMPARE_LESSTHANOREQUALTO: '<=',
  COMPARE_GREATERTHANOREQUALTO: '>=',
};

/** DuckDB's cast targets and ClickHouse's conversion functions (to<T>, to<T>OrNull for TRY_CAST of text). */
const CASTS: Readonly<Record<string, string>> = {
  TINYINT: 'Int8',
  SMALLINT: 'Int16',
  INTEGER: 'Int32',
  BIGINT: 'Int64',
  UTINYINT: 'UInt8',
  USMALLINT: 'UInt16',
  UINTEGER: 'UInt32',
  UBIGINT: 'UInt64',
  FLOAT: 'Float32',
  DOUBLE: 'Float64',
  DECIMAL: 'Float64',
  VARCHAR: 'String',
  DATE: 'Date',
  TIMESTAMP: 'DateTime',
  TIMESTAMP_TZ: 'DateTime',
};

export class Expressions {
  private n = 0;
  /** Whether a JSON path was compiled (each holds arrays of tokens per row: run.ts reads smaller blocks then). */
  jsonPaths = false;
  private readonly fresh = () => `__intake_j${this.n++}`;
  private readonly json = new JsonPaths(this.fresh);

  /** `query` compiles a subquery's node (compile.ts). */
  constructor(private readonly query: (node: Json) => Query) {}

  expr(e: Json, ctx: Context): string {
    const original = e[ORIGINAL] as { name: string; args: Json[] } | undefined;
    if (original) return this.trenchJson(original.name, original.args, ctx);
    const cls = String(e.class);
    const same = cls === 'CONSTANT' || cls === 'COLUMN_REF' ? undefined : ctx.same?.get(shape(e));
    if (same !== undefined) return same;
    switch (cls) {
      case 'CONSTANT':
        return constant(e);
      case 'COLUMN_REF':
        return this.column(e, ctx);
      case 'FUNCTION':
        return this.fn(e, ctx);
      case 'COMPARISON':
        return this.comparison(e, ctx);
      case 'CONJUNCTION': {
        const op = e.type === 'CONJUNCTION_AND' ? ' AND ' : ' OR ';
        return `(${(e.children as Json[]).map((c) => this.expr(c, ctx)).join(op)})`;
      }
      case 'OPERATOR':
        return this.operator(e, ctx);
      case 'BETWEEN': {
        const input = e.input as Json;
        const x = this.expr(input, ctx);
        const [lower, upper] = [e.lower as Json, e.upper as Json];
        const lo = this.expr(lower, ctx);
        const hi = this.expr(upper, ctx);
        const ge = this.timeComparison(input, '>=', lower, x, lo) ?? `${x} >= ${lo}`;
        const le = this.timeComparison(input, '<=', upper, x, hi) ?? `${x} <= ${hi}`;
        return `(${ge} AND ${le})`;
      }
      case 'CASE': {
        const checks = (e.case_checks as Array<{ when_expr: Json; then_expr: Json }>).map(
          (c) => `WHEN ${this.expr(c.when_expr, ctx)} THEN ${this.expr(c.then_expr, ctx)}`,
        );
        return `(CASE ${checks.join(' ')} ELSE ${this.expr(e.else_expr as Json, ctx)} END)`;
      }
      case 'CAST':
        return this.cast(e, ctx);
      case 'SUBQUERY':
        return this.subquery(e, ctx);
      case 'LAMBDA':
        // properties->'key' parses as a lambda; outside a list function (none here) DuckDB binds it as JSON's ->.
        return this.intakeJson('->', [e.lhs as Json, e.expr as Json], [this.expr(e.lhs as Json, ctx), '']);
      case 'WINDOW':
        throw unsupported(
          `the window function ${String(e.function_name ?? '').toLowerCase()}() (... OVER ...)`,
        );
      case 'STAR':
        throw unsupported('* inside an expression');
      default:
        throw unsupported(`a ${describe(cls)} expression`);
    }
  }

  private column(e: Json, ctx: Context): string {
    const names = (e.column_names as string[]).map((n) => String(n));
    if (names.length === 1) {
      const name = (names[0] as string).toLowerCase();
      const alias = ctx.aliases.get(name);
      const isColumn = ctx.columns === null || ctx.columns.has(name);
      if (alias !== undefined && (ctx.aliasFirst || !isColumn)) return alias;
    }
    return names.map(ident).join('.');
  }

  private fn(e: Json, ctx: Context): string {
    const name = String(e.function_name).toLowerCase();
    if ((e.filter ?? null) !== null) throw unsupported(`${name}() FILTER (WHERE ...)`);
    if ((((e.order_bys as Json | undefined)?.orders as unknown[] | undefined) ?? []).length > 0)
      throw unsupported(`${name}(... ORDER BY ...)`);
    if (e.export_state === true) throw unsupported(`${name}() EXPORT_STATE`);
    const nodes = (e.children as Json[] | undefined) ?? [];
    const args = nodes.map((c) => this.expr(c, ctx));
    if (e.distinct === true) {
      if (name !== 'count' || args.length !== 1) throw unsupported(`${name}(DISTINCT ...)`);
      return `count(DISTINCT ${args[0]})`;
    }
    if (INTAKE_JSON.has(name)) return this.intakeJson(name, nodes, args);
    const f = FUNCTIONS.get(name);
    if (f === undefined) throw unsupported(`the function ${name}()`);
    if (!f.arity.includes(args.length)) throw unsupported(`${name}() of ${args.length} arguments`);
    try {
      return f.render(args, nodes);
    } catch (err) {
      if (err instanceof Unsupported) throw unsupported(err.message);
      throw err;
    }
  }

  /** j->'key', j->>'key', json_extract(j, '$.a[0]'), ...: DuckDB's results (NULL when missing). */
  private intakeJson(name: string, nodes: Json[], args: string[]): string {
    if (nodes.length !== 2) throw unsupported(`${name}() of ${nodes.length} arguments`);
    const path = intakePath(name, nodes[1] as Json);
    this.jsonPaths = true;
    const raw = this.json.raw(args[0] as string, path);
    if (name === '->' || name === 'json_extract' || name === 'json_extract_path')
      return withValue(this.fresh, raw, (r) => `if(${r} = '', NULL, ${r})`);
    return withValue(
      this.fresh,
      raw,
      (r) => `if(${r} = '' OR ${r} = 'null', NULL, ${JsonPaths.unescaped(r, r)})`,
    );
  }

  /** Trench's JSONExtract*(json, key or index, ...[, 'Type']): ClickHouse's results, defaults included. */
  private trenchJson(name: string, nodes: Json[], ctx: Context): string {
    const what = TRENCH_JSON[name];
    let keys = nodes.slice(1);
    let kind: string | undefined = what;
    let nullable = false;
    if (what === 'typed') {
      const type = stringConstant(nodes.at(-1)) ?? '';
      const inner = /^Nullable\((.*)\)$/.exec(type)?.[1];
      kind = kindOfType(inner ?? type);
      nullable = inner !== undefined;
      keys = nodes.slice(1, -1);
    }
    if (kind === undefined || nodes[0] === undefined) throw unsupported(`${name}() of these arguments`);
    const path: Step[] = keys.map((k) => {
      const key = stringConstant(k);
      if (key !== undefined) return { key };
      const v = k.value as { value?: unknown } | undefined;
      const i = Number(v?.value);
      if (k.class !== 'CONSTANT' || !Number.isSafeInteger(i) || i === 0)
        throw unsupported(`${name}() with a key that is not a constant`);
      return { index: i };
    });
    this.jsonPaths = true;
    const raw = this.json.raw(this.expr(nodes[0], ctx), path);
    return withValue(this.fresh, raw, (r) => trenchKind(kind, r, this.json, nullable));
  }

  private comparison(e: Json, ctx: Context): string {
    const l = this.expr(e.left as Json, ctx);
    const r = this.expr(e.right as Json, ctx);
    const op = COMPARISONS[String(e.type)];
    if (op !== undefined) {
      const time = this.timeComparison(e.left as Json, op, e.right as Json, l, r);
      return time ?? `(${l} ${op} ${r})`;
    }
    // IS [NOT] DISTINCT FROM: NULL equals NULL.
    const same = `if(isNull(${l}) OR isNull(${r}), isNull(${l}) AND isNull(${r}), assumeNotNull(${l}) = assumeNotNull(${r}))`;
    if (e.type === 'COMPARE_NOT_DISTINCT_FROM') return `(${same})`;
    if (e.type === 'COMPARE_DISTINCT_FROM') return `(NOT ${same})`;
    throw unsupported(describe(String(e.type)));
  }

  /**
   * `x < '2026-01-03'`: DuckDB reads the text as a time when x is one; ClickHouse cannot parse a date alone as a
   * DateTime. Which x is shows only here (toTypeName, folded per block), so both readings are written and both are
   * comparisons of text: a DateTime's text ('YYYY-MM-DD hh:mm:ss') orders as the time does.
   */
  private timeComparison(le: Json, op: string, re: Json, l: string, r: string): string | undefined {
    const flip: Record<string, string> = { '<': '>', '>': '<', '<=': '>=', '>=': '<=', '=': '=', '!=': '!=' };
    const [x, text, o] =
      stringConstant(re) !== undefined && le.class !== 'CONSTANT'
        ? [l, stringConstant(re) as string, op]
        : stringConstant(le) !== undefined && re.class !== 'CONSTANT'
          ? [r, stringConstant(le) as string, flip[op] as string]
          : [undefined, undefined, op];
    const time = text === undefined ? undefined : timeText(text);
    if (x === undefined || text === undefined || time === undefined) return undefined;
    return `multiIf(toTypeName(${x}) IN ('DateTime', 'Nullable(DateTime)'), toString(${x}) ${o} ${lit(time)}, toTypeName(${x}) IN ('Date', 'Nullable(Date)'), toString(${x}) ${o} ${lit(time.slice(0, 10))}, toString(${x}) ${o} ${lit(text)})`;
  }

  private operator(e: Json, ctx: Context): string {
    const kids = (e.children as Json[]) ?? [];
    const args = () => kids.map((c) => this.expr(c, ctx));
    switch (e.type) {
      case 'OPERATOR_NOT':
        return `(NOT ${args()[0]})`;
      case 'OPERATOR_IS_NULL':
        return `isNull(${args()[0]})`;
      case 'OPERATOR_IS_NOT_NULL':
        return `isNotNull(${args()[0]})`;
      case 'OPERATOR_COALESCE':
        return `coalesce(${args().join(', ')})`;
      case 'COMPARE_IN':
      case 'COMPARE_NOT_IN': {
        const [x, ...list] = args();
        const not = e.type === 'COMPARE_NOT_IN';
        // ClickHouse's IN takes constants; other lists are a chain of comparisons.
        // NULL IN (...) is NULL in SQL, 0 in ClickHouse.
        if (kids.slice(1).every((k) => k.class === 'CONSTANT'))
          return `if(isNull(${x}), NULL, ${x} ${not ? 'NOT IN' : 'IN'} (${list.join(', ')}))`;
        const any = `(${list.map((v) => `${x} = ${v}`).join(' OR ')})`;
        return not ? `(NOT ${any})` : any;
      }
      default:
        throw unsupported(`the operator ${describe(String(e.type))}`);
    }
  }

  private cast(e: Json, ctx: Context): string {
    const type = e.cast_type as { id?: string; type_info?: { name?: string } | null };
    // JSON is an unbound name in the parse tree; its values are text here.
    const id =
      type.id === 'UNBOUND' && type.type_info?.name?.toUpperCase() === 'JSON' ? 'VARCHAR' : String(type.id);
    const child = e.child as Json;
    const text = stringConstant(child);
    if (id === 'BOOLEAN') {
      if (text !== undefined) {
        const t = text.trim().toLowerCase();
        if (['t', 'true', '1', 'y', 'yes'].includes(t)) return '1';
        if (['f', 'false', '0', 'n', 'no'].includes(t)) return '0';
      }
      return `(${this.expr(child, ctx)} != 0)`;
    }
    const to = CASTS[id];
    if (to === undefined) throw unsupported(`a cast to ${id}`);
    if ((to === 'Date' || to === 'DateTime') && text !== undefined) {
      const t = timeText(text);
      if (t === undefined) throw unsupported(`the time '${text}' (write YYYY-MM-DD hh:mm:ss)`);
      return to === 'Date' ? `toDate(${lit(t.slice(0, 10))})` : `toDateTime(${lit(t)})`;
    }
    const x = this.expr(child, ctx);
    if (to === 'String') return `toString(${x})`;
    // Through text, with the OrNull conversions: 18.16 converts the values under a Nullable column's NULLs too (''
    // for text), where to<T> would fail the whole query. A whole number's text converts exactly; any other number
    // rounds half away from zero, as DuckDB's cast does. Text that is no number gives NULL where DuckDB fails.
    const asText = `toString(${x})`;
    if (to.startsWith('Int') || to.startsWith('UInt'))
      return `ifNull(to${to}OrNull(${asText}), to${to}OrNull(toString(round(toFloat64OrNull(${asText})))))`;
    return `to${to}OrNull(${asText})`;
  }

  private subquery(e: Json, ctx: Context): string {
    const q = this.query((e.subquery as Json).node as Json);
    switch (e.subquery_type) {
      case 'SCALAR':
        return `(${q.sql})`;
      case 'EXISTS':
        return `((SELECT count() FROM (SELECT 1 FROM (${q.sql}) LIMIT 1)) > 0)`;
      case 'ANY':
        if (e.comparison_type !== 'COMPARE_EQUAL') throw unsupported('a comparison with ANY or ALL');
        return withValue(
          this.fresh,
          this.expr(e.child as Json, ctx),
          (x) => `if(isNull(${x}), NULL, ${x} IN (${q.sql}))`,
        );
      default:
        throw unsupported(`a ${describe(String(e.subquery_type))} subquery`);
    }
  }
}

/** DuckDB's JSON path argument: a key, '$.a.b[0]' or '$."a b"', or a 0-based index. */
function intakePath(name: string, node: Json): Step[] {
  const text = stringConstant(node);
  const v = node.value as { type?: { id?: string }; value?: unknown } | undefined;
  if (text === undefined) {
    const i = Number(v?.value);
    if (node.class === 'CONSTANT' && INTEGERS.has(String(v?.type?.id)) && Number.isSafeInteger(i) && i >= 0)
      return [{ index: i + 1 }];
    throw unsupported(`${name}() with a path that is not a constant key, path or index`);
  }
  if (!text.startsWith('$')) {
    if (text.startsWith('/')) throw unsupported(`${name}() with a JSON pointer path`);
    return [{ key: text }];
  }
  const steps: Step[] = [];
  const re = /\.(?:([^.[\]"]+)|"((?:[^"\\]|\\.)*)")|\[(\d+)\]/y;
  let at = 1;
  while (at < text.length) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m) throw unsupported(`${name}() with the path ${text} (write $.key.key[0])`);
    if (m[1] !== undefined) steps.push({ key: m[1] });
    else if (m[2] !== undefined) steps.push({ key: JSON.parse(`"${m[2]}"`) as string });
    else steps.push({ index: Number(m[3]) + 1 });
    at = re.lastIndex;
  }
  return steps;
}
