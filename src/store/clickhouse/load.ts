// Loading a batch of the ingest log into ClickHouse, exactly once without transactions, by one loader or by
// several at the same time (each in its own lane: store/lanes.ts).
//
// The order of writes: (1) the events not stored yet, (2) the rejections, (3) the data dictionary's rows of the
// events stored (dictionary.ts), every row carrying the batch's seq, (4) the profile changes as new versions
// (profile-port.ts), then (5) ingest_log rows: the commit point. Reads see only the rows of committed loads
// (schema.ts committed(): seq at or below its lane's checkpoint), so a load that fails or is killed anywhere
// before (5) shows nothing. Before a lane's next load, cleanup() deletes its rows above its checkpoint and waits
// for the deletion, so the re-load of the same batch starts from the committed state and stores each row once;
// a crash after (5) leaves the batch at or below the checkpoint, and a re-load is skipped. A message already
// stored by an earlier batch (a redelivery) is dropped before (1), with its profile effects; the events table's
// ReplacingMergeTree on (workspace_id, message_id) and FINAL reads are the last line of defence.
//
// Profiles, with several loaders: one person's events reach every partition, so two loaders would otherwise
// read a person's state at once and each write a version of it (a lost update, a broken merge). Steps (4) and
// (5) run holding a lock shared by the loaders (StoreLock, a lease in JetStream); profile versions are written in
// lane 0 with seq = lane 0's checkpoint + 1, committed in the same INSERT as the load's own ingest_log row (one
// block: one part, atomic), so the versions grow in the order the profile steps ran, and argMax reads them in
// that order. (1)-(3) run in parallel in the loaders. A holder that died leaves the lock dirty: the next one
// deletes lane 0's rows above its checkpoint first. A lane-0 load (one loader, the file log) writes its profile
// versions at its own seq as before.
import type { CanonicalEvent } from '../../core/event.ts';
import { DictionaryBatch } from '../../pipeline/dictionary/observe.ts';
import { applyProfiles } from '../../profiles/apply.ts';
import { ProfileCaches } from '../../profiles/cache.ts';
import { LANE_SPAN, laneBase, laneOf } from '../lanes.ts';
import type { LogBatch } from '../types.ts';
import { addSummary, type PathBounds } from './dictionary.ts';
import { type ClickHouse, lit, litList } from './http.ts';
import { ClickHouseProfilePort } from './profile-port.ts';
import { eventRow, rejectionRow } from './rows.ts';
import { CHECKPOINTS_SQL, committed, SEQ_TABLES } from './schema.ts';

/** Every lane's checkpoint, indexed by lane (at least lane 0's): a snapshot for committed(). */
export async function checkpoints(ch: ClickHouse): Promise<number[]> {
  const rows = await ch.rows(`SELECT ${CHECKPOINTS_SQL} AS c`);
  const c = ((rows[0]?.c ?? []) as unknown[]).map(Number);
  return c.length > 0 ? c : [0];
}

/** A lane's checkpoint in a snapshot: laneBase(lane) before the lane's first commit. */
export const checkpointOf = (cps: readonly number[], lane: number): number =>
  Math.max(cps[lane] ?? 0, laneBase(lane));

export async function checkpoint(ch: ClickHouse, lane = 0): Promise<number> {
  return checkpointOf(await checkpoints(ch), lane);
}

/** Waits until the table's mutations (ALTER ... DELETE) are applied: they run in the background. */
export async function mutationsDone(ch: ClickHouse, table: string): Promise<void> {
  for (let i = 0; ; i++) {
    const rows = await ch.rows(
      `SELECT count() AS n FROM system.mutations WHERE database = currentDatabase() AND table = ${lit(table)}
       AND is_done = 0`,
    );
    if (Number(rows[0]?.n ?? 0) === 0) return;
    await new Promise((r) => setTimeout(r, Math.min(10 * 2 ** i, 200)));
  }
}

/**
 * Deletes the rows of a lane's loads that did not commit (seq above the lane's checkpoint, below the next lane);
 * returns how many tables had some. Other lanes' rows, committed or being loaded, are not touched.
 */
export async function cleanup(ch: ClickHouse, lane = 0): Promise<number> {
  const cp = await checkpoint(ch, lane);
  const mine = `seq > ${cp} AND seq < ${laneBase(lane + 1)}`;
  let n = 0;
  for (const table of SEQ_TABLES) {
    const rows = await ch.rows(`SELECT count() AS n FROM ${table} WHERE ${mine}`);
    if (Number(rows[0]?.n ?? 0) === 0) continue;
    n++;
    await ch.exec(`ALTER TABLE ${table} DELETE WHERE ${mine}`);
    await mutationsDone(ch, table);
  }
  return n;
}

/**
 * Writes the base row (seq laneBase(l): commits nothing) of `lane` and of every lane below that has none, so that
 * CHECKPOINTS_SQL (schema.ts) is dense. Run before a lane's first load.
 */
export async function seedLanes(ch: ClickHouse, lane: number): Promise<void> {
  const rows = await ch.rows(
    `SELECT DISTINCT intDiv(seq, ${LANE_SPAN}) AS l FROM ingest_log WHERE seq < ${laneBase(lane + 1)}`,
  );
  const have = new Set(rows.map((r) => Number(r.l)));
  const missing = [];
  for (let l = 0; l <= lane; l++) if (!have.has(l)) missing.push({ seq: laneBase(l), at_ms: Date.now() });
  await ch.insert('ingest_log', missing);
}

/** The messageIds among `events` already stored in their workspace (committed). */
async function stored(
  ch: ClickHouse,
  events: readonly CanonicalEvent[],
  cps: readonly number[],
): Promise<Set<string>> {
  const byWs = new Map<string, string[]>();
  for (const e of events) {
    const list = byWs.get(e.workspaceId) ?? [];
    list.push(e.messageId.toWellFormed());
    byWs.set(e.workspaceId, list);
  }
  const out = new Set<string>();
  for (const [ws, ids] of byWs) {
    const rows = await ch.rows(
      `SELECT message_id FROM events WHERE workspace_id = ${lit(ws)} AND message_id IN ${litList(ids)}
       AND ${committed(cps)}`,
    );
    for (const r of rows) out.add(`${ws}\0${r.message_id}`);
  }
  return out;
}

/** Runs a profile step: `dirty`, the previous one may have left lane 0 rows; `check` right before its commit. */
export type ProfileStep = <T>(
  fn: (held: { dirty: boolean; check(): Promise<void> }) => Promise<T>,
) => Promise<T>;

export async function loadBatch(
  ch: ClickHouse,
  batch: LogBatch,
  maxIdsPerPerson: number,
  bounds: PathBounds = new Map(),
  /** How a lane's profile step is serialized with other loaders' (store/lanes.ts StoreLock). */
  profileStep: ProfileStep = (fn) => fn({ dirty: false, check: async () => {} }),
): Promise<void> {
  const lane = laneOf(batch.seq);
  const cps = await checkpoints(ch);
  if (batch.seq <= checkpointOf(cps, lane)) return;
  const { events, rejected } = await batch.entries();
  const rejectedRows = rejected.map((r) => rejectionRow(r, batch.seq)); // throws before any write
  const known = events.length > 0 ? await stored(ch, events, cps) : new Set<string>();
  const fresh = new Set<string>();
  const rows = [];
  const kept: CanonicalEvent[] = [];
  for (const e of events) {
    const k = `${e.workspaceId}\0${e.messageId.toWellFormed()}`;
    if (known.has(k) || fresh.has(k)) continue;
    fresh.add(k);
    kept.push(e);
    rows.push(eventRow(e, batch.seq));
  }
  await ch.insert('events', rows);
  await ch.insert('rejected', rejectedRows);
  // The log's summary when every event is stored; else the summary of those that are (a redelivery's are not).
  const summary =
    batch.dictionary && kept.length === events.length ? batch.dictionary : DictionaryBatch.of(kept);
  await addSummary(ch, summary, batch.seq, cps, bounds);
  const profileEvents = Array.from(batch.events).filter((e) =>
    fresh.has(`${e.workspaceId}\0${e.messageId.toWellFormed()}`),
  );
  const at_ms = Date.now();
  if (lane === 0) {
    // One loader: the profile versions are the batch's seq, committed with it.
    if (profileEvents.length > 0) await applyAt(ch, profileEvents, maxIdsPerPerson, cps[0] ?? 0, batch.seq);
    await ch.insert('ingest_log', [{ seq: batch.seq, at_ms }]);
    return;
  }
  if (profileEvents.length === 0) {
    await ch.insert('ingest_log', [{ seq: batch.seq, at_ms }]);
    return;
  }
  await profileStep(async (held) => {
    if (held.dirty) await cleanup(ch, 0);
    // The profiles as the last profile step committed them (read now, under the lock: not the snapshot above).
    const cp0 = await checkpoint(ch, 0);
    await applyAt(ch, profileEvents, maxIdsPerPerson, cp0, cp0 + 1);
    await held.check();
    await ch.insert('ingest_log', [
      { seq: batch.seq, at_ms },
      { seq: cp0 + 1, at_ms },
    ]);
  });
}

/** Applies the events' profile effects on the profiles committed at `cp0`, written as versions at `version`. */
async function applyAt(
  ch: ClickHouse,
  events: CanonicalEvent[],
  maxIdsPerPerson: number,
  cp0: number,
  version: number,
): Promise<void> {
  const port = new ClickHouseProfilePort(ch, cp0);
  // A fresh cache each load: nodes sharing the store change the tables (profile-port.ts).
  await applyProfiles(port, events, maxIdsPerPerson, new ProfileCaches());
  await port.flush(version);
}
