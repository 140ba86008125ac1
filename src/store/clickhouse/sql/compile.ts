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
import { Expressions } from './expressions.ts';
import { INTEGERS } from './functions.ts';
import {
  type Context,
  describe,
  ident,
  type Json,
  NONE,
  nameOf,
  type Query,
  shape,
  unsupported,
} from './parts.ts';
import { VIEW_COLUMNS, viewOf } from './views.ts';

/** A FROM clause and the columns it brings (null: not known). */
interface From {
  sql: string;
  columns: Set<string> | null;
}

class Compiler {
  private n = 0;
  private readonly ctes = new Map<string, Query>();
  readonly exprs = new Expressions((node) => this.query(node));

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
          : this.exprs.expr(item, { columns: from.columns, aliases: new Map(aliases) });
      compiled.push(e);
      const alias = String(item.alias ?? '').toLowerCase();
      if (alias !== '' && !aliases.has(alias)) aliases.set(alias, refs[k] ?? `(${e})`);
    });
    // GROUP BY properties->>'plan' with the same expression selected: ClickHouse matches them by their text, which
    // differs (each JSON path names its lambda parameters afresh), so the clauses (WHERE, GROUP BY,
    // HAVING, ORDER BY, at any depth) read the select item instead.
    const shapes = new Map<string, string>();
    items.forEach((item, k) => {
      const ref = refs[k];
      if (ref !== undefined && !shapes.has(shape(item))) shapes.set(shape(item), ref);
    });
    const ctx: Context = { columns: from.columns, aliases, same: shapes };
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
    if ((node.where_clause ?? null) !== null)
      sql += ` WHERE ${this.exprs.expr(node.where_clause as Json, ctx)}`;
    const groups = (node.group_expressions as Json[] | undefined) ?? [];
    const sets = (node.group_sets as unknown[] | undefined) ?? [];
    if (sets.length > 1) throw unsupported('GROUPING SETS, ROLLUP and CUBE');
    if (groups.length > 0)
      sql += ` GROUP BY ${groups.map((g) => position(g) ?? this.exprs.expr(g, ctx)).join(', ')}`;
    if ((node.having ?? null) !== null) sql += ` HAVING ${this.exprs.expr(node.having as Json, ctx)}`;
    sql += this.orderAndLimit(node, (e) => position(e) ?? this.exprs.expr(e, { ...ctx, aliasFirst: true }));
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
      return this.exprs.expr(e, NONE);
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
          ? ` ON ${this.exprs.expr(t.condition as Json, { columns, aliases: new Map() })}`
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
}

/**
 * The ClickHouse SQL of a checked statement's query node for `workspaceId` (its columns are positional: their
 * names come from the binder), and whether it reads JSON paths. Throws INTAKE_ERR_QUERY_UNSUPPORTED naming what it cannot render.
 */
export function compile(node: Json, workspaceId: string): { sql: string; jsonPaths: boolean } {
  const compiler = new Compiler(workspaceId);
  const sql = compiler.query(node, true).sql;
  return { sql, jsonPaths: compiler.exprs.jsonPaths };
}
