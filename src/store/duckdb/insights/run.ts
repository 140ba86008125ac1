// Runs a compiled insight on a connection of its own (a long one never holds up the store's shared connection),
// stopped by DuckDB's interrupt at the time limit, and hands back plain rows: BIGINTs as numbers, times as ms.
import type { DuckDBValue } from '@duckdb/node-api';
import { IntakeError } from '../../../core/errors.ts';
import type { CompiledSql } from '../../../core/insights.ts';
import { type Connector, StoreError, snapshot } from '../db.ts';

function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Date) return v.getTime();
  if (Array.isArray(v)) return v.map(plain);
  return v;
}

export async function runInsight(
  instance: Connector,
  q: CompiledSql,
  timeoutMs: number,
): Promise<unknown[][]> {
  const conn = await instance.connect();
  const timer = setTimeout(() => conn.interrupt(), timeoutMs);
  try {
    await snapshot(conn);
    const reader = await conn.runAndReadAll(q.sql, q.params as DuckDBValue[]);
    return reader.getRowsJS().map((r) => r.map(plain));
  } catch (cause) {
    const message = String((cause as Error).message ?? cause).split('\n')[0] ?? '';
    if (/^INTERRUPT/i.test(message)) {
      throw new IntakeError(
        'INTAKE_ERR_QUERY_TIMEOUT',
        `the insight ran past the ${timeoutMs} ms limit and was stopped`,
      );
    }
    if (/Out of Memory/i.test(message)) {
      throw new IntakeError(
        'INTAKE_ERR_QUERY_TOO_LARGE',
        `the insight needed more memory than a query may use: ${message}`,
      );
    }
    // Anything else is a bug in a compiler: a 500 (the log has the statement).
    throw new StoreError(`duckdb: ${message}`, q.sql, { cause });
  } finally {
    clearTimeout(timer);
    conn.closeSync();
  }
}
