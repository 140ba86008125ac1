// Micro-benchmark of the data dictionary's walk (pipeline/dictionary/observe.ts): the cost per event of adding
// the benchmark's track events to a segment's summary, as the log does when it writes them, against parsing the
// same events back from their log lines (what a walk at load time would have to do first), and the summary's
// memory for one full segment (10,000 events).
// Run: node --expose-gc --import tsx bench/dictionary-micro.ts
import { DictionaryBatch, type ObservedEvent } from '../src/pipeline/dictionary/observe.ts';
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

const gc = (globalThis as { gc?: () => void }).gc;
if (gc) {
  gc();
  const before = process.memoryUsage().heapUsed;
  const kept = Array.from({ length: 20 }, () => DictionaryBatch.of(events));
  gc();
  const bytes = (process.memoryUsage().heapUsed - before) / kept.length;
  const one = kept[0] as DictionaryBatch;
  const paths = [...one.names.values()].reduce((n, x) => n + x.paths.size, 0);
  process.stdout.write(
    `summary of ${SEGMENT} events: ${one.names.size} names, ${paths} paths, ${(bytes / 1024).toFixed(1)} KiB of heap\n`,
  );
} else process.stdout.write('(run with node --expose-gc --import tsx for the memory figure)\n');
if (sink < 0) process.stdout.write('');
