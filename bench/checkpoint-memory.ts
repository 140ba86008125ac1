// DuckDB's in-memory table around each CHECKPOINT, on a bare instance with the store's schema and load statement:
// the segment files of a capacity run (bench/capacity.ts, loaded into a store once to make them) are loaded
// again, one transaction each, into a new database opened with the store's settings plus the variant's, with a
// CHECKPOINT once `--every` rows were loaded; duckdb_memory() is read every 20 ms from a second connection.
// Prints per variant (a child process each, alternated over rounds) the largest IN_MEMORY_TABLE outside the
// checkpoints and inside each one, the row groups of the events table at the end, peak RSS, and CPU per event.
//   npx tsx bench/checkpoint-memory.ts [--events 400000] [--segment 5000] [--every 122880] [--rounds 2] \
//     --variant '{}' --variant '{"max_vacuum_tasks":"100"}'
// Issue 11: with the vacuum (max_vacuum_tasks 100, DuckDB's default) every checkpoint but the first copied the
// previous checkpoint's partial row group and the rows after it into new in-memory row groups (89 -> 173 MB).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { Db } from '../src/store/duckdb/db.ts';
import { loadFileSql } from '../src/store/duckdb/load.ts';
import { MIGRATIONS } from '../src/store/duckdb/schema.ts';
import { storeCapacity } from './capacity.ts';
import { lastLineOf } from './procs.ts';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '400000' },
    segment: { type: 'string', default: '5000' },
    every: { type: 'string', default: '122880' },
    rounds: { type: 'string', default: '2' },
    variant: { type: 'string', multiple: true, default: ['{}'] },
    child: { type: 'string' },
    segments: { type: 'string' },
  },
});

const MB = 2 ** 20;
const rssMB = () => (Number(readFileSync('/proc/self/statm', 'utf8').split(' ')[1]) * 4096) / MB;

if (args.child) {
  const settings = JSON.parse(args.child) as Record<string, string>;
  const segDir = args.segments as string;
  const dir = mkdtempSync(join(tmpdir(), 'intake-bench-ckmem-'));
  // The store's settings (index.ts connect), then the variant's.
  const instance = await DuckDBInstance.create(join(dir, 'intake.duckdb'), {
    memory_limit: '256MB',
    checkpoint_threshold: '128MB',
    threads: '2',
    allocator_flush_threshold: '16MB',
    allocator_background_threads: 'true',
    max_vacuum_tasks: '0',
    ...settings,
  });
  const writer = new Db(await instance.connect(), { background: true });
  const probe = new Db(await instance.connect());
  for (const m of MIGRATIONS) await writer.run(m);
  let inCheckpoint = false;
  let current = 0;
  let outside = 0;
  let asking = false;
  const timer = setInterval(() => {
    if (asking) return;
    asking = true;
    probe
      .all("SELECT memory_usage_bytes AS b FROM duckdb_memory() WHERE tag = 'IN_MEMORY_TABLE'")
      .then((rows) => {
        const mb = Math.round(Number(rows[0]?.b ?? 0) / MB);
        if (inCheckpoint) current = Math.max(current, mb);
        else outside = Math.max(outside, mb);
      })
      .finally(() => {
        asking = false;
      });
  }, 20);
  const inside: number[] = [];
  let pending = 0;
  let total = 0;
  let seq = 0;
  let checkpointCpu = 0;
  const c0 = process.cpuUsage();
  for (const f of readdirSync(segDir).sort()) {
    if (total >= Number(args.events)) break;
    await writer.run('BEGIN TRANSACTION');
    const n = await writer.run(loadFileSql(join(segDir, f)));
    seq++;
    if (seq > 1) await writer.run('UPDATE ingest_log SET loaded_through = ?', [seq]);
    else await writer.run('INSERT INTO ingest_log VALUES (?)', [seq]);
    await writer.run('COMMIT');
    pending += n;
    total += n;
    if (pending >= Number(args.every)) {
      inCheckpoint = true;
      current = 0;
      const c = process.cpuUsage();
      await writer.run('CHECKPOINT');
      const used = process.cpuUsage(c);
      checkpointCpu += used.user + used.system;
      await new Promise((r) => setTimeout(r, 40)); // one more sample of the end
      inCheckpoint = false;
      inside.push(current);
      pending = 0;
    }
  }
  clearInterval(timer);
  const cpu = process.cpuUsage(c0);
  const groups = await probe.all(
    `SELECT sum(count)::INTEGER AS n FROM pragma_storage_info('events')
     WHERE column_id = 0 AND column_path = '[0]' GROUP BY row_group_id ORDER BY row_group_id`,
  );
  const hwm = Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) / 1024;
  process.stdout.write(
    `${JSON.stringify({
      events: total,
      inMemoryTableOutsideMB: outside,
      inMemoryTableInEachCheckpointMB: inside,
      rowGroups: groups.map((g) => g.n),
      peakRssMB: Math.round(hwm),
      rssAtEndMB: Math.round(rssMB()),
      cpuUsPerEvent: Number(((cpu.user + cpu.system) / total).toFixed(1)),
      checkpointCpuUsPerEvent: Number((checkpointCpu / total).toFixed(1)),
    })}\n`,
  );
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

// The segment files, made once by a store's capacity run.
const segDir = mkdtempSync(join(tmpdir(), 'intake-bench-ckmem-segs-'));
try {
  mkdirSync(segDir, { recursive: true });
  await storeCapacity(
    [Number(args.segment)],
    600,
    {},
    { keepSegments: segDir, maxEvents: Number(args.events) },
  );
  const variants = args.variant as string[];
  for (let round = 0; round < Number(args.rounds); round++) {
    for (let i = 0; i < variants.length; i++) {
      const v = variants[(i + round) % variants.length] as string;
      const out = await lastLineOf('bench/checkpoint-memory.ts', [
        '--child',
        v,
        '--segments',
        segDir,
        '--events',
        args.events as string,
        '--every',
        args.every as string,
      ]);
      process.stdout.write(`round ${round + 1} ${v}: ${out}\n`);
    }
  }
} finally {
  rmSync(segDir, { recursive: true, force: true });
}
