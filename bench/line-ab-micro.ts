// LineWriter of two builds on the same records, alternated in one process (CPU of the main thread, fastest of
// --rounds): npx tsx bench/line-ab-micro.ts --base /path/to/other/worktree [--rounds 15] [--requests 300]
// Both must write the same bytes.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { dedupeKey } from '../src/core/dedupe.ts';
import type { EventRecord, RequestContext } from '../src/core/event.ts';
import { LineWriter } from '../src/ingest/file/lines.ts';
import { Enricher } from '../src/pipeline/enrich/index.ts';
import { normalize } from '../src/pipeline/normalize.ts';
import { validateItem } from '../src/pipeline/validate.ts';
import { bodyPool, fillBody, prepareRecords } from './events.ts';

const { values: args } = parseArgs({
  options: {
    base: { type: 'string' },
    rounds: { type: 'string', default: '15' },
    requests: { type: 'string', default: '300' },
  },
});
const threadNs = () => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]);
const other = (await import(join(resolve(args.base as string), 'src/ingest/file/lines.ts'))) as {
  LineWriter: typeof LineWriter;
};
const pool = bodyPool(32, 100, false, 100);
const enricher = new Enricher(null);
const requests: Array<{ records: EventRecord[]; keys: string[] }> = [];
for (let k = 0; k < Number(args.requests); k++) {
  const parsed = JSON.parse(fillBody(pool[k % pool.length] as (typeof pool)[number], 'r', k, 0)) as {
    batch: unknown[];
    sentAt: string;
  };
  const ctx: RequestContext = {
    workspaceId: 'ws',
    source: 'segment',
    ip: '127.0.0.1',
    receivedAt: new Date(),
    sentAt: parsed.sentAt,
  };
  const records = prepareRecords(parsed.batch, ctx, {
    validateItem,
    normalize,
    enrich: (r) => enricher.enrich(r, { geo: false, anonymizeIp: false }),
  });
  requests.push({ records, keys: records.map((r) => dedupeKey(r.event.workspaceId, r.event.messageId)) });
}
const writers = { base: new other.LineWriter(), this: new LineWriter() };
const best = { base: 1e9, this: 1e9 };
let events = 0;
for (const r of requests) events += r.records.length;
for (let round = 0; round < Number(args.rounds); round++) {
  for (const name of ['base', 'this'] as const) {
    const w = writers[name];
    const t = threadNs();
    for (const { records, keys } of requests) {
      for (let i = 0; i < records.length; i++) w.event(records[i] as EventRecord, keys[i] as string);
      w.take();
    }
    best[name] = Math.min(best[name], (threadNs() - t) / 1000 / events);
  }
}
for (const { records, keys } of requests) {
  for (let i = 0; i < records.length; i++) {
    writers.base.event(records[i] as EventRecord, keys[i] as string);
    writers.this.event(records[i] as EventRecord, keys[i] as string);
  }
  if (!writers.base.take().equals(writers.this.take())) throw new Error('the two writers wrote other bytes');
}
console.log(
  `base ${best.base.toFixed(3)} µs/event, this ${best.this.toFixed(3)}, ratio ${(best.this / best.base).toFixed(3)}`,
);
