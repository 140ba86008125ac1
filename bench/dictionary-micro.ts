// Micro-benchmark of the data dictionary (pipeline/dictionary/observe.ts, store/duckdb/dictionary.ts): the cost
// per event of adding the benchmark's track events to a segment's summary, as the log does when it writes them,
// against parsing the same events back from their log lines (what a walk at load time would have to do first);
// the summary's memory for one full segment (10,000 events), typical and worst case; and the DuckDB tables'
// size and merge time for a large dictionary.
// Run: node --expose-gc --import tsx bench/dictionary-micro.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DictionaryBatch, type ObservedEvent } from '../src/pipeline/dictionary/observe.ts';
import type { Db } from '../src/store/duckdb/db.ts';
import { mergeDictionary } from '../src/store/duckdb/dictionary.ts';
import { DuckDBStore } from '../src/store/duckdb/index.ts';
import { bodyPool, fillBody } from './events.ts';

const SEGMENT = 10_000;
const ROUNDS = 15;

const events: ObservedEvent[] = [];
for (const [k, t] of bodyPool(SEGMENT / 100, 100, false, 1).entries()) {
  const body = JSON.parse(fillBody(t, 'run', k, 0)) as { batch: Array<Record<string, unknown>> };
  for (const e of body.batch) {
    events.push({
      workspaceId: 'ws',
      type: String(e.type),
      event: String(e.event),
      name: null,
      receivedAt: new Date(),
      properties: e.properties as Record<string, unknown>,
      traits: {},
    });
  }
}
const lines = events.map((e) => JSON.stringify({ ...e, context: {}, integrations: {} }));

function best(label: string, fn: () => void): number {
  let min = Number.POSITIVE_INFINITY;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    fn();
    min = Math.min(min, Number(process.hrtime.bigint() - t0) / 1000 / SEGMENT);
  }
  process.stdout.write(`${label.padEnd(52)} ${min.toFixed(3)} µs/event (fastest of ${ROUNDS})\n`);
  return min;
}

let sink = 0;
best('walk into a segment summary (the log, as it writes)', () => {
  sink += DictionaryBatch.of(events).names.size;
});
best('parse the log line again, then walk (at load time)', () => {
  const b = new DictionaryBatch();
  for (const l of lines) {
    const o = JSON.parse(l) as ObservedEvent & { receivedAt: string };
    b.add({ ...o, receivedAt: new Date(o.receivedAt) });
  }
  sink += b.names.size;
});

/** Worst case: every event a name of its own with 30 properties of its own (ids as names and keys). */
const worst: ObservedEvent[] = events.map((e, i) => ({
  ...e,
  event: `Viewed /product/${i}`,
  properties: Object.fromEntries(Array.from({ length: 30 }, (_, k) => [`field_${i}_${k}`, `value ${k}`])),
}));

const gc = (globalThis as { gc?: () => void }).gc;
if (gc) {
  for (const [label, input] of [
    ['the benchmark events', events],
    ['worst case: a name and 30 keys of its own per event', worst],
  ] as const) {
    gc();
    const before = process.memoryUsage().heapUsed;
    const kept = Array.from({ length: 5 }, () => DictionaryBatch.of(input));
    gc();
    const bytes = (process.memoryUsage().heapUsed - before) / kept.length;
    const one = kept[0] as DictionaryBatch;
    const paths = [...one.names.values()].reduce((n, x) => n + x.paths.size, 0);
    process.stdout.write(
      `summary of ${SEGMENT} events, ${label}: ${one.names.size} names, ${paths} paths, ` +
        `${(bytes / 2 ** 20).toFixed(2)} MiB of heap\n`,
    );
  }
} else process.stdout.write('(run with node --expose-gc --import tsx for the memory figures)\n');

// The store's side: 90 days of 200 names with 40 paths each, merged one day at a time as loads would.
const dir = mkdtempSync(join(tmpdir(), 'intake-dictionary-micro-'));
const store = await DuckDBStore.open({ dataDir: dir });
const writer = (store as unknown as { writer: Db }).writer;
const DAY = 86_400_000;
let slowest = 0;
for (let d = 0; d < 90; d++) {
  const day: ObservedEvent[] = [];
  for (let n = 0; n < 200; n++) {
    day.push({
      workspaceId: 'ws',
      type: 'track',
      event: `Event ${n}`,
      name: null,
      receivedAt: new Date(Date.UTC(2026, 0, 1) + d * DAY),
      properties: Object.fromEntries(
        Array.from({ length: 40 }, (_, k) => [`prop_${k}`, k % 2 ? k : `v${d}`]),
      ),
      traits: {},
    });
  }
  const t0 = performance.now();
  await writer.run('BEGIN TRANSACTION');
  await mergeDictionary(writer, DictionaryBatch.of(day));
  await writer.run('COMMIT');
  slowest = Math.max(slowest, performance.now() - t0);
}
// A benchmark segment's summary (8 names, 64 paths) merged into those tables, as each load does.
const segment = DictionaryBatch.of(events);
let fastestMerge = Number.POSITIVE_INFINITY;
for (let r = 0; r < 10; r++) {
  const t0 = performance.now();
  await writer.run('BEGIN TRANSACTION');
  await mergeDictionary(writer, segment);
  await writer.run('COMMIT');
  fastestMerge = Math.min(fastestMerge, performance.now() - t0);
}
process.stdout.write(
  `merge of a ${SEGMENT}-event benchmark segment's summary: ${fastestMerge.toFixed(1)} ms ` +
    `(${((fastestMerge * 1000) / SEGMENT).toFixed(2)} µs/event, fastest of 10)\n`,
);
const size = await writer.all(
  `SELECT table_name, estimated_size::BIGINT AS n, (SELECT count(*) FROM dictionary_days) AS days,
          (SELECT count(*) FROM dictionary_paths) AS paths
     FROM duckdb_tables() WHERE table_name LIKE 'dictionary_%'`,
);
const mem = await writer.all(
  "SELECT sum(memory_usage_bytes)::BIGINT AS n FROM duckdb_memory() WHERE tag IN ('BASE_TABLE', 'ART_INDEX', 'METADATA')",
);
await writer.run('CHECKPOINT');
const blocks = await writer.all(
  `SELECT sum(1)::BIGINT AS segments FROM pragma_storage_info('dictionary_paths')`,
);
process.stdout.write(
  `dictionary tables, 200 names × 40 paths × 90 days: ${Number(size[0]?.days)} day rows, ${Number(size[0]?.paths)} path rows, ` +
    `slowest daily merge ${slowest.toFixed(0)} ms, DuckDB table memory ${(Number(mem[0]?.n) / 2 ** 20).toFixed(1)} MiB ` +
    `(${Number(blocks[0]?.segments)} column segments)\n`,
);
await store.close();
rmSync(dir, { recursive: true, force: true });
if (sink < 0) process.stdout.write('');
