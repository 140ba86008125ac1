// Checks a user's SQL on DuckDB's own parse tree (json_serialize_sql) and rewrites it so it can only read its
// workspace: one SELECT statement; every node, table reference and expression of a kind listed here (anything
// else is refused, so a construct DuckDB adds later is refused too); functions from functions.ts; every table
// reference either one of the exposed tables (tables.ts), replaced by its workspace-filtered query, or one of
// the query's own CTEs, renamed to a name no stored table can have. Nothing reaches DuckDB's name resolution
// that could find a stored table, a catalog view or a file. The rewritten tree goes back to SQL through
// json_deserialize_sql; values stay bound parameters. Which tables exist is the route's (a Surface): Intake's for
// POST /query, Trench's for POST /queries, which also rewrites ClickHouse's functions and Trench's camelCase
// column names before the checks see them.
import { IntakeError } from '../../../core/errors.ts';
import { ALLOWED_FUNCTIONS, ALLOWED_TABLE_FUNCTIONS } from './functions.ts';
import { WORKSPACE_PLACEHOLDER } from './tables.ts';

type Json = Record<string, unknown>;

/** Kinds of query nodes, table references and modifiers (objects with a `type` and no `class`). */
const ALLOWED_TYPES = new Set([
  'SELECT_NODE',
  'SET_OPERATION_NODE',
  'RECURSIVE_CTE_NODE',
  'CTE_NODE',
  'BASE_TABLE',
  'JOIN',
  'SUBQUERY',
  'EMPTY',
  'EXPRESSION_LIST',
  'TABLE_FUNCTION',
  'ORDER_MODIFIER',
  'LIMIT_MODIFIER',
  'LIMIT_PERCENT_MODIFIER',
  'DISTINCT_MODIFIER',
  'ASCENDING',
  'DESCENDING',
  'ORDER_DEFAULT',
  // Type descriptors of constants and casts (2.5 is a DECIMAL(2,1); ::JSON names a type bound later): no expressions.
  'DECIMAL_TYPE_INFO',
  'UNBOUND_TYPE_INFO',
]);

/** Expression classes. */
const ALLOWED_CLASSES = new Set([
  'CONSTANT',
  'COLUMN_REF',
  'FUNCTION',
  'WINDOW',
  'COMPARISON',
  'CONJUNCTION',
  'OPERATOR',
  'BETWEEN',
  'CASE',
  'CAST',
  'STAR',
  'SUBQUERY',
  'LAMBDA',
  'PARAMETER',
  'COLLATE',
  'POSITIONAL_REFERENCE',
]);

const NO_LOCATION = /"query_location":18446744073709551615\b/g;

/** Most nodes in one query's tree: bounds the work of checking it. */
const MAX_NODES = 20_000;
/** Deepest nesting of the tree: the walk below is recursive. */
const MAX_DEPTH = 200;

export const forbidden = (what: string) =>
  new IntakeError('INTAKE_ERR_QUERY_FORBIDDEN', `${what} is not allowed in a query`);
const invalid = (message: string) => new IntakeError('INTAKE_ERR_QUERY_INVALID', message);

/** The parsed templates of the exposed tables, with their workspace constant found once. */
export type Templates = Map<string, Json>;

/** What a query may name: its tables, and for a dialect its function rewrites and column names. */
export interface Surface {
  tables: Templates;
  /** The expression to put in place of a FUNCTION node, or undefined to keep it (then checked as usual). */
  rewrite?: (fn: Json) => Json | undefined;
  /** Column names (lower case) to read as others: Trench's userId is user_id. */
  columns?: ReadonlyMap<string, string>;
}

/**
 * Checks the serialized parse tree (json_serialize_sql's answer) of `sql`, and returns it rewritten for
 * `workspaceId`, ready for json_deserialize_sql. Throws a coded 400 naming what is refused.
 */
export function checkAndScope(serialized: string, workspaceId: string, surface: Surface): Json {
  // "No location" is 2^64-1, which a JS number cannot hold exactly and DuckDB then refuses: say 0.
  const tree = JSON.parse(serialized.replaceAll(NO_LOCATION, '"query_location":0')) as Json;
  if (tree.error === true) {
    const msg = String(tree.error_message ?? 'it does not parse');
    if (/Only SELECT statements/i.test(msg)) throw invalid('only a SELECT (or WITH ... SELECT) can be run');
    throw invalid(`the SQL does not parse: ${msg}`);
  }
  const statements = tree.statements as Json[] | undefined;
  if (!Array.isArray(statements) || statements.length !== 1) {
    throw invalid(`send exactly one statement (got ${statements?.length ?? 0})`);
  }
  new Scoper(workspaceId, surface).node(statements[0]?.node, [], 0);
  return tree;
}

class Scoper {
  private nodes = 0;
  private ctes = 0;

  constructor(
    private readonly workspaceId: string,
    private readonly surface: Surface,
  ) {}

  /**
   * A query node. `scope` maps the CTE names visible here to their renamed names, innermost last. A CTE is
   * visible in the CTEs after it and in the node's body; a recursive CTE also in itself (RECURSIVE_CTE_NODE).
   */
  node(n: unknown, scope: Array<Map<string, string>>, depth: number, defining?: [string, string]): void {
    const q = this.object(n, depth);
    const ctes = (q.cte_map as Json | undefined)?.map as Array<{ key: string; value: Json }> | undefined;
    let inner = scope;
    if (Array.isArray(ctes) && ctes.length > 0) {
      const mine = new Map<string, string>();
      inner = [...scope, mine];
      for (const cte of ctes) {
        const renamed = `__intake_cte_${this.ctes++}`;
        const query = (cte.value?.query as Json | undefined)?.node;
        // Not yet visible to its own body (a non-recursive CTE naming itself means the table of that name).
        const key = String(cte.key).toLowerCase();
        this.node(query, inner, depth + 1, [key, renamed]);
        mine.set(key, renamed);
        cte.key = renamed;
      }
    }
    if (q.type === 'RECURSIVE_CTE_NODE' || q.type === 'CTE_NODE') {
      // Its own name, inside it: the CTE being defined (the caller renames its key the same way next).
      const name = String(q.cte_name ?? '').toLowerCase();
      const self = new Map<string, string>(defining && defining[0] === name ? [defining] : []);
      if (!self.has(name)) throw forbidden('a recursive query outside a WITH');
      q.cte_name = self.get(name);
      const withSelf = [...inner, self];
      for (const [k, v] of Object.entries(q)) {
        if (k !== 'cte_map' && k !== 'type' && k !== 'cte_name') this.any(v, withSelf, depth + 1);
      }
      return;
    }
    for (const [k, v] of Object.entries(q)) if (k !== 'cte_map') this.any(v, inner, depth + 1);
  }

  private renamedIn(scope: Array<Map<string, string>>, name: string): string | undefined {
    for (let i = scope.length - 1; i >= 0; i--) {
      const r = scope[i]?.get(name);
      if (r !== undefined) return r;
    }
    return undefined;
  }

  private object(v: unknown, depth: number): Json {
    if (++this.nodes > MAX_NODES || depth > MAX_DEPTH) throw forbidden('a query this large');
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw invalid('unexpected parse tree');
    return v as Json;
  }

  /** Any value of the tree: arrays, expressions, table references, nested query nodes. */
  any(v: unknown, scope: Array<Map<string, string>>, depth: number): void {
    if (v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) {
      for (const x of v) this.any(x, scope, depth + 1);
      return;
    }
    const o = this.object(v, depth);
    if (typeof o.class === 'string') {
      this.expression(o, scope, depth);
      return;
    }
    if (typeof o.type === 'string') {
      if (!ALLOWED_TYPES.has(o.type)) throw forbidden(describe(o.type));
      if (o.type.endsWith('_NODE')) {
        this.node(o, scope, depth);
        return;
      }
      if (o.type === 'BASE_TABLE') {
        this.table(o, scope);
        return;
      }
      if (o.type === 'TABLE_FUNCTION') {
        const fn = o.function as Json | undefined;
        const name = String(fn?.function_name ?? '').toLowerCase();
        if (fn?.class !== 'FUNCTION' || !ALLOWED_TABLE_FUNCTIONS.has(name) || (fn.schema ?? '') !== '')
          throw forbidden(`the table function ${name}()`);
        this.any(fn.children, scope, depth + 1);
        for (const [k, x] of Object.entries(o)) if (k !== 'function') this.any(x, scope, depth + 1);
        return;
      }
      if ('at_clause' in o && o.at_clause !== null) throw forbidden('AT (time travel)');
    }
    for (const x of Object.values(o)) this.any(x, scope, depth + 1);
  }

  private expression(o: Json, scope: Array<Map<string, string>>, depth: number): void {
    const cls = String(o.class);
    if (!ALLOWED_CLASSES.has(cls)) throw forbidden(describe(`${cls} expression`));
    const replaced = cls === 'FUNCTION' ? this.surface.rewrite?.(o) : undefined;
    if (replaced) {
      // In place, then checked as what it now is: the rewrite's own functions and the user's arguments alike.
      for (const k of Object.keys(o)) delete o[k];
      Object.assign(o, replaced);
      this.expression(o, scope, depth + 1);
      return;
    }
    if (cls === 'COLUMN_REF' && this.surface.columns) {
      const names = o.column_names as string[];
      const last = names.length - 1;
      const renamed = this.surface.columns.get(String(names[last]).toLowerCase());
      if (renamed !== undefined) names[last] = renamed;
    }
    if (cls === 'FUNCTION' || cls === 'WINDOW') {
      const name = String(o.function_name ?? '').toLowerCase();
      if ((o.schema ?? '') !== '' || (o.catalog ?? '') !== '')
        throw forbidden(`the qualified function ${name}`);
      if (!ALLOWED_FUNCTIONS.has(name)) throw forbidden(`the function ${name}()`);
    }
    for (const x of Object.values(o)) this.any(x, scope, depth + 1);
  }

  /** A table reference: a CTE in scope (renamed), or an exposed table (replaced by its scoped query). */
  private table(o: Json, scope: Array<Map<string, string>>): void {
    const name = String(o.table_name ?? '');
    const qualified = (o.schema_name ?? '') !== '' || (o.catalog_name ?? '') !== '';
    if (qualified)
      throw forbidden(
        `the qualified table name ${[o.catalog_name, o.schema_name, name].filter(Boolean).join('.')}`,
      );
    if ('at_clause' in o && o.at_clause !== null) throw forbidden('AT (time travel)');
    const key = name.toLowerCase();
    const cte = this.renamedIn(scope, key);
    if (cte !== undefined) {
      if (!o.alias) o.alias = name;
      o.table_name = cte;
      return;
    }
    const template = this.surface.tables.get(key);
    if (!template) {
      throw new IntakeError(
        'INTAKE_ERR_QUERY_FORBIDDEN',
        `there is no table ${name}; the tables are ${[...this.surface.tables.keys()].join(', ')}`,
      );
    }
    const sub = withWorkspace(structuredClone(template), this.workspaceId);
    const alias = o.alias || name;
    for (const k of Object.keys(o)) delete o[k];
    Object.assign(o, {
      type: 'SUBQUERY',
      alias,
      sample: null,
      query_location: 0,
      subquery: sub,
      column_name_alias: [],
    });
  }
}

/** The template's statement with its workspace placeholder constant set to `workspaceId`. */
function withWorkspace(statement: Json, workspaceId: string): Json {
  let found = 0;
  const visit = (v: unknown): void => {
    if (v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) {
      v.forEach(visit);
      return;
    }
    const o = v as Json;
    const value = o.value as Json | undefined;
    if (o.class === 'CONSTANT' && value?.value === WORKSPACE_PLACEHOLDER) {
      value.value = workspaceId;
      found++;
      return;
    }
    Object.values(o).forEach(visit);
  };
  visit(statement);
  if (found !== 1) throw new Error(`an exposed table's template holds ${found} workspace constants`);
  return statement;
}

const describe = (kind: string) => kind.toLowerCase().replaceAll('_', ' ');
