// Micro-benchmark of the dedupe memory (src/ingest/file/dedupe.ts). One process adds keys as a start's rebuild
// does (tables sealed as they fill, 1M keys each) and, at each checkpoint (10M, 20M, ... keys), records RSS and
// the JS memory (heap used + array buffers) after a GC: the slope between checkpoints is what memory grows by
// per key added (a fixed part, the exact tables and the seal's arrays, does not count twice), next to the
// filter's own bytes. Then the cost of a lookup: new keys (no I/O unless the filter errs) and old duplicates
// (confirmed by one pread per run until found), wall and CPU time. The exact table alone (keyset.ts, what held
// the whole window before) is measured the same way in a process of its own.
// Run: node --expose-gc --import tsx bench/dedupe-micro.ts [--keys 50000000] [--every 10000000] [--exact 20000000]
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
    keys: { type: 'string', default: '50000000' },
    every: { type: 'string', default: '10000000' },
    exact: { type: 'string', default: '20000000' },
    child: { type: 'string' },
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

interface Point {
  keys: number;
  rssMB: number;
  jsMB: number;
  /** Since the previous point, per key added. */
  rssPerKey?: number;
  jsPerKey?: number;
  filterPerKey?: number;
}

function point(keys: number, prev: Point | undefined, filterBytes?: number): Point {
  const m = mem();
  const p: Point = { keys, rssMB: +mb(m.rss), jsMB: +mb(m.js) };
  if (prev) {
    const n = keys - prev.keys;
    p.rssPerKey = +((m.rss - prev.rssMB * 2 ** 20) / n).toFixed(2);
    p.jsPerKey = +((m.js - prev.jsMB * 2 ** 20) / n).toFixed(2);
  }
  if (filterBytes !== undefined) p.filterPerKey = +(filterBytes / keys).toFixed(3);
  return p;
}

async function child(kind: string, n: number, every: number): Promise<void> {
  const out: Record<string, unknown> = { kind, keys: n };
  const points: Point[] = [point(0, undefined)];
  const key = (i: number) => dedupeKey('ws', `k${i}`);
  if (kind === 'exact') {
    const set = new KeySet();
    for (let i = 0; i < n; i++) {
      set.addSeconds(key(i), 1_000_000 + (i >> 16));
      if ((i + 1) % every === 0) points.push(point(i + 1, points.at(-1)));
    }
    out.tableBytesPerKey = +(set.bytes / n).toFixed(2);
    out.points = points;
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'intake-dedupe-micro-'));
  try {
    const d = new DedupeMemory({ dir });
    const t0 = process.cpuUsage();
    const w0 = performance.now();
    let i = 0;
    while (i < n) {
      const to = Math.min(n, i + every);
      await d.rebuild(() => {
        for (; i < to; i++) d.addSeconds(key(i), 1_000_000 + Math.floor(i / 1000));
      });
      await d.seal();
      points.push(point(i, points.at(-1), d.bytes.sealed));
    }
    const used = process.cpuUsage(t0);
    out.fillSeconds = +((performance.now() - w0) / 1000).toFixed(1);
    out.fillCpuUsPerKey = +((used.user + used.system) / n).toFixed(2);
    out.sealed = d.size.sealed;
    out.filterBytesPerKey = +(d.bytes.sealed / n).toFixed(3);
    out.exactMB = +mb(d.bytes.exact);
    out.points = points;
    // Lookups of keys never added (new events): no I/O unless the filter errs.
    const probes = 1_000_000;
    const newKeys = Array.from({ length: probes }, (_, j) => dedupeKey('ws', `new${j}`));
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
    // Old duplicates: each confirmed by the runs, newest first, one pread each until found.
    const reads = d.reads;
    const dups = 20_000;
    const oldKeys = Array.from({ length: dups }, (_, j) => key(Math.floor((j * 7919) % n)));
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
      runs: Math.ceil(n / (1 << 20)),
    };
    await d.close();
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const every = Number(args.every);
if (args.child) await child(args.child, Number(args.child === 'exact' ? args.exact : args.keys), every);
else {
  const run = (kind: string) => {
    const text = execFileSync(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', import.meta.filename, ...process.argv.slice(2), '--child', kind],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 22 },
    );
    process.stdout.write(text);
  };
  if (Number(args.exact) > 0) run('exact');
  if (Number(args.keys) > 0) run('sealed');
}
