// `intake migrate`: everything an embedded data directory holds, copied into another store (a cluster's
// ClickHouse), through the store contract only, so any engine can be a target.
//
// What moves, and how:
// - Workspaces, keys (their hashes: the secrets are never known) and every tracking plan version, through the
//   target's admin and plans parts; what the target already has (same ids, same versions) is skipped.
// - Events and rejected items as batches through the target's sink, exactly as a loader hands them over, so the
//   target rebuilds profiles, identities, groups and the data dictionary with the same engine-neutral code that
//   built the source's. Each workspace's events go in the source's storage order, which is the order they were
//   loaded in, so trait merges and identity links come out the same.
// - Tombstones (the dedupe keys of deleted persons' events, refused forever) through sink.addTombstones.
// - Not moved: deletion jobs' history (their data is gone; their tombstones move), rate-limit state, the log.
//
// Exactly once and resumable: a progress file records, per workspace, how many events and rejections are in
// the target. Before a batch is loaded the file names it (`pending`: its sink seq and range); after, the range
// is marked done. A run that stops anywhere is followed by one that asks the target's checkpoint whether the
// pending batch got in (the sink stores a batch and its seq atomically) and either marks it done or loads the
// same range again under the same seq. A second run after a finished one copies nothing.
//
// The target's sink keeps one checkpoint: nothing else may load into it while a migration runs (start the
// cluster's loaders after it, or stop them).
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { EVENT_COLUMNS } from '../core/columns.ts';
import { IntakeError } from '../core/errors.ts';
import type { CanonicalEvent, Rejection } from '../core/event.ts';
import type { LogBatch, Store, StoreCounts } from '../store/types.ts';

export type Stage = 'workspaces' | 'keys' | 'plans' | 'events' | 'rejected' | 'tombstones';

export interface MigrateOptions {
  /** The progress file: created on the first run, read by the next. */
  progressFile: string;
  /** Names the target (its URL and database, say): a progress file made for another target is refused. */
  targetName?: string;
  /** Entries per batch handed to the target's sink. Default 10,000. */
  batchSize?: number;
  /** Longest one workspace's export of events may run, in ms. Default 24 h. */
  exportTimeoutMs?: number;
  /** Told as each stage advances: `done` of `total` for the stage. */
  onProgress?(stage: Stage, done: number, total: number): void;
}

export interface MigrateResult {
  /** What this run copied (0 everywhere for a run after a finished one). */
  copied: Record<Stage, number>;
  source: StoreCounts;
  target: StoreCounts;
  /** Each count that differs between source and target, e.g. `events: 10 in the source, 9 in the target`. */
  mismatches: string[];
  /** What the target cannot hold yet (it answered INTAKE_ERR_NOT_IMPLEMENTED), with its reason. */
  notCopied: string[];
}

interface Pending {
  seq: number;
  workspaceId: string;
  kind: 'events' | 'rejected';
  /** The entries [from, to) of the workspace's export (events) or listing (rejected). */
  from: number;
  to: number;
}

interface State {
  version: 1;
  target: string;
  lastSeq: number;
  pending: Pending | null;
  events: Record<string, number>;
  rejected: Record<string, number>;
}

/** A migration that cannot go on as asked (one line for the user). */
export class MigrateError extends Error {}

const FUTURE = new Date(Date.UTC(9000, 0, 1)); // dedupeKeys since then: tombstones only
const TIME_KEYS = EVENT_COLUMNS.filter((c) => c.kind === 'time').map((c) => c.key);

/** An event as exportEvents writes it (JSON.stringify of a CanonicalEvent), back to its type. */
function parseEvent(line: string): CanonicalEvent {
  const e = JSON.parse(line) as Record<string, unknown>;
  for (const k of TIME_KEYS) if (typeof e[k] === 'string') e[k] = new Date(e[k] as string);
  return e as unknown as CanonicalEvent;
}

function batchOf(seq: number, events: CanonicalEvent[], rejected: Rejection[]): LogBatch {
  return { seq, events, rejected: rejected.length, entries: async () => ({ events, rejected }) };
}

class Progress {
  constructor(
    private readonly file: string,
    readonly state: State,
  ) {}

  static open(file: string, target: string): Progress {
    if (!existsSync(file))
      return new Progress(file, { version: 1, target, lastSeq: 0, pending: null, events: {}, rejected: {} });
    const state = JSON.parse(readFileSync(file, 'utf8')) as State;
    if (state.version !== 1) throw new Error(`${file}: not a progress file of this version`);
    if (state.target !== target)
      throw new MigrateError(
        `${file} records a migration into ${state.target}, not ${target}: give another --progress-file, or remove it to start over`,
      );
    return new Progress(file, state);
  }

  /** Written whole to a temporary file, synced and renamed over the old one: never half a file. */
  save(): void {
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, `${JSON.stringify(this.state, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
  }
}

export async function migrate(source: Store, target: Store, opts: MigrateOptions): Promise<MigrateResult> {
  const batchSize = opts.batchSize ?? 10_000;
  const progress = Progress.open(opts.progressFile, opts.targetName ?? 'the target');
  const st = progress.state;
  const copied: Record<Stage, number> = {
    workspaces: 0,
    keys: 0,
    plans: 0,
    events: 0,
    rejected: 0,
    tombstones: 0,
  };
  const tell = opts.onProgress ?? (() => {});
  const sourceCounts = await source.admin.counts();

  // A batch a stopped run was loading: in the target (its seq reached), or to load again under its seq.
  let reuseSeq: number | null = null;
  if (st.pending) {
    const p = st.pending;
    if ((await target.sink.checkpoint()) >= p.seq) st[p.kind][p.workspaceId] = p.to;
    else reuseSeq = p.seq;
    st.pending = null;
    progress.save();
  }
  const load = async (p: Omit<Pending, 'seq'>, events: CanonicalEvent[], rejected: Rejection[]) => {
    const seq = reuseSeq ?? Math.max(st.lastSeq, await target.sink.checkpoint()) + 1;
    reuseSeq = null;
    st.pending = { ...p, seq };
    st.lastSeq = seq;
    progress.save();
    await target.sink.load(batchOf(seq, events, rejected));
    st[p.kind][p.workspaceId] = p.to;
    st.pending = null;
    progress.save();
  };

  const workspaces = await source.admin.listWorkspaces();
  const have = new Set((await target.admin.listWorkspaces()).map((w) => w.id));
  for (const [i, w] of workspaces.entries()) {
    if (!have.has(w.id)) {
      await target.admin.createWorkspace(w);
      copied.workspaces++;
    }
    tell('workspaces', i + 1, workspaces.length);
  }

  const keys = await source.admin.listKeys();
  const haveKeys = new Set((await target.admin.listKeys()).map((k) => k.id));
  for (const [i, k] of keys.entries()) {
    if (!haveKeys.has(k.id)) {
      await target.admin.createKey(k);
      copied.keys++;
    }
    tell('keys', i + 1, keys.length);
  }

  const notCopied: string[] = [];
  const unsupported = (err: unknown) =>
    err instanceof IntakeError && err.code === 'INTAKE_ERR_NOT_IMPLEMENTED';
  for (const [i, w] of workspaces.entries()) {
    tell('plans', i + 1, workspaces.length);
    const ours = (await source.plans.listPlans(w.id)).map((p) => p.version).sort((a, b) => a - b);
    if (ours.length === 0) continue;
    let listed: Array<{ version: number }>;
    try {
      listed = await target.plans.listPlans(w.id);
    } catch (err) {
      if (!unsupported(err)) throw err;
      notCopied.push(`tracking plans (${(err as Error).message})`);
      break;
    }
    const theirs = new Set(listed.map((p) => p.version));
    for (const v of ours) {
      if (theirs.has(v)) continue;
      const plan = await source.plans.getPlan(w.id, v);
      if (!plan) continue;
      const saved = await target.plans.savePlan(w.id, plan.plan, plan.createdAt);
      if (saved.version !== v)
        throw new Error(`workspace ${w.id}: plan version ${v} was stored as ${saved.version} in the target`);
      copied.plans++;
    }
  }

  // Events, each workspace in the source's storage order (its load order), from where the last run stopped.
  let eventsDone = Object.values(st.events).reduce((a, b) => a + b, 0);
  for (const w of workspaces) {
    const skip = st.events[w.id] ?? 0;
    let at = 0;
    let held: CanonicalEvent[] = [];
    const flush = async () => {
      if (held.length === 0) return;
      const from = at - held.length;
      await load({ workspaceId: w.id, kind: 'events', from, to: at }, held, []);
      copied.events += held.length;
      eventsDone += held.length;
      held = [];
      tell('events', eventsDone, sourceCounts.events);
    };
    await source.events.exportEvents(
      w.id,
      { json: [] },
      async (text) => {
        for (const line of text.split('\n')) {
          if (line === '') continue;
          at++;
          if (at <= skip) continue;
          held.push(parseEvent(line));
          if (held.length >= batchSize) await flush();
        }
        return true;
      },
      opts.exportTimeoutMs ?? 86_400_000,
    );
    await flush();
  }

  // Rejected items, oldest first so that the offsets of a resumed run still name the same items.
  let rejectedDone = Object.values(st.rejected).reduce((a, b) => a + b, 0);
  for (const w of workspaces) {
    const total = (await source.events.listRejected(w.id, { limit: 1, offset: 0 })).total;
    for (let from = st.rejected[w.id] ?? 0; from < total; ) {
      // listRejected is newest first: the page that ends `from` items before the oldest.
      const limit = Math.min(batchSize, total - from);
      const page = await source.events.listRejected(w.id, { limit, offset: total - from - limit });
      const items = page.results.reverse();
      await load({ workspaceId: w.id, kind: 'rejected', from, to: from + items.length }, [], items);
      from += items.length;
      copied.rejected += items.length;
      rejectedDone += items.length;
      tell('rejected', rejectedDone, sourceCounts.rejected);
    }
  }

  const tombstones: string[] = [];
  await source.sink.dedupeKeys(FUTURE, (key) => tombstones.push(key));
  for (let i = 0; i < tombstones.length; i += batchSize) {
    copied.tombstones += await target.sink.addTombstones(tombstones.slice(i, i + batchSize));
    tell('tombstones', Math.min(i + batchSize, tombstones.length), tombstones.length);
  }

  const targetCounts = await target.admin.counts();
  const mismatches = (Object.keys(sourceCounts) as Array<keyof StoreCounts>)
    .filter((k) => sourceCounts[k] !== targetCounts[k])
    .map((k) => `${k}: ${sourceCounts[k]} in the source, ${targetCounts[k]} in the target`);
  return { copied, source: sourceCounts, target: targetCounts, mismatches, notCopied };
}
