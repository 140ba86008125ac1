// The ClickHouse store's data dictionary before and after compaction (src/store/clickhouse/dictionary-compact.ts),
// on a real clickhouse-server started here: --loads loads of --size events (5 names of 11 properties each, as the
// README's figure), then the dictionary tables copied to a second database and compacted there (wall time, CPU of
// this process and of the server), then listNames and getName asked of both, alternated, --reads times each:
// p50 and the server's CPU per read. Bounded: it stops the server at the end.
//   npx tsx bench/clickhouse-dictionary.ts [--loads 400] [--size 500] [--reads 30]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ClickHouse, ClickHouseStore } from '../src/store/clickhouse/index.ts';
import { startClickHouse } from '../test/cluster/clickhouse.ts';
import { at, event, logBatch } from '../test/fixtures.ts';

const { values } = parseArgs({
  options: { loads: { type: 'string' }, size: { type: 'string' }, reads: { type: 'string' } },
});
const LOADS = Number(values.loads ?? 400);
const SIZE = Number(values.size ?? 500);
const READS = Number(values.reads ?? 30);

const procCpu = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(f[11]) + Number(f[12])) / 100;
};
const selfCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

const server = await startClickHouse();
try {
  const plain = 'bench_dict_plain';
  const packed = 'bench_dict_compacted';
  const store = await ClickHouseStore.open({ url: server.url, database: plain });
  const t0 = performance.now();
  for (let l = 0; l < LOADS; l++) {
    const events = Array.from({ length: SIZE }, (_, i) => {
      const props: Record<string, unknown> = {};
      for (let p = 0; p < 11; p++) props[`p${p}`] = p % 3 === 0 ? `v${(l + i) % 7}` : (l * SIZE + i) % 100;
      return event('w', `e${l}-${i}`, {
        userId: `u${i % 50}`,
        event: `Name ${i % 5}`,
        properties: props,
        timestamp: at((l % 30) * 86_400 + i),
      });
    });
    await store.sink.load(logBatch(l + 1, events));
  }
  console.log(`${LOADS} loads of ${SIZE} events: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const a = new ClickHouse({ url: server.url, database: plain });
  const b = await ClickHouseStore.open({ url: server.url, database: packed });
  const bch = new ClickHouse({ url: server.url, database: packed });
  for (const t of ['dictionary_days', 'dictionary_paths', 'ingest_log'])
    await bch.exec(`INSERT INTO ${packed}.${t} SELECT * FROM ${plain}.${t}`);
  const count = async (ch: ClickHouse) => ({
    days: Number((await ch.rows('SELECT count() AS n FROM dictionary_days'))[0]?.n),
    paths: Number((await ch.rows('SELECT count() AS n FROM dictionary_paths'))[0]?.n),
  });
  console.log('rows before:', JSON.stringify(await count(bch)));
  const c0 = selfCpu();
  const s0 = procCpu(server.pid);
  const w0 = performance.now();
  const r = await b.compactDictionary();
  console.log(
    `compaction: ${(performance.now() - w0).toFixed(0)} ms wall, CPU ${((selfCpu() - c0) * 1000).toFixed(0)} ms here, ` +
      `${((procCpu(server.pid) - s0) * 1000).toFixed(0)} ms ClickHouse; ${JSON.stringify(r)}`,
  );
  console.log('rows after:', JSON.stringify(await count(bch)));
  const c1 = selfCpu();
  const w1 = performance.now();
  const r2 = await b.compactDictionary();
  console.log(
    `a second compaction with nothing new: ${(performance.now() - w1).toFixed(0)} ms wall, CPU ${((selfCpu() - c1) * 1000).toFixed(0)} ms here; ${JSON.stringify(r2)}`,
  );

  const plainStore = store;
  const reads = {
    listNames: (s: ClickHouseStore) =>
      s.schema.listNames('w', { volumeFrom: at(0), orderBy: 'name', limit: 50, offset: 0 }),
    getName: (s: ClickHouseStore) => s.schema.getName('w', 'track', 'Name 1', at(0)),
  };
  for (const [name, read] of Object.entries(reads)) {
    const ms: Record<string, number[]> = { plain: [], compacted: [] };
    const cpu: Record<string, number> = { plain: 0, compacted: 0 };
    for (let i = 0; i < READS; i++) {
      for (const [label, s] of [
        ['plain', plainStore],
        ['compacted', b],
      ] as const) {
        const sc = procCpu(server.pid);
        const t = performance.now();
        await read(s);
        (ms[label] as number[]).push(performance.now() - t);
        cpu[label] = (cpu[label] ?? 0) + procCpu(server.pid) - sc;
      }
    }
    // Same answers on both.
    const same = JSON.stringify(await read(plainStore)) === JSON.stringify(await read(b));
    console.log(
      `${name}: p50 ${p50(ms.plain as number[]).toFixed(1)} ms before / ${p50(ms.compacted as number[]).toFixed(1)} ms after; ` +
        `ClickHouse CPU per read ${(((cpu.plain ?? 0) / READS) * 1000).toFixed(1)} / ${(((cpu.compacted ?? 0) / READS) * 1000).toFixed(1)} ms; same answer: ${same}`,
    );
  }
  void a;
  await store.close();
  await b.close();
} finally {
  await server.stop();
}
