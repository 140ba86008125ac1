// The events table's user_key: a 32-bit hash of (workspace, the id an event belongs to: its userId, else its
// anonymousId), so reads by user filter on a 4-byte integer instead of comparing the user_id text of every row.
//
// Measured on the 10M-event / 1M-user bench set (bench/layout.ts, README "Benchmarks"): a scan of user_key and
// then of the few rows it matches answers `GET /events?userId=` several times faster than a scan of user_id
// (string compares, and every column's blocks pinned), at 4 B/event, with the rows left in arrival order so time
// ranges, time-ordered pages and the export keep their zone maps. Keeping rows sorted by user instead (runs
// rewritten in the background) cost ~14 µs of CPU per event and made time-ordered reads several times slower;
// a side table sorted by user answered as fast but needed a second write per load and its own compaction: that
// is the user index (user-index.ts), kept small (the key and the receive time) so the reads by user scan the
// key only in the receive-time ranges it names.
//
// The key narrows, it does not decide: every read filters on the ids themselves as well, so a collision (two ids
// with one key: ~1 in 4 billion per pair) costs a few extra rows read, never a wrong answer. DuckDB's hash() is
// ~15x cheaper than md5 at load time (a 20k-event load: +0% vs +13% CPU) but is not promised stable across
// DuckDB versions, so the store checks it at open (checkUserKeys) and recomputes the column when it changed.
import { listValue } from '@duckdb/node-api';
import type { Db } from './db.ts';

/** The key of (workspace, id), both SQL expressions of type VARCHAR. */
export const userKeySql = (workspace: string, id: string): string =>
  `(hash(${workspace}, ${id}) % 4294967296)::UINTEGER`;

/** A row's key, over the events table's own columns. */
export const ROW_USER_KEY = userKeySql('workspace_id', 'coalesce(user_id, anonymous_id)');

/** The filter `user_key = key(?, ?)`: bind the workspace, then the id. */
export const USER_KEY_FILTER = `user_key = ${userKeySql('?::VARCHAR', '?::VARCHAR')}`;

/** Inputs whose keys are recorded with the keys' version: a DuckDB whose hash() differs shows on one of them. */
const PROBES: Array<[string, string]> = [
  ['', ''],
  ['w', 'u'],
  ['0195a7c2-7d1e-7b3f-9c5e-2f4d6a8b0c1e', 'user-42'],
  ['workspace', 'a much longer id, past any inline-string or short-string path: ü € 😀 and some more text'],
];

async function probeKeys(db: Db): Promise<string> {
  const rows = await db.all(
    `SELECT list(${userKeySql('w', 'u')} ORDER BY i)::VARCHAR AS keys
     FROM (SELECT unnest(?::VARCHAR[]) AS w, unnest(?::VARCHAR[]) AS u, unnest(range(?)) AS i)`,
    [listValue(PROBES.map((p) => p[0])), listValue(PROBES.map((p) => p[1])), PROBES.length],
  );
  return String(rows[0]?.keys);
}

/**
 * Makes every row's user_key what this DuckDB computes: at the first open of a database made before the column
 * (it is added empty) and after an upgrade that changed hash(), the column is recomputed, then declared NOT
 * NULL, so an insert that forgets it fails instead of hiding rows from reads by user. Returns rows rewritten.
 */
export async function checkUserKeys(db: Db): Promise<number> {
  const probes = await probeKeys(db);
  const stored = await db.all("SELECT value FROM store_meta WHERE name = 'user_key_probes'");
  if (stored[0]?.value === probes) return 0;
  await db.run('BEGIN TRANSACTION');
  try {
    const n = await db.run(
      `UPDATE events SET user_key = ${ROW_USER_KEY} WHERE user_key IS DISTINCT FROM ${ROW_USER_KEY}`,
    );
    await fillIdentityKeys(db, true);
    await db.run(`INSERT OR REPLACE INTO store_meta VALUES ('user_key_probes', ?)`, [probes]);
    await db.run('COMMIT');
    const col = await db.all(
      "SELECT is_nullable FROM information_schema.columns WHERE table_name = 'events' AND column_name = 'user_key'",
    );
    if (col[0]?.is_nullable === 'YES') await db.run('ALTER TABLE events ALTER COLUMN user_key SET NOT NULL');
    return n;
  } catch (err) {
    await db.run('ROLLBACK').catch(() => {});
    throw err;
  }
}

const ID_KEY = userKeySql('workspace_id', 'id');
const PERSON_KEY = userKeySql('workspace_id', 'person_id');

/**
 * Computes the identities' id_key and person_key where they are missing (rows written around the store: the
 * bench's synthetic identities), or, with `all`, wherever they differ from this DuckDB's (after hash() changed).
 * Returns rows written.
 */
export async function fillIdentityKeys(db: Db, all = false): Promise<number> {
  const stale = all
    ? `id_key IS DISTINCT FROM ${ID_KEY} OR person_key IS DISTINCT FROM ${PERSON_KEY}`
    : 'id_key IS NULL OR person_key IS NULL';
  return db.run(`UPDATE identities SET id_key = ${ID_KEY}, person_key = ${PERSON_KEY} WHERE ${stale}`);
}

/** The filter keeping the identities row of `id` (bind the workspace, then the id): its key, then the id. */
export const IDENTITY_OF = `id_key = ${userKeySql('$1::VARCHAR', '$2::VARCHAR')} AND workspace_id = $1 AND id = $2`;
