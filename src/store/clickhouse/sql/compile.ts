// Compiles a checked, workspace-scoped parse tree of Intake SQL (DuckDB's json_serialize_sql tree, after
// duckdb/sql/check.ts) to ClickHouse SQL that 18.16 runs. Only what is written here reaches ClickHouse: the
// user's text never does. Names are the tree's (lower case: DuckDB's identifiers are case-insensitive), quoted;
// values are literals rendered by one function (lit); the stored tables the templates name (main.events, ...)
// become subqueries over the workspace's committed rows (views.ts); CTEs are inlined where they are named; and
// every construct, function or argument without a faithful ClickHouse equivalent is refused with a coded 400
// naming it, never sent with another meaning.
//
// Each SELECT compiles to an inner SELECT whose items are aliased __intake_eN (ClickHouse's aliases are visible
// in the whole SELECT, so a user's alias must never shadow a column there: `SELECT lower(event) AS event ...
// WHERE event = 'x'` reads the column on DuckDB), under an outer SELECT renaming them to the item's names.
import { IntakeError } from '../../../core/errors.ts';
import { kindOfType, FUNCTIONS as TRENCH_JSON } from '../../duckdb/sql/clickhouse.ts';
import { lit } from '../http.ts';
import { FUNCTIONS, INTEGERS, stringConstant, Unsupported } from './functions.ts';
import { JsonPaths, type Step, trenchKind, withValue } from './json.ts';
import { VIEW_COLUMNS, viewOf } from './views.ts';

type Json = Record<string, unknown>;

/**
 * Where a rewritten Trench call (duckdb/sql/clickhouse.ts turns JSONExtractString(...) into DuckDB's expression,
 * which the binder types) keeps the call as written: its name and arguments, which this compiler renders.
 */
export const ORIGINAL = '__intake_original_call';

/** Intake's JSON operators and functions that read one path. */
const INTAKE_JSON = new Set([
  '->',
  '->>',
  'json_extract',
  'json_extract_string',
  'json_extract_path',
  'json_extract_path_text',
]);

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
interface Query {
  sql: string;
  names: string[] | null;
}

/** A FROM clause and the columns it brings (null: not known). */
interface From {
  sql: string;
  columns: Set<string> | null;
}

/** How a name in an expression resolves: a column of the FROM, else a select item's alias (as DuckDB binds). */
interface Context {
  columns: Set<string> | null;
  /** Select items by alias (lower case): their reference (the inner alias or the expression). */
  aliases: Map<string, string>;
  /** ORDER BY: aliases before columns. */
  aliasFirst?: boolean;
}

const NONE: Context = { columns: null, aliases: new Map() };

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

const describe = (kind: string) => kind.toLowerCase().replaceAll('_', ' ');

/** A time constant as ClickHouse's toDateTime reads it ('YYYY-MM-DD hh:mm:ss'), or undefined. */
function timeText(s: string): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2}(?::\d{2})?)(?:\.\d+)?)?(Z|[+-]00(?::?00)?)?$/.exec(
    s.trim(),
  );
  if (!m) return undefined;
  const time = m[2] === undefined ? '00:00:00' : m[2].length === 5 ? `${m[2]}:00` : m[2];
  return `${m[1]} ${time}`;
}

class Compiler {
  private n = 0;
  private readonly ctes = new Map<string, Query>();
  /** Whether a JSON path was compiled (each holds arrays of tokens per row: run.ts reads smaller blocks then). */
  jsonPaths = false;
  private readonly fresh = () => `__intake_j${this.n++}`;
  private readonly json = new JsonPaths(this.fresh);

  constructor(private readonly workspaceId: string) {}

  query(node: Json, top = false): Query {
    const ctes = (node.cte_map as Json | undefined)?.map as Array<{ key: string; value: Json }> | undefined;
    for (const cte of ctes ?? []) {
      const body = (cte.value?.query as Json | undefined)?.node as Json;
      this.ctes.set(String(cte.key), this.query(body));
    }
    if (node.type === 'SELECT_NODE') return this.select(node, top);
    if (node.type === 'SET_OPERATION_NODE') return this.setOperation(node, top);
    if (node.type === 'RECURSIVE_CTE_NODE' || node.type === 'CTE_NODE') throw unsupported('WITH RECURSIVE');
    throw unsupported(describe(String(node.type)));
  }

  private select(node: Json, top: boolean): Query {
    if ((node.qualify ?? null) !== null) throw unsupported('QUALIFY');
    if ((node.sample ?? null) !== null) throw unsupported('USING SAMPLE');
    if (node.aggregate_handling === 'FORCE_AGGREGATES') throw unsupported('GROUP BY ALL');
    const from = this.from(node.from_table as Json);
    const items = node.select_list as Json[];
    const star = items.some((i) => i.class === 'STAR');
    const inner = items.map(() => `__intake_e${this.n++}`);
    // A reference to item k from the clauses of this SELECT.
    const refs = items.map((_, k) => (star ? undefined : (inner[k] as string)));
    const aliases = new Map<string, string>();
    const compiled: string[] = [];
    items.forEach((item, k) => {
      const e =
        item.class === 'STAR'
          ? this.star(item)
          : this.expr(item, { columns: from.columns, aliases: new Map(aliases) });
      compiled.push(e);
      const alias = String(item.alias ?? '').toLowerCase();
      if (alias !== '' && !aliases.has(alias)) aliases.set(alias, refs[k] ?? `(${e})`);
    });
    const ctx: Context = { columns: from.columns, aliases };
    const list = items
      .map((item, k) => {
        if (item.class === 'STAR') return compiled[k];
        const alias = star ? String(item.alias ?? '') : (inner[k] as string);
        return alias === '' ? compiled[k] : `${compiled[k]} AS ${ident(alias)}`;
      })
      .join(', ');
    const position = (e: Json): string | undefined => {
      const v = e.value as { type?: { id?: string }; value?: unknown } | undefined;
      if (e.class !== 'CONSTANT' || !INTEGERS.has(String(v?.type?.id))) return undefined;
      const k = Number(v?.value) - 1;
      if (!Number.isInteger(k) || k < 0 || k >= items.length) return undefined;
      const ref = refs[k];
      if (ref === undefined) throw unsupported('a position (GROUP BY 1, ORDER BY 1) in a SELECT with *');
      return ref;
    };
    let sql = `SELECT ${this.modifiers(node).distinct ? 'DISTINCT ' : ''}${list}`;
    if (from.sql !== '') sql += ` FROM ${from.sql}`;
    if ((node.where_clause ?? null) !== null) sql += ` WHERE ${this.expr(node.where_clause as Json, ctx)}`;
    const groups = (node.group_expressions as Json[] | undefined) ?? [];
    const sets = (node.group_sets as unknown[] | undefined) ?? [];
    if (sets.length > 1) throw unsupported('GROUPING SETS, ROLLUP and CUBE');
    if (groups.length > 0)
      sql += ` GROUP BY ${groups.map((g) => position(g) ?? this.expr(g, ctx)).join(', ')}`;
    if ((node.having ?? null) !== null) sql += ` HAVING ${this.expr(node.having as Json, ctx)}`;
    sql += this.orderAndLimit(node, (e) => position(e) ?? this.expr(e, { ...ctx, aliasFirst: true }));
    if (star) return { sql, names: null };
    const names = items.map((item, k) => (top ? `c${k}` : nameOf(item, k)));
    const outer = names.map((name, k) => `${inner[k]} AS ${ident(name)}`).join(', ');
    return { sql: `SELECT ${outer} FROM (${sql})`, names };
  }

  private modifiers(node: Json): { distinct: boolean } {
    let distinct = false;
    for (const m of (node.modifiers as Json[] | undefined) ?? []) {
      if (m.type === 'DISTINCT_MODIFIER') {
        if (((m.distinct_on_targets as unknown[] | undefined) ?? []).length > 0)
          throw unsupported('DISTINCT ON');
        distinct = true;
      } else if (m.type === 'LIMIT_PERCENT_MODIFIER') throw unsupported('LIMIT ... PERCENT');
    }
    return { distinct };
  }

  /** ORDER BY (nulls placed as DuckDB places them: last unless said) and LIMIT/OFFSET of constants. */
  private orderAndLimit(node: Json, order: (e: Json) => string): string {
    let sql = '';
    for (const m of (node.modifiers as Json[] | undefined) ?? []) {
      if (m.type === 'ORDER_MODIFIER') {
        const orders = (m.orders as Json[]).map((o) => {
          const dir = o.type === 'DESCENDING' ? 'DESC' : 'ASC';
          const nulls =
            String(o.null_order).replace('_', ' ') === 'NULLS FIRST' ? 'NULLS FIRST' : 'NULLS LAST';
          return `${order(o.expression as Json)} ${dir} ${nulls}`;
        });
        sql += ` ORDER BY ${orders.join(', ')}`;
      } else if (m.type === 'LIMIT_MODIFIER') {
        const count = (e: unknown): number | undefined => {
          if (e === null || e === undefined) return undefined;
          const v = (e as Json).value as
            | { type?: { id?: string }; value?: unknown; is_null?: boolean }
            | undefined;
          const x = Number(v?.value);
          if (
            (e as Json).class !== 'CONSTANT' ||
            !INTEGERS.has(String(v?.type?.id)) ||
            !Number.isSafeInteger(x) ||
            x < 0
          )
            throw unsupported('a LIMIT or OFFSET that is not a whole number');
          return x;
        };
        const limit = count(m.limit);
        const offset = count(m.offset) ?? 0;
        sql += ` LIMIT ${offset}, ${limit ?? '18446744073709551615'}`;
      }
    }
    return sql;
  }

  private setOperation(node: Json, top: boolean): Query {
    const kind = String(node.setop_type);
    if (kind !== 'UNION') throw unsupported(kind === 'UNION_BY_NAME' ? 'UNION BY NAME' : kind);
    const left = this.query(node.left as Json);
    const right = this.query(node.right as Json);
    const distinct = node.setop_all === true ? '' : 'DISTINCT ';
    const names = left.names;
    const sql = `SELECT ${distinct}* FROM (${left.sql} UNION ALL ${right.sql})`;
    const order = (e: Json): string => {
      const v = e.value as { type?: { id?: string }; value?: unknown } | undefined;
      if (e.class === 'CONSTANT' && INTEGERS.has(String(v?.type?.id))) {
        const name = names?.[Number(v?.value) - 1];
        if (name === undefined) throw unsupported('ORDER BY a position of a UNION of *');
        return ident(name);
      }
      return this.expr(e, NONE);
    };
    const tail = this.orderAndLimit(node, order);
    void top;
    return { sql: tail === '' ? sql : `SELECT * FROM (${sql})${tail}`, names };
  }

  private from(t: Json): From {
    switch (t.type) {
      case 'EMPTY':
        return { sql: '', columns: new Set() };
      case 'BASE_TABLE':
        return this.table(t);
      case 'SUBQUERY': {
        const q = this.query((t.subquery as Json).node as Json);
        return this.named(q, String(t.alias ?? ''), (t.column_name_alias as string[] | undefined) ?? []);
      }
      case 'JOIN':
        return this.join(t);
      case 'TABLE_FUNCTION':
        return this.tableFunction(t);
      default:
        throw unsupported(describe(String(t.type)));
    }
  }

  /** A subquery in FROM under `alias`, its columns renamed by `renames` (t(a, b)). */
  private named(q: Query, alias: string, renames: string[]): From {
    let { sql, names } = q;
    if (renames.length > 0) {
      if (names === null || renames.length > names.length)
        throw unsupported('renaming the columns of a subquery of *');
      const all = names.map((n, k) => renames[k] ?? n);
      sql = `SELECT ${names.map((n, k) => `${ident(n)} AS ${ident(all[k] as string)}`).join(', ')} FROM (${sql})`;
      names = all;
    }
    return {
      sql: `(${sql})${alias === '' ? '' : ` AS ${ident(alias)}`}`,
      columns: names === null ? null : new Set(names.map((n) => n.toLowerCase())),
    };
  }

  private table(t: Json): From {
    const name = String(t.table_name ?? '');
    const alias = String(t.alias ?? '') || name;
    if (t.schema_name === 'main') {
      const view = viewOf(name, this.workspaceId);
      if (view === undefined) throw new Error(`no ClickHouse view of the stored table ${name}`);
      return { sql: `${view} AS ${ident(alias)}`, columns: new Set(VIEW_COLUMNS[name]) };
    }
    const cte = this.ctes.get(name);
    if (cte === undefined) throw new Error(`table ${name} reached the compiler unchecked`);
    return this.named(cte, alias, (t.column_name_alias as string[] | undefined) ?? []);
  }

  private join(t: Json): From {
    const left = t.left as Json;
    const right = t.right as Json;
    if (left.type === 'JOIN' || right.type === 'JOIN')
      throw unsupported('more than one JOIN in one SELECT (put a JOIN in a subquery to join its result)');
    const ref = String(t.ref_type ?? 'REGULAR');
    const l = this.from(left);
    const r = this.from(right);
    const columns = l.columns && r.columns ? new Set([...l.columns, ...r.columns]) : null;
    if (ref === 'CROSS') return { sql: `${l.sql} CROSS JOIN ${r.sql}`, columns };
    if (ref !== 'REGULAR') throw unsupported(`a ${describe(ref)} JOIN`);
    const kind = { INNER: 'ALL INNER', LEFT: 'ALL LEFT', RIGHT: 'ALL RIGHT', OUTER: 'ALL FULL' }[
      String(t.join_type)
    ];
    if (kind === undefined) throw unsupported(`a ${describe(String(t.join_type))} JOIN`);
    const using = (t.using_columns as string[] | undefined) ?? [];
    const on =
      using.length > 0
        ? ` USING (${using.map(ident).join(', ')})`
        : (t.condition ?? null) !== null
          ? ` ON ${this.expr(t.condition as Json, { columns, aliases: new Map() })}`
          : '';
    if (on === '') return { sql: `${l.sql} CROSS JOIN ${r.sql}`, columns };
    return { sql: `${l.sql} ${kind} JOIN ${r.sql}${on}`, columns };
  }

  /** range() and generate_series() of constant whole numbers, as rows of system.numbers. */
  private tableFunction(t: Json): From {
    const fn = t.function as Json;
    const name = String(fn.function_name).toLowerCase();
    if (name !== 'range' && name !== 'generate_series') throw unsupported(`the table function ${name}()`);
    const args = ((fn.children as Json[]) ?? []).map((a) => {
      const v = a.value as { type?: { id?: string }; value?: unknown } | undefined;
      const x = Number(v?.value);
      if (a.class !== 'CONSTANT' || !INTEGERS.has(String(v?.type?.id)) || !Number.isSafeInteger(x))
        throw unsupported(`${name}() of anything but whole-number constants`);
      return x;
    });
    if (args.length === 0 || args.length > 3 || (args.length === 3 && args[2] !== 1))
      throw unsupported(`${name}() with a step other than 1`);
    const [start, stop] = args.length === 1 ? [0, args[0] as number] : [args[0] as number, args[1] as number];
    const count = Math.max(0, stop - start + (name === 'generate_series' ? 1 : 0));
    const column = ((t.column_name_alias as string[] | undefined) ?? [])[0] ?? name;
    const alias = String(t.alias ?? '') || name;
    return {
      sql: `(SELECT toInt64(number + ${start}) AS ${ident(column)} FROM system.numbers LIMIT ${count}) AS ${ident(alias)}`,
      columns: new Set([column.toLowerCase()]),
    };
  }

  private star(e: Json): string {
    if (e.columns === true) throw unsupported('COLUMNS(...)');
    const exclude = (e.exclude_list as unknown[] | undefined) ?? [];
    const replace = (e.replace_list as unknown[] | undefined) ?? [];
    const rename = (e.rename_list as unknown[] | undefined) ?? [];
    if (exclude.length + replace.length + rename.length > 0)
      throw unsupported('* EXCLUDE / REPLACE / RENAME');
    const rel = String(e.relation_name ?? '');
    return rel === '' ? '*' : `${ident(rel)}.*`;
  }

  expr(e: Json, ctx: Context): string {
    const original = e[ORIGINAL] as { name: string; args: Json[] } | undefined;
    if (original) return this.trenchJson(original.name, original.args, ctx);
    const cls = String(e.class);
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

/** The name DuckDB gives a select item that has none, where an outer query may read it by name. */
function nameOf(item: Json, k: number): string {
  const alias = String(item.alias ?? '');
  if (alias !== '') return alias;
  if (item.class === 'COLUMN_REF') return String((item.column_names as string[]).at(-1));
  if (item.class === 'FUNCTION' && item.function_name === 'count_star') return 'count_star()';
  return `__intake_col${k}`;
}

/** A constant of the tree as a ClickHouse literal. */
function constant(e: Json): string {
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

/**
 * The ClickHouse SQL of a checked statement's query node for `workspaceId` (its columns are positional: their
 * names come from the binder), and whether it reads JSON paths. Throws INTAKE_ERR_QUERY_UNSUPPORTED naming what it cannot render.
 */
export function compile(node: Json, workspaceId: string): { sql: string; jsonPaths: boolean } {
  const compiler = new Compiler(workspaceId);
  const sql = compiler.query(node, true).sql;
  return { sql, jsonPaths: compiler.jsonPaths };
}
