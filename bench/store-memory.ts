// The store's memory under loads alone (no HTTP): segments written and loaded back to back (bench/capacity.ts)
// in a child process per variant of the store's options, alternated, with the process's RSS and DuckDB's
// buffer manager (duckdb_memory()) sampled every 100 ms, and the load's CPU per event.
//   npx tsx bench/store-memory.ts [--events 600000] [--seconds 120] [--rounds 2] [--segment 5000] --variant '{}' --variant '{"checkpointRows":61440}'
import { subscribe } from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { DuckDBStoreOptions } from '../src/store/duckdb/index.ts';
import { storeCapacity } from './capacity.ts';
import { lastLineOf } from './procs.ts';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '120' },
    rounds: { type: 'string', default: '2' },
    segment: { type: 'string', default: '5000' },
    events: { type: 'string', default: '600000' },
    variant: { type: 'string', multiple: true, default: ['{}'] },
    child: { type: 'string' },
  },
});

const MB = 2 ** 20;
const rssMB = () => (Number(readFileSync('/proc/self/statm', 'utf8').split(' ')[1]) * 4096) / MB;

if (args.child) {
  const opts = JSON.parse(args.child) as Omit<DuckDBStoreOptions, 'dataDir'>;
  let store: { memory(): Promise<{ byTag: Record<string, number>; temporary: number }> } | null = null;
  const t0 = performance.now();
  const at = () => `${((performance.now() - t0) / 1000).toFixed(2)} s`;
  subscribe('intake:duckdb-store', (s) => {
    store = s as typeof store;
    if (!process.env.STORE_MEMORY_TRACE) return;
    // Traced: when each of the store's CHECKPOINTs runs (checkpointWhenDue returns at once when none is due).
    const st = s as { checkpointWhenDue(rows: number): Promise<void> };
    const due = st.checkpointWhenDue.bind(st);
    st.checkpointWhenDue = async (rows) => {
      const from = at();
      const before = performance.now();
      await due(rows);
      if (performance.now() - before > 20) process.stderr.write(`  CHECKPOINT from ${from} to ${at()}\n`);
    };
  });
  let peak = { rss: 0, duck: 0, heap: 0, tags: {} as Record<string, number> };
  let maxDuck = 0;
  let maxTemp = 0;
  let asking = false;
  const timer = setInterval(
    () => {
      if (!store || asking) return;
      asking = true;
      store
        .memory()
        .then((m) => {
          const rss = rssMB();
          const duck = Object.values(m.byTag).reduce((a, b) => a + b, 0) / MB;
          maxDuck = Math.max(maxDuck, duck);
          maxTemp = Math.max(maxTemp, m.temporary / MB);
          if (process.env.STORE_MEMORY_TRACE) {
            const c = (store as unknown as { checkpoints: { count: number } }).checkpoints.count;
            const t = Object.entries(m.byTag)
              .filter(([, b]) => b >= MB)
              .map(([k, b]) => `${k} ${Math.round(b / MB)}`)
              .join(', ');
            process.stderr.write(`  ${at()} rss ${Math.round(rssMB())} checkpoints ${c}: ${t}\n`);
          }
          if (rss > peak.rss) peak = { rss, duck, heap: process.memoryUsage().heapTotal / MB, tags: m.byTag };
        })
        .catch(() => {})
        .finally(() => {
          asking = false;
        });
    },
    process.env.STORE_MEMORY_TRACE ? 20 : 100,
  );
  const [row] = await storeCapacity([Number(args.segment)], Number(args.seconds), opts, {
    maxEvents: Number(args.events),
  });
  clearInterval(timer);
  const tags = Object.fromEntries(
    Object.entries(peak.tags)
      .filter(([, b]) => b >= MB)
      .map(([k, b]) => [k, Math.round(b / MB)]),
  );
  process.stdout.write(
    `${JSON.stringify({ ...row, sampledPeakRssMB: Math.round(peak.rss), duckAtPeakMB: Math.round(peak.duck), heapAtPeakMB: Math.round(peak.heap), maxDuckMB: Math.round(maxDuck), maxTempMB: Math.round(maxTemp), tags })}\n`,
  );
  process.exit(0);
}

const variants = args.variant as string[];
const runs: Array<{ v: string; r: Record<string, unknown> }> = [];
for (let round = 0; round < Number(args.rounds); round++) {
  for (let i = 0; i < variants.length; i++) {
    const v = variants[(i + round) % variants.length] as string;
    const out = await lastLineOf('bench/store-memory.ts', [
      '--child',
      v,
      '--seconds',
      args.seconds as string,
      '--segment',
      args.segment as string,
      '--events',
      args.events as string,
    ]);
    const r = JSON.parse(out) as Record<string, unknown>;
    runs.push({ v, r });
    process.stdout.write(
      `round ${round + 1} ${v}: ${r.eventsPerSec} events/s, load CPU ${r.loadCpuUsPerEvent} µs/event (checkpoint ${r.checkpointCpuUsPerEvent}, ${r.checkpoints}), ` +
        `peak RSS ${r.peakRssMB} MB (sampled ${r.sampledPeakRssMB}: DuckDB ${r.duckAtPeakMB} ${JSON.stringify(r.tags)}, heap ${r.heapAtPeakMB}), max DuckDB ${r.maxDuckMB} MB (temporary files ${r.maxTempMB} MB), file ${r.fileBytesPerEvent} B/event\n`,
    );
  }
}
