// When the store's writes are durable without DuckDB's WAL (index.ts, walWrites false). DuckDB then writes a
// change to the file only at a CHECKPOINT: a crash loses every commit since the last one. Loads need nothing
// more: the ingest log keeps each segment until a checkpoint covers it (sink.durableThrough) and a restart
// loads the rest again, the "loaded through" mark reverting with the rows. Every other write (workspaces,
// keys, settings, tracking plans, deletion requests, tombstones, workspace deletions) is acknowledged only
// after a checkpoint that began once it had committed (DuckDBStore.durable).
//
// Why a checkpoint per write and not a second, WAL-backed database for them: DuckDB refuses a transaction that
// writes to two attached databases, and a deletion (a user's or a workspace's) changes the events and the
// metadata at once, in one transaction; these writes are rare (admin calls, not ingest), and a checkpoint
// covers the loads before it too, so it costs only the checkpoint that was due anyway, a little early (a
// smaller row group, as max_vacuum_tasks 0 leaves it). Not checkpointed: the dedupe window's purge of old keys
// (sink.purgeKeys: a crash brings back keys the next start ignores anyway, being older than the window),
// the user index's rebuild (derived from the events, as of the same checkpoint) and the purge, whose swapped
// copy is checkpointed whole.

/** Longest a write waits for DuckDB to accept its checkpoint before it answers 503, in ms. */
export const DURABLE_WAIT_MS = 30_000;

/**
 * Every own method of `target` not named in `reads` makes what it wrote durable before it resolves: `durable`
 * runs after it. A method added later is a write unless someone decided it is not, as with the gate
 * (gate.ts). Apply it before gateMethods, so the checkpoint runs inside the call's gate.
 */
export function durableMethods(target: object, reads: readonly string[], durable: () => Promise<void>): void {
  const t = target as Record<string, unknown>;
  for (const key of Object.keys(t)) {
    const fn = t[key];
    if (typeof fn !== 'function' || reads.includes(key)) continue;
    t[key] = async (...args: unknown[]) => {
      const result = await (fn as (...a: unknown[]) => Promise<unknown>)(...args);
      await durable();
      return result;
    };
  }
}
