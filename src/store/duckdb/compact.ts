// Physical erasure. DuckDB neither zeroes freed blocks nor rewrites a row group for a few deleted rows, so
// after DELETE and CHECKPOINT a deleted row's bytes can stay in the file. Copying the database into a new
// file (COPY FROM DATABASE) and swapping it in leaves them nowhere. The store runs it with every other call
// held back by the Gate.
import { closeSync, fsyncSync, openSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Db } from './db.ts';

/** A readers-writer gate: store calls share it; the swap of the database file takes it alone. */
export class Gate {
  private readers = 0;
  private writer: Promise<void> | null = null;
  private drained: (() => void) | null = null;

  async shared<T>(fn: () => Promise<T>): Promise<T> {
    while (this.writer) await this.writer;
    this.readers++;
    try {
      return await fn();
    } finally {
      this.readers--;
      if (this.readers === 0) this.drained?.();
    }
  }

  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (this.writer) await this.writer;
    let release = () => {};
    this.writer = new Promise<void>((r) => {
      release = r;
    });
    try {
      if (this.readers > 0) await new Promise<void>((r) => (this.drained = r));
      this.drained = null;
      return await fn();
    } finally {
      this.writer = null;
      release();
    }
  }
}

/** Every own method of `target` (arrow-function fields) runs inside gate.shared, except those in `skip`. */
export function gateMethods(target: object, gate: Gate, skip: string[]): void {
  const t = target as Record<string, unknown>;
  for (const key of Object.keys(t)) {
    const fn = t[key];
    if (typeof fn !== 'function' || skip.includes(key)) continue;
    t[key] = (...args: unknown[]) =>
      gate.shared(() => (fn as (...a: unknown[]) => Promise<unknown>)(...args));
  }
}

const quote = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** Writes a copy of the open database at `path` beside it; returns the copy's path. */
export async function copyDatabase(db: Db, path: string): Promise<string> {
  const copy = `${path}.compact`;
  rmSync(copy, { force: true });
  rmSync(`${copy}.wal`, { force: true });
  await db.run('CHECKPOINT');
  const name = String((await db.all('SELECT current_database() AS name'))[0]?.name);
  await db.run(`ATTACH ${quote(copy)} AS intake_compact`);
  try {
    await db.run(`COPY FROM DATABASE "${name.replaceAll('"', '""')}" TO intake_compact`);
  } finally {
    await db.run('DETACH intake_compact');
  }
  return copy;
}

/** Moves the copy over the database file (the database must be closed) and makes the rename durable. */
export function replaceDatabase(copy: string, path: string): void {
  rmSync(`${path}.wal`, { force: true }); // empty after the checkpoint and a clean close
  renameSync(copy, path);
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
