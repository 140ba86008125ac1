// Read-only SQL on the cluster store (POST /query, Trench's POST /queries). A statement is parsed and checked as on
// the embedded engine (duckdb/sql/check.ts: one SELECT, allow-listed functions, the workspace's tables only) by a
// DuckDB instance in this process that holds no data: in-memory, external access off, no extensions, the
// embedded schema's tables empty. That instance also binds the checked statement, which names its columns and
// gives their Intake types exactly as the embedded engine would, and refuses unknown columns with the same words.
// It never runs it: compile.ts turns the checked tree into ClickHouse SQL, run here with ClickHouse's own guards
// (readonly, time, memory and rows read), its answer read line by line and handed on in chunks.
import { randomUUID } from 'node:crypto';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { IntakeError } from '../../../core/errors.ts';
import { MIGRATIONS } from '../../duckdb/schema.ts';
import { checkAndScope, type Surface } from '../../duckdb/sql/check.ts';
import { FUNCTIONS as TRENCH_JSON } from '../../duckdb/sql/clickhouse.ts';
import { serialize, surfaceOf, toJson } from '../../duckdb/sql/run.ts';
import type { SqlColumn, SqlQuery, SqlValue } from '../../types.ts';
import { type ClickHouse, ClickHouseError } from '../http.ts';
import { compile } from './compile.ts';
import { inlineParameters } from './params.ts';
import { ORIGINAL } from './parts.ts';

type Json = Record<string, unknown>;

/** Most memory one query may use on ClickHouse: 512 MiB. */
const MAX_MEMORY_BYTES = 512 * 1024 * 1024;
/** Most rows one query may read from ClickHouse's tables: 1e9. */
const MAX_ROWS_TO_READ = 1_000_000_000;
/** Rows ClickHouse reads at once for a statement with JSON paths. */
const JSON_BLOCK_ROWS = 1024;
/** Rows handed on at once. */
const CHUNK_ROWS = 2048;

let parser: Promise<DuckDBInstance> | undefined;

/** The parsing and binding instance: no data, no files, no network, no extensions; its tables empty. */
function parserInstance(): Promise<DuckDBInstance> {
  parser ??= (async () => {
    const instance = await DuckDBInstance.create(':memory:', {
      enable_external_access: 'false',
      autoload_known_extensions: 'false',
      autoinstall_known_extensions: 'false',
      threads: '1',
      memory_limit: '64MB',
    });
    const conn = await instance.connect();
    try {
      for (const sql of MIGRATIONS) await conn.run(sql);
    } finally {
      conn.closeSync();
    }
    return instance;
  })();
  parser.catch(() => {
    parser = undefined;
  });
  return parser;
}

/**
 * The embedded engine's surface, with Trench's JSON functions kept as written beside their rewrite (the rewrite is
 * what the binder types; the call is what compile.ts renders).
 */
function clusterSurface(base: Surface): Surface {
  const rewrite = base.rewrite;
  if (!rewrite) return base;
  return {
    ...base,
    rewrite: (fn) => {
      const replaced = rewrite(fn);
      const name = String(fn.function_name ?? '').toLowerCase();
      if (replaced === undefined || TRENCH_JSON[name] === undefined) return replaced;
      return { ...replaced, [ORIGINAL]: { name, args: structuredClone(fn.children) } };
    },
  };
}

/** The tree without the kept calls, as DuckDB reads it back. */
const withoutOriginals = (tree: Json): string =>
  JSON.stringify(tree, (k, v) => (k === ORIGINAL ? undefined : v));

/** The checked statement bound (never run) on the parser. */
async function bound(conn: DuckDBConnection, tree: Json) {
  const back = await conn.runAndReadAll('SELECT json_deserialize_sql(?::JSON)', [withoutOriginals(tree)]);
  return conn.prepare(String(back.getRows()[0]?.[0]));
}

/** The types DuckDB infers for the statement's parameters, by name ('1', '2', ...). */
async function parameterTypes(conn: DuckDBConnection, tree: Json): Promise<Map<string, string>> {
  const prepared = await bound(conn, tree);
  try {
    const types = new Map<string, string>();
    for (let i = 1; i <= prepared.parameterCount; i++) {
      try {
        types.set(prepared.parameterName(i), prepared.parameterType(i).toString());
      } catch {
        // Not inferred (SELECT $1): the value keeps its own type, as DuckDB binds it.
      }
    }
    return types;
  } finally {
    prepared.destroySync();
  }
}

/** The columns of the checked statement, named and typed by binding it (never running it) on the parser. */
async function bindColumns(conn: DuckDBConnection, tree: Json): Promise<SqlColumn[]> {
  const prepared = await bound(conn, tree);
  try {
    const columns: SqlColumn[] = [];
    for (let i = 0; i < prepared.columnCount; i++) {
      const type = prepared.columnType(i);
      columns.push({ name: prepared.columnName(i), type: type.alias ?? type.toString() });
    }
    return columns;
  } finally {
    prepared.destroySync();
  }
}

const TIME_TYPES = new Set(['TIMESTAMP', 'TIMESTAMP WITH TIME ZONE', 'TIMESTAMP_S', 'TIMESTAMP_MS', 'DATE']);

/** ClickHouse's JSON value as the embedded engine answers it for the column's Intake type. */
function converter(type: string): (v: unknown) => SqlValue {
  if (type === 'BOOLEAN') return (v) => (v === null ? null : Number(v) !== 0);
  if (type === 'JSON') return (v) => toJson(v, true);
  if (type === 'VARCHAR') return (v) => (v === null || typeof v === 'string' ? v : String(v));
  if (TIME_TYPES.has(type))
    return (v) => {
      if (v === null) return null;
      // DateTime and Date text in the server's time zone, which must be UTC (as the embedded engine's).
      const d = new Date(`${String(v).replace(' ', 'T')}${String(v).length === 10 ? 'T00:00:00' : ''}Z`);
      return Number.isNaN(d.getTime()) ? String(v) : d.toISOString();
    };
  return (v) => toJson(v, false);
}

/** ClickHouse's error as the coded error the API answers (its message without the compiled SQL's names). */
function coded(err: unknown, timeoutMs: number): IntakeError {
  if (err instanceof IntakeError) return err;
  const ch = err instanceof ClickHouseError ? err.chCode : null;
  const text = String((err as Error).message ?? err);
  const why = (/DB::Exception: (.*?)(?:, e\.what\(\)|$)/s.exec(text)?.[1] ?? text)
    .replaceAll(/__intake_cte_\d+/g, 'a CTE')
    .replaceAll(/__intake_e\d+/g, 'a column')
    .split('\n')[0] as string;
  if (ch === 159 || ch === 160)
    return new IntakeError(
      'INTAKE_ERR_QUERY_TIMEOUT',
      `the query ran past the ${timeoutMs} ms limit and was stopped`,
    );
  if (ch === 241 || ch === 158 || ch === 307 || ch === 396)
    return new IntakeError('INTAKE_ERR_QUERY_TOO_LARGE', `the query needed more than it may use: ${why}`);
  if (/^(Binder|Catalog|Conversion|Invalid Input|Parser) Error/.test(text)) {
    if (/parameter/i.test(text))
      return new IntakeError('INTAKE_ERR_QUERY_INVALID', `the parameters do not fit the query: ${text}`);
    return new IntakeError(
      'INTAKE_ERR_QUERY_FAILED',
      text.split('\n')[0]?.replaceAll(/__intake_cte_\d+/g, 'a CTE') ?? text,
    );
  }
  return new IntakeError('INTAKE_ERR_QUERY_FAILED', why);
}

export interface RunOptions {
  onColumns(columns: SqlColumn[]): void;
  onRows(rows: SqlValue[][]): boolean | Promise<boolean>;
}

/** Checks, binds and compiles `q`; the ClickHouse SQL and the columns. Exported for the compiler's tests. */
export async function prepareSql(
  workspaceId: string,
  q: SqlQuery,
): Promise<{ sql: string; jsonPaths: boolean; columns: SqlColumn[] }> {
  const conn = await (await parserInstance()).connect();
  try {
    await conn.run('PRAGMA disable_optimizer');
    const surface = clusterSurface(await surfaceOf(conn, q.dialect ?? 'intake'));
    const tree = checkAndScope(await serialize(conn, q.sql), workspaceId, surface);
    const statement = (tree.statements as Json[])[0] as Json;
    const types = q.params.length > 0 ? await parameterTypes(conn, tree) : new Map<string, string>();
    inlineParameters(statement, q.params, types);
    const columns = await bindColumns(conn, tree);
    return { ...compile(statement.node as Json, workspaceId), columns };
  } finally {
    conn.closeSync();
  }
}

/**
 * Runs `q` for `workspaceId` on ClickHouse, handing columns and rows to `out`; rows stop at `q.limit` (when given)
 * and the query at `q.timeoutMs`. Returns whether rows were cut at the limit.
 */
export async function runSql(
  ch: ClickHouse,
  workspaceId: string,
  q: SqlQuery,
  out: RunOptions,
): Promise<{ truncated: boolean }> {
  const queryId = randomUUID();
  const abort = new AbortController();
  let timedOut = false;
  // ClickHouse checks its time limit between blocks; a block that never ends is stopped from here.
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort();
    ch.exec(`KILL QUERY WHERE query_id = '${queryId}' ASYNC`).catch(() => {});
  }, q.timeoutMs + 2000);
  try {
    const { sql, jsonPaths, columns } = await prepareSql(workspaceId, q);
    out.onColumns(columns);
    const convert = columns.map((c) => converter(c.type));
    const limit = q.limit ?? Number.POSITIVE_INFINITY;
    const settings: Record<string, string | number> = {
      query_id: queryId,
      max_execution_time: Math.max(1, Math.ceil(q.timeoutMs / 1000)),
      timeout_overflow_mode: 'throw',
      max_memory_usage: MAX_MEMORY_BYTES,
      max_rows_to_read: MAX_ROWS_TO_READ,
      join_use_nulls: 1,
      // A JSON path holds each row's tokens in arrays, copied into its lambdas: a count over 50,000 events of ~250
      // bytes by properties->>'plan' needed 256-512 MiB in ClickHouse's blocks of 65,536 rows, 64-128 MiB in blocks
      // of 8,192, 16-32 MiB in blocks of 1,024, and ran faster so (615, 433, 320 ms; by lowering max_memory_usage
      // until it failed, one run each on a shared machine).
      ...(jsonPaths ? { max_block_size: JSON_BLOCK_ROWS } : {}),
      output_format_json_quote_64bit_integers: 0,
      ...(q.limit === undefined ? {} : { max_result_rows: q.limit + 1, result_overflow_mode: 'break' }),
      // Last: nothing after it could change a setting, and the statement can change none.
      readonly: 1,
    };
    let section: 'head' | 'data' | 'tail' = 'head';
    let rows: SqlValue[][] = [];
    let sent = 0;
    let truncated = false;
    let stopped = false;
    let failure = '';
    const flush = async (): Promise<boolean> => {
      const chunk = rows;
      rows = [];
      if (chunk.length === 0) return true;
      sent += chunk.length;
      return out.onRows(chunk);
    };
    await ch.lines(
      `${sql}\nFORMAT JSONCompact`,
      settings,
      async (line) => {
        if (section === 'head') {
          if (line === '\t"data":') section = 'data';
          else if (/^Code: \d+/.test(line)) failure = line;
          return true;
        }
        if (section === 'tail') {
          if (/Code: \d+/.test(line) || failure !== '') failure += line;
          return true;
        }
        const t = line.trim();
        if (t === '[') return true;
        if (t === ']' || t === '],') {
          section = 'tail';
          return true;
        }
        if (!t.startsWith('[')) {
          failure += line;
          section = 'tail';
          return true;
        }
        const raw = JSON.parse(t.endsWith(',') ? t.slice(0, -1) : t) as unknown[];
        if (sent + rows.length >= limit) {
          truncated = true;
          return false;
        }
        rows.push(raw.map((v, i) => (convert[i] ?? ((x) => toJson(x, false)))(v)));
        if (rows.length >= CHUNK_ROWS && !(await flush())) {
          stopped = true;
          return false;
        }
        return true;
      },
      abort.signal,
    );
    if (failure !== '') {
      const code = /Code: (\d+)/.exec(failure);
      throw new ClickHouseError(`clickhouse: ${failure}`, sql, code ? Number(code[1]) : null);
    }
    if (!stopped) await flush();
    return { truncated };
  } catch (err) {
    if (timedOut)
      throw new IntakeError(
        'INTAKE_ERR_QUERY_TIMEOUT',
        `the query ran past the ${q.timeoutMs} ms limit and was stopped`,
      );
    throw coded(err, q.timeoutMs);
  } finally {
    clearTimeout(timer);
  }
}
