// The query benchmarks' data set: synthetic Segment track events and their users' identities, written by the
// bulk path (src/store/duckdb/bulk.ts) into a database the real server created. Building 10M events takes
// minutes, so `--query-data <dir>` keeps it in a directory and later runs reuse it when its size matches.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { EVENT_NAMES, loadSyntheticEvents, loadSyntheticIdentities } from '../src/store/duckdb/bulk.ts';
import { startIntake } from './procs.ts';

export interface Dataset {
  dir: string;
  file: string;
  workspaceId: string;
  events: number;
  users: number;
  days: number;
  /** The events spread over the `days` before this time. */
  end: Date;
  /** Seconds the bulk load took when it was built. */
  loadSeconds: number;
  /** False when an earlier run's data set was reused. */
  built: boolean;
  /** Removes the directory, unless it was given to be kept. */
  done(): void;
}

const MARK = 'bench-dataset.json';

export async function queryDataset(opts: {
  /** Where to keep the data set between runs; absent: a temporary directory, removed by done(). */
  dir?: string;
  events: number;
  users: number;
  days: number;
  log(line: string): void;
}): Promise<Dataset> {
  const keep = opts.dir !== undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'intake-bench-q-'));
  const file = join(dir, 'intake.duckdb');
  const done = () => {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  };
  const mark = join(dir, MARK);
  if (existsSync(mark)) {
    const m = JSON.parse(readFileSync(mark, 'utf8')) as Omit<Dataset, 'end' | 'done' | 'built'> & {
      end: string;
    };
    if (m.events === opts.events && m.users === opts.users && m.days === opts.days && existsSync(file)) {
      opts.log(`  reusing the data set in ${dir} (built in ${m.loadSeconds} s)`);
      return { ...m, dir, file, end: new Date(m.end), built: false, done };
    }
    opts.log(`  ${dir} holds another data set (${m.events} events): building it again`);
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const end = new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000);
  // 1. The real server creates the file, its tables and the bench workspace; 2. the bulk path fills it.
  const first = await startIntake(dir);
  await first.stop();
  const instance = await DuckDBInstance.create(file, { memory_limit: '2GB', threads: '2' });
  const conn = await instance.connect();
  try {
    const ws = (await conn.runAndReadAll('SELECT id FROM workspaces LIMIT 1')).getRowObjectsJS()[0]
      ?.id as string;
    const t0 = performance.now();
    await loadSyntheticEvents(conn, {
      workspaceId: ws,
      events: opts.events,
      users: opts.users,
      eventNames: EVENT_NAMES,
      days: opts.days,
      end,
      onProgress: (n) =>
        opts.log(
          `  loaded ${n.toLocaleString('en')} events (${Math.round((performance.now() - t0) / 1000)} s)`,
        ),
    });
    await conn.run('CHECKPOINT');
    const loadSeconds = Math.round((performance.now() - t0) / 100) / 10;
    await loadSyntheticIdentities(conn, { workspaceId: ws, users: opts.users });
    await conn.run('CHECKPOINT');
    const m = { workspaceId: ws, events: opts.events, users: opts.users, days: opts.days, end, loadSeconds };
    writeFileSync(mark, `${JSON.stringify({ ...m, file, dir }, null, 2)}\n`);
    return { ...m, dir, file, built: true, done };
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}
