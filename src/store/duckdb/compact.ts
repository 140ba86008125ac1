// Physical erasure of deleted rows: a copy of the database in a new file, swapped in for the old one.
// DuckDB marks deleted rows in their row group and neither zeroes freed blocks nor trims them, so DELETE and
// CHECKPOINT leave a deleted row's bytes in the file (test/store/duckdb-erasure.test.ts). Measured on DuckDB
// 1.5.6 (strings stored uncompressed so they can be found): deleted rows' strings were still in the file after
// DELETE, CHECKPOINT and close; deleting every row of the row group that held one and appending the survivors
// again dropped the group, but its blocks were only freed: the string was still in the file in 8 of 8 runs
// (300k and 1M rows) and overwritten by chance in another layout, so no guarantee. A copy (COPY FROM DATABASE)
// holds only live rows, and the old file is gone once the copy is renamed over it.
import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Db } from './db.ts';

/** The name the copy is attached under while it is written. */
const COPY = 'intake_purge';

const quote = (s: string) => `'${s.replaceAll("'", "''")}'`;
const ident = (s: string) => `"${s.replaceAll('"', '""')}"`;

export interface Copy {
  /** The copy's file, beside the database. */
  path: string;
  /** The name of the database copied, to switch the connection back to it. */
  main: string;
}

/**
 * Copies the open database into a fresh file beside `path`, as of one snapshot (other connections go on
 * reading and writing), and leaves `db`'s connection using the copy, so statements run on it change the copy.
 */
export async function startCopy(db: Db, path: string): Promise<Copy> {
  const copy = { path: copyPath(path), main: '' };
  removeFiles(copy.path);
  copy.main = String((await db.all('SELECT current_database() AS name'))[0]?.name);
  await db.run(`ATTACH ${quote(copy.path)} AS ${COPY}`);
  try {
    await db.run(`COPY FROM DATABASE ${ident(copy.main)} TO ${COPY}`);
    await db.run(`USE ${COPY}`);
  } catch (err) {
    await dropCopy(db, copy);
    throw err;
  }
  return copy;
}

/**
 * Checkpoints the copy and, if no write is in the way, the database: done before the swap, so the checkpoints
 * that must run with every call held back have only what came since.
 */
export async function checkpointCopy(db: Db, copy: Copy): Promise<void> {
  await db.run(`CHECKPOINT ${COPY}`);
  await db.run(`CHECKPOINT ${ident(copy.main)}`).catch(() => {}); // a load in flight may refuse it
}

/** Checkpoints and detaches the copy: its file then holds all of it. */
export async function finishCopy(db: Db, copy: Copy): Promise<void> {
  await db.run(`CHECKPOINT ${COPY}`);
  await db.run(`USE ${ident(copy.main)}`);
  await db.run(`DETACH ${COPY}`);
  if (walBytes(copy.path) > 0) throw new Error(`${copy.path}.wal is not empty after the checkpoint`);
  rmSync(`${copy.path}.wal`, { force: true });
}

/** Gives up a copy (a failed purge): detaches it if attached and removes its files. */
export async function dropCopy(db: Db, copy: Copy): Promise<void> {
  await db.run(`USE ${ident(copy.main)}`).catch(() => {});
  await db.run(`DETACH DATABASE IF EXISTS ${COPY}`).catch(() => {});
  removeFiles(copy.path);
}

/**
 * Moves the copy over the database file (the database must be closed after a checkpoint) and makes the
 * rename durable. A WAL left with content would be replayed onto the copy, so it stops the swap instead.
 */
export function replaceDatabase(copy: string, path: string): void {
  if (walBytes(path) > 0) throw new Error(`${path}.wal is not empty: the database was not checkpointed`);
  rmSync(`${path}.wal`, { force: true });
  renameSync(copy, path);
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/** Removes a copy a purge left behind when the process stopped during it (the database was not swapped). */
export function removeCopy(path: string): void {
  removeFiles(copyPath(path));
}

const copyPath = (path: string) => `${path}.compact`;

/** The database file's size with its WAL, in bytes. */
export function fileBytes(path: string): number {
  return (existsSync(path) ? statSync(path).size : 0) + walBytes(path);
}

export const walBytes = (path: string): number =>
  existsSync(`${path}.wal`) ? statSync(`${path}.wal`).size : 0;

function removeFiles(path: string): void {
  rmSync(path, { force: true });
  rmSync(`${path}.wal`, { force: true });
}
