// Lanes: the seq spaces of loaders that load one store at the same time (the cluster's loaders, each owning a
// share of the log's partitions). A batch's seq is `lane * LANE_SPAN + n`, n counting that lane's loads from 1;
// a store that takes lanes (ClickHouse) keeps a checkpoint per lane, so one loader's commit never stands for
// another's unfinished load, and each loader cleans only its own lane. Lane 0 is the single loader's (the file
// log, the JetStream log over DuckDB, and every store written before lanes existed): a seq there is just n.
/** 2^40 loads per lane; lanes up to 2^13 stay below 2^53, exact in a JavaScript number. */
export const LANE_SPAN = 2 ** 40;

export const laneOf = (seq: number): number => Math.floor(seq / LANE_SPAN);
/** The checkpoint of a lane that has loaded nothing yet: its next load is this + 1. */
export const laneBase = (lane: number): number => lane * LANE_SPAN;

/**
 * A lock held across processes (the cluster's: a lease in JetStream, ingest/nats/lease.ts), which a store takes
 * for the one step that must not run in two loaders at once: reading and writing profiles.
 */
export interface StoreLock {
  /**
   * Runs `fn` holding the lock. `dirty`: the previous holder did not release it cleanly (it died or failed
   * holding it), so what it wrote uncommitted must be cleaned first. `check()` throws when the lock is no longer
   * held (the lease ran out): called right before a commit. When `fn` throws the lock is released as dirty.
   */
  hold<T>(fn: (held: { dirty: boolean; check(): Promise<void> }) => Promise<T>): Promise<T>;
}

/** What a store that takes lanes adds to its sink. */
export interface SinkLanes {
  /** The lane's checkpoint (laneBase(lane) before its first load). */
  checkpoint(lane: number): Promise<number>;
  /** From now on the profile step (and deletions) run holding `lock`, with the other processes' loads. */
  useLock(lock: StoreLock): void;
}
