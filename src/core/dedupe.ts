// The dedupe key of (workspace, messageId), defined once: the log computes it for each event it accepts, and an
// engine recomputes it in SQL from the stored columns to rebuild the log's memory at start (so no copy of every
// key is stored). test/core/dedupe.test.ts checks each engine's SQL form against the JavaScript one.
import { hash } from 'node:crypto';

/**
 * md5 of `workspace NUL messageId` as 32 hex digits. md5 is fine here: it only has to spread keys evenly, the
 * inputs are not adversarial across tenants. One-shot crypto.hash costs a third of a createHash chain (0.4
 * against 1.3 us).
 */
export function dedupeKey(workspaceId: string, messageId: string): string {
  return hash('md5', `${workspaceId}\0${messageId}`, 'hex');
}

/** The same key in each engine's SQL, over the columns named. */
export const DEDUPE_KEY_SQL = {
  duckdb: (workspace: string, messageId: string) => `md5(${workspace} || chr(0) || ${messageId})`,
  clickhouse: (workspace: string, messageId: string) =>
    `lower(hex(MD5(concat(${workspace}, '\\0', ${messageId}))))`,
} as const;
