// The escape battery of the read-only SQL sandbox: run on POST /query (sql.test.ts) and on Trench's POST /queries
// (test/dialects/trench.test.ts), so every route over the sandbox meets the same attempts, on the engine
// INTAKE_TEST_ENGINE names.
import { TEST_ENGINE } from '../helpers.ts';

/**
 * What the cluster engine answers instead, where it differs: ClickHouse 18.16 runs no statement with more than one
 * JOIN nor WITH RECURSIVE (refused before it runs), and its cross join holds its right side in memory, so a huge one
 * meets the memory limit before the time limit.
 */
const ON_CLICKHOUSE: Readonly<Record<string, string>> = {
  'SELECT count(*) FROM events, events e2, events e3, events e4, range(100000000) r(i)':
    'INTAKE_ERR_QUERY_UNSUPPORTED',
  'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r':
    'INTAKE_ERR_QUERY_UNSUPPORTED',
  'SELECT count(*) FROM range(1000000) a, range(1000000) b':
    'INTAKE_ERR_QUERY_TIMEOUT|INTAKE_ERR_QUERY_TOO_LARGE',
};

/**
 * Each must be refused with a coded 400 (or stopped by a limit: a|b lists the codes a limit may answer with,
 * which depends on which limit a runaway query meets first), and the server must answer normally after.
 */
const BATTERY: ReadonlyArray<readonly [string, string]> = [
  ['SELECT * FROM api_keys', 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ['SELECT * FROM workspaces', 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ['SELECT * FROM main.events', 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ['SELECT * FROM "main"."events"', 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ['SELECT * FROM memory.main.events', 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ['SELECT * FROM intake.main.api_keys', 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ['SELECT * FROM "API_KEYS"', 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ['SELECT * FROM dedupe_keys', 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ['SELECT * FROM persons', 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ['SELECT * FROM information_schema.tables', 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ['SELECT * FROM sqlite_master', 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ['SELECT * FROM pg_catalog.pg_class', 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ['SELECT * FROM duckdb_tables()', 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ['SELECT * FROM duckdb_settings()', 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ["SELECT * FROM read_csv('/etc/passwd')", 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ["SELECT * FROM read_parquet('x.parquet')", 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ["SELECT * FROM read_json_auto('/etc/hosts')", 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ["SELECT * FROM glob('/*')", 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ["SELECT * FROM '/etc/passwd'", 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ["SELECT read_text('/etc/passwd')", 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ["SELECT getenv('HOME')", 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ["SELECT current_setting('memory_limit')", 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ["SELECT * FROM query('SELECT * FROM api_keys')", 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ["SELECT * FROM query_table('api_keys')", 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ["SELECT json_serialize_plan('SELECT * FROM api_keys')", 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ["SELECT main.getenv('HOME')", 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ["SELECT system.main.getenv('HOME')", 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ["SELECT nextval('s')", 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ['SELECT * FROM events AT (VERSION => 1)', 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ['WITH x AS (SELECT * FROM api_keys) SELECT * FROM x', 'INTAKE_ERR_QUERY_FORBIDDEN'],
  [
    'WITH a AS (SELECT * FROM api_keys), api_keys AS (SELECT 1) SELECT * FROM a',
    'INTAKE_ERR_QUERY_FORBIDDEN',
  ],
  ['SELECT (SELECT count(*) FROM api_keys)', 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ['SELECT * FROM events WHERE user_id IN (SELECT hash FROM api_keys)', 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ["ATTACH '/tmp/x.db' AS x", 'INTAKE_ERR_QUERY_INVALID'],
  ["COPY events TO '/tmp/out.csv'", 'INTAKE_ERR_QUERY_INVALID'],
  ["COPY (SELECT 1) TO '/tmp/out.csv'", 'INTAKE_ERR_QUERY_INVALID'],
  ["EXPORT DATABASE '/tmp/x'", 'INTAKE_ERR_QUERY_INVALID'],
  ['PRAGMA database_list', 'INTAKE_ERR_QUERY_INVALID'],
  ['PRAGMA show_tables', 'INTAKE_ERR_QUERY_INVALID'],
  ['SET enable_external_access = true', 'INTAKE_ERR_QUERY_INVALID'],
  ['SET VARIABLE x = 1', 'INTAKE_ERR_QUERY_INVALID'],
  ['INSTALL httpfs', 'INTAKE_ERR_QUERY_INVALID'],
  ['LOAD httpfs', 'INTAKE_ERR_QUERY_INVALID'],
  ['CREATE TABLE t AS SELECT 1', 'INTAKE_ERR_QUERY_INVALID'],
  ['CREATE MACRO m() AS 1', 'INTAKE_ERR_QUERY_INVALID'],
  ['INSERT INTO events SELECT * FROM events', 'INTAKE_ERR_QUERY_INVALID'],
  ['DELETE FROM events', 'INTAKE_ERR_QUERY_INVALID'],
  ["UPDATE events SET event = 'x'", 'INTAKE_ERR_QUERY_INVALID'],
  ['DROP TABLE events', 'INTAKE_ERR_QUERY_INVALID'],
  ['SELECT 1; SELECT 2', 'INTAKE_ERR_QUERY_INVALID'],
  ['SELECT 1; DROP TABLE events', 'INTAKE_ERR_QUERY_INVALID'],
  ['SELECT 1 -- ; DROP TABLE events\n; SELECT * FROM api_keys', 'INTAKE_ERR_QUERY_INVALID'],
  ['/* */ SELECT * FROM /* comment */ api_keys', 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ['SELECT * FROM ａｐｉ_keys', 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ['SELECT * FROM "api_keys\u0000"', 'INTAKE_ERR_QUERY_INVALID'],
  ['PREPARE p AS SELECT * FROM api_keys', 'INTAKE_ERR_QUERY_INVALID'],
  ['EXECUTE p', 'INTAKE_ERR_QUERY_INVALID'],
  ['CALL pragma_version()', 'INTAKE_ERR_QUERY_INVALID'],
  ['PIVOT events ON event USING count(*)', 'INTAKE_ERR_QUERY_INVALID'],
  ['DESCRIBE events', 'INTAKE_ERR_QUERY_FORBIDDEN'],
  ['SUMMARIZE api_keys', 'INTAKE_ERR_QUERY_FORBIDDEN'],
  [
    'SELECT count(*) FROM events, events e2, events e3, events e4, range(100000000) r(i)',
    'INTAKE_ERR_QUERY_TIMEOUT',
  ],
  [
    'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r',
    'INTAKE_ERR_QUERY_TIMEOUT',
  ],
  ['SELECT count(*) FROM range(1000000) a, range(1000000) b', 'INTAKE_ERR_QUERY_TIMEOUT'],
  [
    "SELECT count(*) FROM range(1000000000) t(i) WHERE md5(CAST(i AS VARCHAR)) = 'x'",
    'INTAKE_ERR_QUERY_TIMEOUT',
  ],
  [
    "SELECT length(repeat('x', 2000000000))",
    'INTAKE_ERR_QUERY_TIMEOUT|INTAKE_ERR_QUERY_TOO_LARGE|INTAKE_ERR_QUERY_FAILED',
  ],
  ['SELECT no_such_column FROM events', 'INTAKE_ERR_QUERY_FAILED'],
  ['SELECT * FROM events WHERE', 'INTAKE_ERR_QUERY_INVALID'],
  ['SELECT $1', 'INTAKE_ERR_QUERY_INVALID'],
];

export const ESCAPES: ReadonlyArray<readonly [string, string]> =
  TEST_ENGINE === 'clickhouse' ? BATTERY.map(([sql, code]) => [sql, ON_CLICKHOUSE[sql] ?? code]) : BATTERY;
