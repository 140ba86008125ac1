// Runs a compiled insight statement under ClickHouse's own time limit (max_execution_time, whole seconds: the
// setting takes no fractions on 18.16) and hands back its rows as arrays, 64-bit integers as numbers. A statement
// stopped at the limit answers INTAKE_ERR_QUERY_TIMEOUT, one past the memory limit INTAKE_ERR_QUERY_TOO_LARGE,
// as on the embedded store; anything else is a bug in a compiler (a 500, the statement in the log).
import { IntakeError } from '../../../core/errors.ts';
import type { CompiledSql } from '../../../core/insights.ts';
import { type ClickHouse, ClickHouseError } from '../http.ts';

/** ClickHouse's codes for a statement stopped at max_execution_time, and for one past max_memory_usage. */
const TIMEOUT_EXCEEDED = 159;
const MEMORY_LIMIT_EXCEEDED = 241;

export async function runInsight(ch: ClickHouse, q: CompiledSql, timeoutMs: number): Promise<unknown[][]> {
  try {
    const res = await ch.compact(q.sql, {
      max_execution_time: Math.max(1, Math.ceil(timeoutMs / 1000)),
      timeout_overflow_mode: 'throw',
    });
    return res.data;
  } catch (cause) {
    if (cause instanceof ClickHouseError && cause.chCode === TIMEOUT_EXCEEDED) {
      throw new IntakeError(
        'INTAKE_ERR_QUERY_TIMEOUT',
        `the insight ran past the ${timeoutMs} ms limit and was stopped`,
      );
    }
    if (cause instanceof ClickHouseError && cause.chCode === MEMORY_LIMIT_EXCEEDED) {
      throw new IntakeError(
        'INTAKE_ERR_QUERY_TOO_LARGE',
        `the insight needed more memory than a query may use: ${cause.message.slice(0, 300)}`,
      );
    }
    throw cause;
  }
}
