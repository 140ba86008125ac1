// What each statement of a segment's load costs: the store's loads alone in this process (bench/capacity.ts,
// nothing else running), every statement the writer runs timed with process.cpuUsage (all threads) and wall
// time, grouped by what it does; the rest of a load's CPU (its JavaScript between statements: the profile step,
// the dictionary's appenders) is shown as the remainder. Then the floor on the same segment files (bench/cost.ts:
// read_json + INSERT + COMMIT on a bare instance, the events table only), with 1 thread and with 2 as the store.
//   npx tsx bench/load-statements.ts [--segment 10000] [--events 400000] [--seconds 120]

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDBPreparedStatement } from '@duckdb/node-api';
import { Db } from '../src/store/duckdb/db.ts';
import { storeCapacity } from './capacity.ts';
import { duckdbFloor } from './cost.ts';

const { values: args } = parseArgs({
  options: {
    segment: { type: 'string', default: '10000' },
    events: { type: 'string', default: '400000' },
    seconds: { type: 'string', default: '120' },
    settings: { type: 'string', default: '{}' },
  },
});

/** The kind of a statement, from its text. */
export function kindOf(sql: string): string {
  const s = sql.replace(/\s+/g, ' ').trim();
  const rules: Array<[RegExp, string]> = [
    [/^BEGIN/, 'BEGIN'],
    [/^COMMIT/, 'COMMIT'],
    [/^CHECKPOINT/, 'CHECKPOINT (store, every ~122,880 rows)'],
    [/^INSERT INTO events/, 'events: INSERT from read_json'],
    [/^INSERT INTO rejected/, 'rejected: INSERT'],
    [/^INSERT INTO user_index/, 'user index: append'],
    [/^MERGE INTO dictionary_days/, 'dictionary: MERGE days'],
    [/^MERGE INTO dictionary_paths/, 'dictionary: MERGE paths'],
    [/dictionary_in_/, 'dictionary: clear inputs'],
    [/ingest_log/, 'ingest_log bookkeeping'],
    [/identities|identity_refusals/, 'profiles: identities'],
    [/persons/, 'profiles: persons'],
    [/group_/, 'profiles: groups'],
  ];
  for (const [re, k] of rules) if (re.test(s)) return k;
  return `other: ${s.slice(0, 60)}`;
}

const stats = new Map<string, { n: number; cpu: number; wall: number; main: number }>();
// The main thread's own CPU time (µs): what a load takes from the event loop.
const SCHEDSTAT = `/proc/self/task/${process.pid}/schedstat`;
const mainCpu = () => Number(readFileSync(SCHEDSTAT, 'utf8').split(' ')[0]) / 1000;
let inLoad = false;
/** Statements in flight: only the outermost is timed (the driver's run with parameters prepares and runs one). */
let depth = 0;
const cpu = () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};
function timed<A extends unknown[], R>(
  label: (self: unknown, a: A) => string,
  f: (...a: A) => Promise<R>,
): (...a: A) => Promise<R> {
  return async function (this: unknown, ...a: A): Promise<R> {
    if (!inLoad || depth > 0) return f.apply(this, a);
    const k = label(this, a);
    const c0 = cpu();
    const m0 = mainCpu();
    const t0 = performance.now();
    depth++;
    try {
      return await f.apply(this, a);
    } finally {
      depth--;
      const s = stats.get(k) ?? { n: 0, cpu: 0, wall: 0, main: 0 };
      s.n++;
      s.cpu += cpu() - c0;
      s.main += mainCpu() - m0;
      s.wall += performance.now() - t0;
      stats.set(k, s);
    }
  };
}

// The writer's statements: Db.run / Db.all, and the dictionary's prepared ones (the SQL kept on the side).
const sqlOf = new WeakMap<object, string>();
const proto = Db.prototype as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
for (const m of ['run', 'all'] as const) {
  const f = proto[m] as (...a: unknown[]) => Promise<unknown>;
  proto[m] = timed((_self, a) => kindOf(String(a[0])), f);
}
const prep = DuckDBPreparedStatement.prototype as unknown as { run: (...a: unknown[]) => Promise<unknown> };
prep.run = timed((self) => kindOf(sqlOf.get(self as object) ?? '?'), prep.run);
const connProto = (await import('@duckdb/node-api')).DuckDBConnection.prototype as unknown as {
  prepare: (sql: string) => Promise<object>;
};
const prepare = connProto.prepare;
connProto.prepare = async function (this: unknown, sql: string) {
  const p = await prepare.call(this, sql);
  sqlOf.set(p, sql);
  return p;
};

// The whole of each load: the store's sink.load, found through the probe channel as the store opens.
const { subscribe } = await import('node:diagnostics_channel');
let total = { n: 0, cpu: 0, wall: 0, main: 0 };
subscribe('intake:duckdb-store', (s) => {
  const sink = (s as { sink: { load: (b: unknown) => Promise<void> } }).sink;
  const load = sink.load;
  sink.load = async (b) => {
    inLoad = true;
    const c0 = cpu();
    const m0 = mainCpu();
    const t0 = performance.now();
    try {
      await load(b);
    } finally {
      total = {
        n: total.n + 1,
        cpu: total.cpu + cpu() - c0,
        wall: total.wall + performance.now() - t0,
        main: total.main + mainCpu() - m0,
      };
      inLoad = false;
    }
  };
});

const kept = mkdtempSync(join(tmpdir(), 'intake-load-statements-'));
const [row] = await storeCapacity(
  [Number(args.segment)],
  Number(args.seconds),
  { settings: JSON.parse(args.settings as string) as Record<string, string> },
  { maxEvents: Number(args.events), keepSegments: kept },
);
const events = (row?.loads ?? 0) * Number(args.segment);
const us = (x: number) => (x / events).toFixed(2);
process.stdout.write(`${row?.loads} loads of ${args.segment} events; per event:\n`);
process.stdout.write(
  `| statement | count | CPU µs/event (all threads) | of it the main thread | wall µs/event |\n|:--|--:|--:|--:|--:|\n`,
);
let sumCpu = 0;
let sumWall = 0;
let sumMain = 0;
for (const [k, s] of [...stats].sort((a, b) => b[1].cpu - a[1].cpu)) {
  sumCpu += s.cpu;
  sumWall += s.wall * 1000;
  sumMain += s.main;
  process.stdout.write(`| ${k} | ${s.n} | ${us(s.cpu)} | ${us(s.main)} | ${us(s.wall * 1000)} |\n`);
}
process.stdout.write(
  `| rest (between statements: profile step, dictionary appenders, DuckDB's background) | | ${us(total.cpu - sumCpu)} | ${us(total.main - sumMain)} | ${us(total.wall * 1000 - sumWall)} |\n`,
);
process.stdout.write(
  `| load, all | ${total.n} | ${us(total.cpu)} | ${us(total.main)} | ${us(total.wall * 1000)} |\n`,
);
const files = readdirSync(kept)
  .filter((f) => !f.endsWith('.duckdb') && !f.endsWith('.wal'))
  .sort()
  .map((f) => join(kept, f));
for (const threads of [1, 2]) {
  const f = await duckdbFloor(files, kept, true, threads);
  process.stdout.write(
    `| floor, threads=${threads}: read_json + INSERT + COMMIT | ${files.length} | ${f.duckdbLoadUs.toFixed(2)} | | |\n` +
      `| floor, threads=${threads}: CHECKPOINT per row group | | ${f.duckdbCheckpointUs.toFixed(2)} | | |\n`,
  );
}
rmSync(kept, { recursive: true, force: true });
