// Runs a user's SQL (POST /query) on its own connection: checked and scoped on the parse tree (check.ts), its
// parameters bound, stopped by DuckDB's interrupt at the time limit, read chunk by chunk so a result is never
// held past the row limit. The instance itself refuses files outside the data directory, extension loading
// and configuration changes (index.ts), so even a hole in the checks could not reach the machine.
import { type DuckDBConnection, type DuckDBValue, JSDuckDBValueConverter } from '@duckdb/node-api';
import { IntakeError } from '../../../core/errors.ts';
import type { SqlColumn, SqlDialectName, SqlQuery, SqlResult, SqlValue } from '../../types.ts';
import { type Connector, chunks, snapshot } from '../db.ts';
import { checkAndScope, type Surface, type Templates } from './check.ts';
import {
  EXPRESSIONS,
  type ParsedExpressions,
  rewriteClickHouse,
  UNARY,
  WITH_DEFAULTS,
} from './clickhouse.ts';
import { EXPOSED_TABLES, TRENCH_TABLES } from './tables.ts';

const NO_LOCATION = /"query_location":18446744073709551615\b/g;

/** DuckDB's parse tree of `sql` as json_serialize_sql gives it (text). */
export async function serialize(conn: DuckDBConnection, sql: string): Promise<string> {
  const r = await conn.runAndReadAll('SELECT json_serialize_sql(?::VARCHAR)', [sql]);
  return String(r.getRows()[0]?.[0]);
}

/** The parse tree of `sql` (one SELECT), as json_serialize_sql gives it, with "no location" said as 0. */
async function parsed(conn: DuckDBConnection, sql: string): Promise<Record<string, unknown>> {
  const tree = JSON.parse((await serialize(conn, sql)).replaceAll(NO_LOCATION, '"query_location":0'));
  return tree.statements[0];
}

async function parseAll<K extends string>(
  conn: DuckDBConnection,
  sqls: Readonly<Record<K, string>>,
  part: (statement: Record<string, unknown>) => Record<string, unknown> = (x) => x,
): Promise<Map<K, Record<string, unknown>>> {
  const out = new Map<K, Record<string, unknown>>();
  for (const [name, sql] of Object.entries(sqls) as Array<[K, string]>)
    out.set(name, part(await parsed(conn, sql)));
  return out;
}

/** An expression's tree: the first item of `SELECT <expression>`'s select list. */
const firstSelected = (statement: Record<string, unknown>) =>
  ((statement.node as { select_list: Array<Record<string, unknown>> }).select_list[0] ?? {}) as Record<
    string,
    unknown
  >;
const selecting = <K extends string>(sqls: Readonly<Record<K, string>>) =>
  Object.fromEntries(Object.entries(sqls).map(([k, v]) => [k, `SELECT ${v}`])) as Record<K, string>;

/** Trench's camelCase column names, read as its table's (Trench's own queries accept both). */
const TRENCH_COLUMNS = new Map([
  ['userid', 'user_id'],
  ['groupid', 'group_id'],
  ['anonymousid', 'anonymous_id'],
  ['instanceid', 'instance_id'],
  ['parsedat', 'parsed_at'],
]);

const surfaces = new Map<SqlDialectName, Promise<Surface>>();
/** Each dialect's tables and rewrites, parsed once per process with the engine's own parser. */
export function surfaceOf(conn: DuckDBConnection, dialect: SqlDialectName): Promise<Surface> {
  let s = surfaces.get(dialect);
  if (!s) {
    s = (async (): Promise<Surface> => {
      if (dialect === 'intake') return { tables: (await parseAll(conn, EXPOSED_TABLES)) as Templates };
      const expressions: ParsedExpressions = {
        plain: await parseAll(conn, selecting(EXPRESSIONS), firstSelected),
        withDefault: await parseAll(conn, selecting(WITH_DEFAULTS), firstSelected),
        unary: await parseAll(conn, selecting(UNARY), firstSelected),
      };
      return {
        tables: (await parseAll(conn, TRENCH_TABLES)) as Templates,
        rewrite: (fn) => rewriteClickHouse(fn, expressions),
        columns: TRENCH_COLUMNS,
      };
    })();
    // A failed parse is not kept: the next query tries again.
    s.catch(() => surfaces.delete(dialect));
    surfaces.set(dialect, s);
  }
  return s;
}

/** A value as JSON carries it: bigints as numbers when exact, else text; times as ISO text; JSON parsed. */
export function toJson(v: unknown, isJson: boolean): SqlValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (typeof v === 'number' || typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    if (!isJson) return v;
    try {
      return JSON.parse(v) as SqlValue;
    } catch {
      return v;
    }
  }
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (Array.isArray(v)) return v.map((x) => toJson(x, false));
  if (typeof v === 'object') {
    const out: Record<string, SqlValue> = {};
    for (const [k, x] of Object.entries(v)) out[k] = toJson(x, false);
    return out;
  }
  return String(v);
}

/** DuckDB's error, as the coded error the API answers. */
function coded(err: unknown, timeoutMs: number): IntakeError {
  if (err instanceof IntakeError) return err;
  const message = String((err as Error).message ?? err).split('\n')[0] ?? '';
  if (/^INTERRUPT/i.test(message))
    return new IntakeError(
      'INTAKE_ERR_QUERY_TIMEOUT',
      `the query ran past the ${timeoutMs} ms limit and was stopped`,
    );
  if (/Out of Memory/i.test(message))
    return new IntakeError(
      'INTAKE_ERR_QUERY_TOO_LARGE',
      `the query needed more memory than it may use: ${message}`,
    );
  if (/prepared statement parameter|parameter/i.test(message) && /value|provided|expected/i.test(message))
    return new IntakeError('INTAKE_ERR_QUERY_INVALID', `the parameters do not fit the query: ${message}`);
  return new IntakeError('INTAKE_ERR_QUERY_FAILED', message.replaceAll(/__intake_cte_\d+/g, 'a CTE'));
}

export interface RunOptions {
  /** Called with the columns once known, then with each chunk of rows; return false to stop early. */
  onColumns(columns: SqlColumn[]): void;
  onRows(rows: SqlValue[][]): boolean | Promise<boolean>;
}

/**
 * Runs `q` for `workspaceId` on a new connection of `instance`, handing columns and rows to `out`; rows stop at
 * `q.limit` (when given) and the query at `q.timeoutMs`. Returns whether rows were cut at the limit.
 */
export async function runSql(
  instance: Connector,
  workspaceId: string,
  q: SqlQuery,
  out: RunOptions,
  /** For tests: runs once the statement is prepared, before it runs. */
  afterPrepare?: () => Promise<void>,
): Promise<{ truncated: boolean }> {
  const conn = await instance.connect();
  const timer = setTimeout(() => conn.interrupt(), q.timeoutMs);
  try {
    await snapshot(conn);
    const surface = await surfaceOf(conn, q.dialect ?? 'intake');
    const tree = checkAndScope(await serialize(conn, q.sql), workspaceId, surface);
    const back = await conn.runAndReadAll('SELECT json_deserialize_sql(?::JSON)', [JSON.stringify(tree)]);
    const sql = String(back.getRows()[0]?.[0]);
    const prepared = await conn.prepare(sql);
    let result: Awaited<ReturnType<typeof prepared.stream>>;
    try {
      prepared.bind(q.params as DuckDBValue[]);
      await afterPrepare?.();
      result = await prepared.stream();
    } finally {
      prepared.destroySync();
    }
    // JSON is an alias of VARCHAR: its values are parsed, and it is named as such.
    const aliases = (result.columnTypesJson() as Array<{ alias?: string }>).map((t) => t.alias);
    const types = result.columnTypes().map((t, i) => aliases[i] ?? t.toString());
    const isJson = types.map((t) => t === 'JSON');
    out.onColumns(result.columnNames().map((name, i) => ({ name, type: types[i] ?? 'UNKNOWN' })));
    let left = q.limit ?? Number.POSITIVE_INFINITY;
    for await (const chunk of chunks(result)) {
      const rows = chunk
        .convertRows(JSDuckDBValueConverter)
        .map((row) => row.map((v, i) => toJson(v, isJson[i] === true)));
      if (rows.length > left) {
        await out.onRows(rows.slice(0, left));
        return { truncated: true };
      }
      left -= rows.length;
      if (!(await out.onRows(rows))) return { truncated: false };
    }
    return { truncated: false };
  } catch (err) {
    throw coded(err, q.timeoutMs);
  } finally {
    clearTimeout(timer);
    conn.closeSync();
  }
}

/** The rows a run hands on, collected: the JSON answer of POST /query, on either engine. */
export async function collect(run: (out: RunOptions) => Promise<{ truncated: boolean }>): Promise<SqlResult> {
  let columns: SqlColumn[] = [];
  const rows: SqlValue[][] = [];
  const { truncated } = await run({
    onColumns: (c) => {
      columns = c;
    },
    onRows: (r) => {
      for (const row of r) rows.push(row);
      return true;
    },
  });
  return { columns, rows, truncated };
}

/** runSql collecting the rows: the JSON answer of POST /query. */
export const querySql = (
  instance: Connector,
  workspaceId: string,
  q: SqlQuery,
  afterPrepare?: () => Promise<void>,
): Promise<SqlResult> => collect((out) => runSql(instance, workspaceId, q, out, afterPrepare));
