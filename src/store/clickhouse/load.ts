// Loading a batch of the ingest log into ClickHouse, exactly once without transactions.
//
// The order of writes: (1) the events not stored yet, (2) the rejections, (3) the data dictionary's rows of the
// events stored (dictionary.ts), the profile changes as new versions (profile-port.ts), every row carrying the
// batch's seq, then (4) one row of ingest_log with the seq:
// the commit point. Reads see only rows with seq at or below the checkpoint (max seq of ingest_log), so a load
// that fails or is killed anywhere before (4) shows nothing. Before the next load, cleanup() deletes every row
// above the checkpoint and waits for the deletion, so the re-load of the same batch starts from the committed
// state and stores each row once; a crash after (4) leaves the batch at or below the checkpoint, and a re-load
// is skipped. A message already stored by an earlier batch (a redelivery) is dropped before (1), with its
// profile effects; the events table's ReplacingMergeTree on (workspace_id, message_id) and FINAL reads are the
// last line of defence.
import type { CanonicalEvent } from '../../core/event.ts';
import { DictionaryBatch } from '../../pipeline/dictionary/observe.ts';
import { applyProfiles } from '../../profiles/apply.ts';
import { ProfileCaches } from '../../profiles/cache.ts';
import type { LogBatch } from '../types.ts';
import { addSummary, type PathBounds } from './dictionary.ts';
import { type ClickHouse, lit, litList } from './http.ts';
import { ClickHouseProfilePort } from './profile-port.ts';
import { eventRow, rejectionRow } from './rows.ts';
import { SEQ_TABLES } from './schema.ts';

export async function checkpoint(ch: ClickHouse): Promise<number> {
  const rows = await ch.rows('SELECT max(seq) AS n FROM ingest_log');
  return Number(rows[0]?.n ?? 0);
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

/** Deletes the rows of loads that did not commit (seq above the checkpoint); returns how many tables had some. */
export async function cleanup(ch: ClickHouse): Promise<number> {
  const cp = await checkpoint(ch);
  let n = 0;
  for (const table of SEQ_TABLES) {
    const rows = await ch.rows(`SELECT count() AS n FROM ${table} WHERE seq > ${cp}`);
    if (Number(rows[0]?.n ?? 0) === 0) continue;
    n++;
    await ch.exec(`ALTER TABLE ${table} DELETE WHERE seq > ${cp}`);
    await mutationsDone(ch, table);
  }
  return n;
}

/** The messageIds among `events` already stored in their workspace (committed). */
async function stored(ch: ClickHouse, events: readonly CanonicalEvent[], cp: number): Promise<Set<string>> {
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
       AND seq <= ${cp}`,
    );
    for (const r of rows) out.add(`${ws}\0${r.message_id}`);
  }
  return out;
}

export async function loadBatch(
  ch: ClickHouse,
  batch: LogBatch,
  maxIdsPerPerson: number,
  bounds: PathBounds = new Map(),
): Promise<void> {
  const cp = await checkpoint(ch);
  if (batch.seq <= cp) return;
  const { events, rejected } = await batch.entries();
  const rejectedRows = rejected.map((r) => rejectionRow(r, batch.seq)); // throws before any write
  const known = events.length > 0 ? await stored(ch, events, cp) : new Set<string>();
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
  await addSummary(ch, summary, batch.seq, cp, bounds);
  const profileEvents = batch.events.filter((e) =>
    fresh.has(`${e.workspaceId}\0${e.messageId.toWellFormed()}`),
  );
  if (profileEvents.length > 0) {
    const port = new ClickHouseProfilePort(ch, cp);
    // A fresh cache each load: nodes sharing the store change the tables (profile-port.ts).
    await applyProfiles(port, profileEvents, maxIdsPerPerson, new ProfileCaches());
    await port.flush(batch.seq);
  }
  await ch.insert('ingest_log', [{ seq: batch.seq, at_ms: Date.now() }]);
}
