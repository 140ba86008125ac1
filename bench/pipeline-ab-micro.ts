// The log's per-event steps of two or more builds on the benchmark's 100-event bodies (CPU time of the main
// thread by hrtime, fastest of --rounds in a process), each build in processes of its own, alternated --runs
// times (two builds' modules in one process share and spoil each other's inline caches):
//   npx tsx bench/pipeline-ab-micro.ts --root /path/to/base --root . [--runs 3] [--rounds 9] [--requests 400]
// prepare = validate + normalize + enrich of each item as ingest.ts does; key = dedupeKey + a KeySet;
// writer = LineWriter; dictionary = DictionaryBatch.add. Every build must write the same lines (ids and digits
// masked: uuids and the bodies' times differ between processes).
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { EventRecord, RequestContext } from '../src/core/event.ts';
import { bodyPool, fillBody, prepareRecords } from './events.ts';

const { values: args } = parseArgs({
  options: {
    root: { type: 'string', multiple: true },
    rounds: { type: 'string', default: '9' },
    requests: { type: 'string', default: '400' },
    runs: { type: 'string', default: '3' },
    /** Internal: measure the one --root, write the result and the lines to files named after --out. */
    out: { type: 'string' },
  },
});
const STEPS = ['prepare', 'key', 'writer', 'dictionary'] as const;
type Step = (typeof STEPS)[number];
type Times = Record<Step, number>;
const none = (): Times => ({ prepare: 1e9, key: 1e9, writer: 1e9, dictionary: 1e9 });
const roots = args.root ?? ['.'];

if (args.out) await measure(resolve(roots[0] as string), args.out);
else compare();

function compare(): void {
  const best = roots.map(none);
  const lines: string[] = [];
  const self = new URL(import.meta.url).pathname;
  for (let run = 0; run < Number(args.runs); run++) {
    for (const [b, root] of roots.entries()) {
      const out = join(tmpdir(), `pipeline-ab-${process.pid}-${b}`);
      const flags = ['--rounds', args.rounds as string, '--requests', args.requests as string];
      execFileSync(process.execPath, [...process.execArgv, self, '--root', root, '--out', out, ...flags], {
        stdio: 'inherit',
      });
      const r = JSON.parse(readFileSync(`${out}.json`, 'utf8')) as Times;
      const mine = best[b] as Times;
      for (const s of STEPS) mine[s] = Math.min(mine[s], r[s]);
      if (run === 0) lines[b] = readFileSync(`${out}.lines`, 'utf8');
      rmSync(`${out}.json`);
      rmSync(`${out}.lines`);
    }
  }
  const mask = (s: string | undefined) =>
    (s ?? '').replace(/"id":"[^"]*"/g, '"id":""').replace(/[0-9]/g, '0');
  for (let b = 1; b < roots.length; b++)
    if (mask(lines[b]) !== mask(lines[0])) throw new Error(`${roots[b]} wrote other lines than ${roots[0]}`);
  const value = (b: number, s: Step | 'total'): number => {
    const t = best[b] as Times;
    return s === 'total' ? STEPS.reduce((a, x) => a + t[x], 0) : t[s];
  };
  console.log(`${''.padEnd(11)} ${roots.map((r) => r.slice(-9).padStart(9)).join(' ')}`);
  for (const s of [...STEPS, 'total'] as const) {
    const row = roots.map((_, b) => value(b, s).toFixed(3).padStart(9)).join(' ');
    const ratio = value(roots.length - 1, s) / value(0, s);
    console.log(`${s.padEnd(11)} ${row} µs/event  last/first ${ratio.toFixed(3)}`);
  }
}

async function measure(root: string, out: string): Promise<void> {
  const m = (p: string) => import(join(root, 'src', p));
  const { validateItem } = (await m('pipeline/validate.ts')) as typeof import('../src/pipeline/validate.ts');
  const { normalize } = (await m('pipeline/normalize.ts')) as typeof import('../src/pipeline/normalize.ts');
  const { Enricher } = (await m(
    'pipeline/enrich/index.ts',
  )) as typeof import('../src/pipeline/enrich/index.ts');
  const { dedupeKey } = (await m('core/dedupe.ts')) as typeof import('../src/core/dedupe.ts');
  const { KeySet } = (await m('ingest/file/keyset.ts')) as typeof import('../src/ingest/file/keyset.ts');
  const { LineWriter } = (await m('ingest/file/lines.ts')) as typeof import('../src/ingest/file/lines.ts');
  const { DictionaryBatch } = (await m(
    'pipeline/dictionary/observe.ts',
  )) as typeof import('../src/pipeline/dictionary/observe.ts');
  const enricher = new Enricher(null);
  const writer = new LineWriter();
  const plan = { geo: false, anonymizeIp: false };
  const steps = { validateItem, normalize, enrich: (r: EventRecord) => enricher.enrich(r, plan) };
  const pool = bodyPool(32, 100, false, 100);
  const bodies = Array.from({ length: Number(args.requests) }, (_, k) =>
    fillBody(pool[k % pool.length] as (typeof pool)[number], 'r', k, 0),
  );
  const now = () => Number(process.hrtime.bigint());
  const best = none();
  const written: Buffer[] = [];
  for (let round = 0; round < Number(args.rounds); round++) {
    const spent: Times = { prepare: 0, key: 0, writer: 0, dictionary: 0 };
    const keys = new KeySet();
    const dictionary = new DictionaryBatch();
    let events = 0;
    for (const text of bodies) {
      const parsed = JSON.parse(text) as { batch: unknown[]; sentAt: string };
      const ctx: RequestContext = {
        workspaceId: 'ws_0123456789abcdef',
        source: 'segment',
        ip: '127.0.0.1',
        receivedAt: new Date(1_760_000_000_000 + events),
        sentAt: parsed.sentAt,
      };
      let t = now();
      // This build's steps, not the bench's own.
      const records = prepareRecords(parsed.batch, ctx, steps);
      let u = now();
      spent.prepare += u - t;
      t = u;
      const ks: string[] = [];
      for (const r of records) {
        const k = dedupeKey(r.event.workspaceId, r.event.messageId);
        if (!keys.has(k)) keys.add(k, r.event.receivedAt);
        ks.push(k);
      }
      u = now();
      spent.key += u - t;
      t = u;
      for (let i = 0; i < records.length; i++) writer.event(records[i] as EventRecord, ks[i] as string);
      const bytes = writer.take();
      u = now();
      spent.writer += u - t;
      t = u;
      for (const r of records) dictionary.add(r.event);
      spent.dictionary += now() - t;
      if (round === 0) written.push(bytes);
      events += records.length;
    }
    for (const s of STEPS) best[s] = Math.min(best[s], spent[s] / 1000 / events);
  }
  writeFileSync(`${out}.json`, JSON.stringify(best));
  writeFileSync(`${out}.lines`, Buffer.concat(written));
}
