// Micro-benchmark of the dedupe memory (src/ingest/file/dedupe.ts): memory per key once N keys are sealed (RSS and
// the process's heap + array buffers, before and after, with a GC), against the exact table alone (keyset.ts,
// what held the whole window before); then the cost of a lookup (new keys, and old duplicates that read a
// run), in wall and CPU time, with the disk reads counted. Each size runs in a child process of its own, so one
// size's memory does not blur the next.
// Run: node --expose-gc --import tsx bench/dedupe-micro.ts [--keys 10000000,50000000] [--exact 10000000]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { dedupeKey } from '../src/core/dedupe.ts';
import { DedupeMemory } from '../src/ingest/file/dedupe.ts';
import { KeySet } from '../src/ingest/file/keyset.ts';

const { values: args } = parseArgs({
  args: process.argv.slice(2),
  options: {
    keys: { type: 'string', default: '10000000,50000000' },
    exact: { type: 'string', default: '10000000' },
    child: { type: 'string' },
    kind: { type: 'string' },
  },
});

const gc = () => (globalThis as { gc?: () => void }).gc?.();
const mb = (b: number) => (b / 2 ** 20).toFixed(0);
const mem = () => {
  gc();
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, js: m.heapUsed + m.arrayBuffers };
};

function child(kind: string, n: number): void {
  const base = mem();
  const t0 = process.cpuUsage();
  const w0 = performance.now();
  const out: Record<string, unknown> = { kind, keys: n };
  if (kind === 'exact') {
    const set = new KeySet();
    for (let i = 0; i < n; i++) set.addSeconds(dedupeKey('ws', `k${i}`), 1_000_000 + (i >> 16));
    const after = mem();
    out.tableBytesPerKey = +(set.bytes / n).toFixed(2);
    out.rssBytesPerKey = +((after.rss - base.rss) / n).toFixed(2);
    out.jsBytesPerKey = +((after.js - base.js) / n).toFixed(2);
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'intake-dedupe-micro-'));
    try {
      const d = new DedupeMemory({ dir });
      // As a start's rebuild fills it: tables sealed as they fill (1M keys each).
      const fill = () => {
        for (let i = 0; i < n; i++) d.addSeconds(dedupeKey('ws', `k${i}`), 1_000_000 + Math.floor(i / 1000));
      };
      (async () => {
        await d.rebuild(fill);
        await d.seal();
        const used = process.cpuUsage(t0);
        out.fillSeconds = +((performance.now() - w0) / 1000).toFixed(1);
        out.fillCpuUsPerKey = +((used.user + used.system) / n).toFixed(2);
        const after = mem();
        out.sealed = d.size.sealed;
        out.filterBytesPerKey = +(d.bytes.sealed / n).toFixed(3);
        out.exactBytes = d.bytes.exact;
        out.rssBytesPerKey = +((after.rss - base.rss) / n).toFixed(2);
        out.jsBytesPerKey = +((after.js - base.js) / n).toFixed(2);
        out.rssMB = +mb(after.rss);
        // Lookups of keys never added (new events): no I/O unless the filter errs.
        const probes = 1_000_000;
        const newKeys = Array.from({ length: probes }, (_, i) => dedupeKey('ws', `new${i}`));
        let c = process.cpuUsage();
        let w = performance.now();
        let found = 0;
        for (const k of newKeys) if (d.has(k)) found++;
        let u = process.cpuUsage(c);
        out.newLookup = {
          wallUs: +(((performance.now() - w) * 1000) / probes).toFixed(3),
          cpuUs: +((u.user + u.system) / probes).toFixed(3),
          found,
          diskHitRate: +(d.falseHits / probes).toFixed(5),
          runReads: d.reads,
        };
        // Old duplicates: each confirmed by the runs (one pread per run until found).
        const reads = d.reads;
        const dups = 20_000;
        const oldKeys = Array.from({ length: dups }, (_, i) =>
          dedupeKey('ws', `k${Math.floor((i * 7919) % n)}`),
        );
        c = process.cpuUsage();
        w = performance.now();
        found = 0;
        for (const k of oldKeys) if (d.has(k)) found++;
        u = process.cpuUsage(c);
        out.oldDuplicate = {
          wallUs: +(((performance.now() - w) * 1000) / dups).toFixed(1),
          cpuUs: +((u.user + u.system) / dups).toFixed(1),
          found,
          readsPerLookup: +((d.reads - reads) / dups).toFixed(1),
        };
        await d.close();
        process.stdout.write(`${JSON.stringify(out)}\n`);
      })().finally(() => rmSync(dir, { recursive: true, force: true }));
      return;
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

if (args.child) child(args.kind ?? 'sealed', Number(args.child));
else {
  const run = (kind: string, n: number) => {
    const text = execFileSync(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', import.meta.filename, '--child', String(n), '--kind', kind],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 },
    );
    process.stdout.write(text);
  };
  for (const n of args.exact.split(',').filter(Boolean).map(Number)) run('exact', n);
  for (const n of args.keys.split(',').filter(Boolean).map(Number)) run('sealed', n);
}
