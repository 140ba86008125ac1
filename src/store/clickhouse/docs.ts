// Workspaces, keys and deletion jobs as versioned JSON documents (schema.ts `docs`): a change is a new version,
// the latest is read (argMax). Small tables, read whole; ClickHouse has no UPDATE but an asynchronous mutation.
import { type ClickHouse, lit } from './http.ts';

export type DocKind = 'workspace' | 'key' | 'deletion';

/** Versions: microseconds of the writer's clock, never going back within a process. */
let lastVersion = 0;
export function nextVersion(): number {
  lastVersion = Math.max(lastVersion + 1, Date.now() * 1000);
  return lastVersion;
}

export interface Doc<T> {
  id: string;
  workspaceId: string;
  value: T;
  version: number;
}

/** The latest version of each live document of `kind`, or of the one `id`, or of a workspace's. */
export async function readDocs<T>(
  ch: ClickHouse,
  kind: DocKind,
  only: { id?: string; workspaceId?: string } = {},
): Promise<Doc<T>[]> {
  const where = [
    only.id === undefined ? '' : ` AND id = ${lit(only.id)}`,
    only.workspaceId === undefined ? '' : ` AND w = ${lit(only.workspaceId)}`,
  ].join('');
  const rows = await ch.rows(
    // Aggregates get aliases of their own: ClickHouse reads an alias named like a column in place of it.
    `SELECT id, w AS workspace_id, d AS doc, v AS version FROM (
       SELECT id, argMax(workspace_id, version) AS w, argMax(doc, version) AS d,
         argMax(deleted, version) AS del, max(version) AS v
       FROM docs WHERE kind = ${lit(kind)} GROUP BY id
     ) WHERE del = 0${where}`,
  );
  return rows.map((r) => ({
    id: String(r.id),
    workspaceId: String(r.workspace_id),
    value: JSON.parse(String(r.doc)) as T,
    version: Number(r.version),
  }));
}

export async function writeDoc(
  ch: ClickHouse,
  kind: DocKind,
  id: string,
  workspaceId: string,
  value: unknown,
  deleted = false,
): Promise<void> {
  await ch.insert('docs', [
    {
      kind,
      id,
      workspace_id: workspaceId,
      doc: JSON.stringify(value),
      deleted: deleted ? 1 : 0,
      version: nextVersion(),
    },
  ]);
}

/** The largest version of the kinds given: changes whenever one of their documents does. */
export async function maxVersion(ch: ClickHouse, kinds: DocKind[]): Promise<number> {
  const rows = await ch.rows(
    `SELECT max(version) AS v FROM docs WHERE kind IN (${kinds.map(lit).join(', ')})`,
  );
  return Number(rows[0]?.v ?? 0);
}
