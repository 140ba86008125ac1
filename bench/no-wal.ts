// The store's loads with and without DuckDB's WAL, in one process: the same segment files loaded into two
// stores opened side by side (walWrites true / false), alternated segment by segment, the first of each pair
// swapped every segment; CPU of the whole process (all threads) around each sink.load, the store's own
// CHECKPOINTs included (same cadence in both). The segment files come from one run of bench/capacity.ts.
//   npx tsx bench/no-wal.ts [--segment 10000] [--events 400000] [--rounds 3]
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KeySet } from '../src/ingest/file/keyset.ts';
import { type Segment, SegmentLog } from '../src/ingest/file/segments.ts';
import { DuckDBStore } from '../src/store/duckdb/index.ts';
import { storeCapacity } from './capacity.ts';

const { values: args } = parseArgs({
  options: {
    segment: { type: 'string', default: '10000' },
    events: { type: 'string', default: '400000' },
    rounds: { type: 'string', default: '3' },
  },
});

const kept = mkdtempSync(join(tmpdir(), 'intake-no-wal-'));
const segs = join(kept, 'segments');
mkdirSync(segs);
await storeCapacity([Number(args.segment)], 600, {}, { maxEvents: Number(args.events), keepSegments: segs });
const cpu = () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};

async function open(name: string, walWrites: boolean) {
  const dir = join(kept, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  cpSync(segs, join(dir, 'log'), { recursive: true });
  const store = await DuckDBStore.open({ dataDir: dir, walWrites });
  const { unloaded } = SegmentLog.open(
    { dir: join(dir, 'log'), dedupe: new KeySet(), queueLimit: Number.MAX_SAFE_INTEGER, segmentLines: 1e9 },
    await store.sink.checkpoint(),
  );
  return { store, unloaded, cpu: 0, events: 0, ck: 0 };
}

const variants = ['wal', 'no-wal'] as const;
const totals = { wal: [] as number[], 'no-wal': [] as number[] };
for (let round = 0; round < Number(args.rounds); round++) {
  const v = { wal: await open('wal', true), 'no-wal': await open('no-wal', false) };
  const n = v.wal.unloaded.length;
  for (let i = 0; i < n; i++) {
    const order = (i + round) % 2 === 0 ? variants : ([...variants].reverse() as (typeof variants)[number][]);
    for (const name of order) {
      const x = v[name];
      const seg = x.unloaded[i] as Segment;
      const c0 = cpu();
      await x.store.sink.load(seg);
      x.cpu += cpu() - c0;
      x.events += seg.events.length;
    }
  }
  const line = variants.map((name) => {
    const x = v[name];
    totals[name].push(x.cpu / x.events);
    return `${name} ${(x.cpu / x.events).toFixed(2)} µs/event (checkpoints ${x.store.checkpoints.count}, ${(x.store.checkpoints.cpuUs / x.events).toFixed(2)} µs/event of it)`;
  });
  process.stdout.write(
    `round ${round + 1}: ${line.join('; ')}; ratio no-wal/wal ${((totals['no-wal'].at(-1) as number) / (totals.wal.at(-1) as number)).toFixed(3)}\n`,
  );
  for (const name of variants) await v[name].store.close();
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] as number;
process.stdout.write(
  `median: wal ${med(totals.wal).toFixed(2)}, no-wal ${med(totals['no-wal']).toFixed(2)} µs/event; segments ${readdirSync(segs).length}\n`,
);
rmSync(kept, { recursive: true, force: true });
