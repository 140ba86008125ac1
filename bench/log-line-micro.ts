// The log's per-event work on the main thread, in process, by step, on the benchmark's 100-event bodies (CPU of
// the main thread, /proc schedstat, fastest of --rounds interleaved rounds):
//   npx tsx bench/log-line-micro.ts [--rounds 9] [--requests 2000]
// parse = JSON.parse of the body; prepare = the batch's items through validate, normalize and enrich as
// ingest.ts does; key = dedupeKey + the dedupe memory; line + bytes = eventLine joined and Buffer.from (the
// string path); writer = the same bytes through LineWriter (what the log does); dictionary = the data
// dictionary's walk.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { dedupeKey } from '../src/core/dedupe.ts';
import type { EventRecord, RequestContext } from '../src/core/event.ts';
import { KeySet } from '../src/ingest/file/keyset.ts';
import { eventLine, LineWriter } from '../src/ingest/file/lines.ts';
import { DictionaryBatch } from '../src/pipeline/dictionary/observe.ts';
import { Enricher } from '../src/pipeline/enrich/index.ts';
import { normalize } from '../src/pipeline/normalize.ts';
import { validateItem } from '../src/pipeline/validate.ts';
import { bodyPool, fillBody, prepareRecords } from './events.ts';

const { values: args } = parseArgs({
  options: { rounds: { type: 'string', default: '9' }, requests: { type: 'string', default: '2000' } },
});
const REQUESTS = Number(args.requests);
const threadNs = () => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]);

const pool = bodyPool(32, 100, false, 100);
const bodies = Array.from({ length: REQUESTS }, (_, k) =>
  Buffer.from(fillBody(pool[k % pool.length] as (typeof pool)[number], 'r', k, 0)),
);
const enricher = new Enricher(null);
const plan = { geo: false, anonymizeIp: false };
const steps = { validateItem, normalize, enrich: (r: EventRecord) => enricher.enrich(r, plan) };

type Step = 'parse' | 'prepare' | 'key' | 'line' | 'bytes' | 'writer' | 'dictionary';
const best: Record<Step, number> = {
  parse: 1e9,
  prepare: 1e9,
  key: 1e9,
  line: 1e9,
  bytes: 1e9,
  writer: 1e9,
  dictionary: 1e9,
};
const writer = new LineWriter();
for (let round = 0; round < Number(args.rounds); round++) {
  const spent: Record<Step, number> = {
    parse: 0,
    prepare: 0,
    key: 0,
    line: 0,
    bytes: 0,
    writer: 0,
    dictionary: 0,
  };
  const keys = new KeySet();
  const dictionary = new DictionaryBatch();
  let events = 0;
  for (const body of bodies) {
    let t = threadNs();
    const parsed = JSON.parse(body.toString('utf8')) as { batch: unknown[]; sentAt: string };
    let u = threadNs();
    spent.parse += u - t;
    t = u;
    const ctx: RequestContext = {
      workspaceId: 'ws',
      source: 'segment',
      ip: '127.0.0.1',
      receivedAt: new Date(),
      sentAt: parsed.sentAt,
    };
    const records = prepareRecords(parsed.batch, ctx, steps);
    u = threadNs();
    spent.prepare += u - t;
    t = u;
    const ks: string[] = [];
    for (const r of records) {
      const k = dedupeKey(r.event.workspaceId, r.event.messageId);
      if (!keys.has(k)) keys.add(k, r.event.receivedAt);
      ks.push(k);
    }
    u = threadNs();
    spent.key += u - t;
    t = u;
    let text = '';
    for (let i = 0; i < records.length; i++)
      text += `${eventLine(records[i] as EventRecord, ks[i] as string)}\n`;
    u = threadNs();
    spent.line += u - t;
    t = u;
    for (const r of records) dictionary.add(r.event);
    u = threadNs();
    spent.dictionary += u - t;
    t = u;
    const bytes = Buffer.from(text);
    u = threadNs();
    spent.bytes += u - t;
    t = u;
    for (let i = 0; i < records.length; i++) writer.event(records[i] as EventRecord, ks[i] as string);
    const written = writer.take();
    u = threadNs();
    spent.writer += u - t;
    if (!written.equals(bytes)) throw new Error('the writer wrote other bytes');
    events += records.length;
  }
  for (const k of Object.keys(spent) as Step[]) best[k] = Math.min(best[k], spent[k] / 1000 / events);
}
for (const [k, us] of Object.entries(best))
  console.log(`${k.padEnd(11)} ${us.toFixed(2).padStart(6)} µs/event`);
const total = best.parse + best.prepare + best.key + best.writer + best.dictionary;
console.log(
  `${'total'.padEnd(11)} ${total.toFixed(2).padStart(6)} µs/event (parse, prepare, key, writer, dictionary)`,
);
