// Deleting a person and a workspace on ClickHouse: ALTER TABLE ... DELETE (a mutation: it rewrites the parts
// holding the rows, so the bytes go with it), waited for before the job shows as done. Jobs are documents
// (docs.ts), run one after another by the store.
import { dedupeKey } from '../../core/dedupe.ts';
import { uuidv7 } from '../../core/ids.ts';
import type { DeletionJob } from '../types.ts';
import { forgetEvents } from './dictionary.ts';
import { readDocs, writeDoc } from './docs.ts';
import { type ClickHouse, lit, litList } from './http.ts';
import { checkpoints, mutationsDone } from './load.ts';
import { dropClaims } from './plans.ts';
import { SEQ_TABLES, VISIBLE_EVENTS } from './schema.ts';
import { IDENTITIES } from './users.ts';

/** Stores keys as tombstones, those not stored yet; returns how many were new. */
export async function addTombstones(ch: ClickHouse, keys: readonly string[]): Promise<number> {
  const fresh = [...new Set(keys)];
  const known = new Set<string>();
  // In slices: the IN list is part of the query text, which the server caps (max_query_size, 256 KiB).
  for (let i = 0; i < fresh.length; i += 2000) {
    const rows = await ch.rows(
      `SELECT key FROM dedupe_keys FINAL WHERE key IN ${litList(fresh.slice(i, i + 2000))}`,
    );
    for (const r of rows) known.add(String(r.key));
  }
  const add = fresh.filter((k) => !known.has(k));
  if (add.length > 0)
    await ch.insert(
      'dedupe_keys',
      add.map((key) => ({ key, seen_s: TOMBSTONE_SECONDS })),
    );
  return add.length;
}

/** seen_s of a tombstone: 9999-12-31, never purged (the embedded engine's TOMBSTONE_SEEN_AT). */
export const TOMBSTONE_SECONDS = Date.UTC(9999, 11, 31) / 1000;

type JobDoc = Omit<DeletionJob, 'requestedAt' | 'startedAt' | 'finishedAt' | 'erasedAt'> & {
  subject: string | null;
  /** The checkpoints the job's dictionary rows were computed at (load.ts checkpoints()), kept for a re-run. */
  snapshot?: number[];
  requestedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  erasedAt: string | null;
};

const toJob = ({ subject: _, snapshot: __, ...d }: JobDoc): DeletionJob => ({
  ...d,
  requestedAt: new Date(d.requestedAt),
  startedAt: d.startedAt === null ? null : new Date(d.startedAt),
  finishedAt: d.finishedAt === null ? null : new Date(d.finishedAt),
  erasedAt: d.erasedAt === null ? null : new Date(d.erasedAt),
});

async function jobDoc(ch: ClickHouse, id: string): Promise<JobDoc | null> {
  return (await readDocs<JobDoc>(ch, 'deletion', { id }))[0]?.value ?? null;
}

export async function createDeletion(
  ch: ClickHouse,
  ws: string,
  subject: string,
  at: Date,
): Promise<DeletionJob> {
  const doc: JobDoc = {
    id: uuidv7(at.getTime()),
    workspaceId: ws,
    subject,
    status: 'pending',
    requestedAt: at.toISOString(),
    startedAt: null,
    finishedAt: null,
    eventsDeleted: 0,
    idsDeleted: 0,
    error: null,
    erasedAt: null,
  };
  await writeDoc(ch, 'deletion', doc.id, ws, doc);
  return toJob(doc);
}

export async function getDeletion(ch: ClickHouse, ws: string, id: string): Promise<DeletionJob | null> {
  const d = await jobDoc(ch, id);
  return d && d.workspaceId === ws ? toJob(d) : null;
}

export async function unfinishedDeletions(ch: ClickHouse): Promise<string[]> {
  const all = await readDocs<JobDoc>(ch, 'deletion');
  return all
    .filter((d) => d.value.status === 'pending' || d.value.status === 'running')
    .sort((a, b) => (a.value.requestedAt < b.value.requestedAt ? -1 : a.id < b.id ? -1 : 1))
    .map((d) => d.id);
}

export async function failDeletion(ch: ClickHouse, id: string, error: string): Promise<void> {
  const d = await jobDoc(ch, id);
  if (d)
    await writeDoc(ch, 'deletion', id, d.workspaceId, {
      ...d,
      status: 'failed',
      error,
      finishedAt: new Date(),
    });
}

async function deleteWhere(ch: ClickHouse, table: string, where: string): Promise<void> {
  await ch.exec(`ALTER TABLE ${table} DELETE WHERE ${where}`);
  await mutationsDone(ch, table);
}

/** Runs a job: the person's events, rejections, profile rows and ids; their messageIds become tombstones. */
export async function runDeletion(
  ch: ClickHouse,
  jobId: string,
  onKeys: (keys: string[]) => void,
): Promise<void> {
  const job = await jobDoc(ch, jobId);
  if (!job || job.status === 'done') return;
  const ws = job.workspaceId;
  const startedAt = job.startedAt ?? new Date().toISOString();
  const snapshot = job.snapshot ?? (await checkpoints(ch));
  await writeDoc(ch, 'deletion', jobId, ws, { ...job, status: 'running', startedAt, snapshot });
  const subject = job.subject;
  let eventsDeleted = 0;
  let idsDeleted = 0;
  if (subject !== null) {
    const person = await ch.rows(`SELECT person_id FROM ${IDENTITIES(ws)} WHERE id = ${lit(subject)}`);
    const linked = person[0]
      ? await ch.rows(
          `SELECT id FROM ${IDENTITIES(ws)} WHERE person_id = ${lit(String(person[0].person_id))}`,
        )
      : [];
    idsDeleted = linked.length;
    const ids = litList(new Set([subject, ...linked.map((r) => String(r.id))]));
    const mine = `workspace_id = ${lit(ws)} AND (user_id IN ${ids} OR anonymous_id IN ${ids}
      OR (type = 'alias' AND previous_id IN ${ids}))`;
    const messages = (await ch.rows(`SELECT DISTINCT message_id FROM ${VISIBLE_EVENTS} WHERE ${mine}`)).map(
      (r) => String(r.message_id),
    );
    eventsDeleted = Number(
      (await ch.rows(`SELECT count() AS n FROM ${VISIBLE_EVENTS} WHERE ${mine}`))[0]?.n ?? 0,
    );
    const keys = messages.map((m) => dedupeKey(ws, m));
    // The data dictionary first, while the events are there to walk (dictionary.ts: a re-run finishes it).
    await forgetEvents(ch, ws, mine, jobId, snapshot);
    // Tombstones then: a crash after them re-runs the job, which finds them there (ReplacingMergeTree by key).
    await ch.insert(
      'dedupe_keys',
      keys.map((key) => ({ key, seen_s: TOMBSTONE_SECONDS })),
    );
    await deleteWhere(ch, 'events', mine);
    const payload = (f: string) => `visitParamExtractString(payload, ${lit(f)}) IN ${ids}`;
    await deleteWhere(
      ch,
      'rejected',
      `workspace_id = ${lit(ws)} AND (message_id IN ${litList(messages)} OR ${payload('userId')}
       OR ${payload('anonymousId')} OR ${payload('previousId')})`,
    );
    await deleteWhere(ch, 'persons', `workspace_id = ${lit(ws)} AND person_id IN ${ids}`);
    await deleteWhere(ch, 'group_members', `workspace_id = ${lit(ws)} AND member_id IN ${ids}`);
    await deleteWhere(ch, 'identity_refusals', `workspace_id = ${lit(ws)} AND (a IN ${ids} OR b IN ${ids})`);
    await deleteWhere(ch, 'identities', `workspace_id = ${lit(ws)} AND id IN ${ids}`);
    onKeys(keys);
  }
  const now = new Date().toISOString();
  // The mutations rewrote the parts that held the rows: erased as the job is done.
  await writeDoc(ch, 'deletion', jobId, ws, {
    ...job,
    subject: null,
    status: 'done',
    startedAt,
    finishedAt: now,
    erasedAt: now,
    eventsDeleted,
    idsDeleted,
  });
}

/** A workspace's rows: every table a load writes, and its plans. */
const WORKSPACE_TABLES = [...SEQ_TABLES, 'plans'];

export async function deleteWorkspace(ch: ClickHouse, id: string): Promise<boolean> {
  const found = (await readDocs(ch, 'workspace', { id })).length > 0;
  for (const table of WORKSPACE_TABLES) await deleteWhere(ch, table, `workspace_id = ${lit(id)}`);
  await dropClaims(ch, id);
  for (const kind of ['key', 'deletion'] as const) {
    for (const d of await readDocs(ch, kind, { workspaceId: id }))
      await writeDoc(ch, kind, d.id, id, d.value, true);
  }
  if (found) await writeDoc(ch, 'workspace', id, id, {}, true);
  return found;
}
