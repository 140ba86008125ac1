// The store's load capacity alone: segments of the ingest log written and loaded back to back in the bench
// process, with no HTTP and no load generator. Shows what one load transaction costs at each segment size,
// and how fast the log itself accepts events (dedupe check, line building, write + fdatasync).
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { EventRecord } from '../src/core/event.ts';
import { KeySet } from '../src/ingest/file/keyset.ts';
import { SegmentLog } from '../src/ingest/file/segments.ts';
import { normalize } from '../src/pipeline/normalize.ts';
import { validateItem } from '../src/pipeline/validate.ts';
import { DuckDBStore, type DuckDBStoreOptions } from '../src/store/duckdb/index.ts';
import { bodyPool, fillBody } from './events.ts';
import { round } from './ingest.ts';

export interface CapacityRow {
  segmentEvents: number;
  loads: number;
  /** Events per second of store.sink.load time. */
  eventsPerSec: number;
  loadP50Ms: number;
  loadMaxMs: number;
  /** Events per second of SegmentLog.submit time (8 × 100-event batches at once), write + fdatasync included. */
  logEventsPerSec: number;
  /** parse + validate + normalize of the same events, per second of main-thread time. */
  prepareEventsPerSec: number;
  /** The process's CPU (all threads) during store.sink.load, per event, in µs: the load, profiles, checkpoints. */
  loadCpuUsPerEvent: number;
  /** The part of it spent in the store's own CHECKPOINTs, per event, in µs. */
  checkpointCpuUsPerEvent: number;
  /** Checkpoints the store ran. */
  checkpoints: number;
  /** The largest WAL a checkpoint found, in MB. */
  maxWalMB: number;
  /** Size of the database file at the end, in bytes per event. */
  fileBytesPerEvent: number;
  /** Peak RSS of the process (VmHWM) at the end, in MB. */
  peakRssMB: number;
}

/**
 * A store in `dir` and its ingest log inside it (as the server keeps it: DuckDB reads only files there), with no
 * queue limit and segments cut only by the caller's log.next().
 */
export async function openStoreAndLog(dir: string, storeOptions: Omit<DuckDBStoreOptions, 'dataDir'> = {}) {
  const store = await DuckDBStore.open({ ...storeOptions, dataDir: dir });
  const { log } = SegmentLog.open(
    {
      dir: join(dir, 'log'),
      dedupe: new KeySet(),
      queueLimit: Number.MAX_SAFE_INTEGER,
      segmentLines: Number.MAX_SAFE_INTEGER,
    },
    await store.sink.checkpoint(),
  );
  return { store, log };
}

export async function storeCapacity(
  segmentSizes: number[],
  seconds: number,
  storeOptions: Omit<DuckDBStoreOptions, 'dataDir'> = {},
  /**
   * keepSegments: a directory where each segment file is copied before it is loaded (the cost floor reads them);
   * maxEvents: stop each size after loading this many events, if `seconds` have not passed first.
   */
  opts: { keepSegments?: string; maxEvents?: number } = {},
): Promise<CapacityRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'intake-bench-cap-'));
  const { store, log } = await openStoreAndLog(dir, storeOptions);
  const pool = bodyPool(8, 100, false);
  let k = 0;
  let prepMs = 0;
  const records = (): EventRecord[] => {
    const t0 = performance.now();
    const out: EventRecord[] = [];
    const body = JSON.parse(fillBody(pool[k % pool.length] as (typeof pool)[number], 'cap', k++, 0)) as {
      batch: unknown[];
    };
    const ctx = { workspaceId: 'bench', source: 'segment', ip: '10.0.0.1', receivedAt: new Date() };
    for (const item of body.batch) {
      const v = validateItem(item);
      if (!v.ok) throw new Error(v.reason);
      const r = normalize(v.value, ctx, 32 * 1024);
      if (!r.ok) throw new Error(r.reason);
      out.push(r.value);
    }
    prepMs += performance.now() - t0;
    return out;
  };
  const rows: CapacityRow[] = [];
  let closed = false;
  try {
    for (const size of segmentSizes) {
      prepMs = 0;
      let logMs = 0;
      let logged = 0;
      const loads: number[] = [];
      let loadCpu = 0;
      const ck0 = { ...store.checkpoints };
      const until = Date.now() + seconds * 1000;
      let loaded = 0;
      while (Date.now() < until && loaded < (opts.maxEvents ?? Number.POSITIVE_INFINITY)) {
        // Eight 100-event batches in flight at once, as eight connections send them: the log writes them in
        // one group (one write + fdatasync).
        for (let n = 0; n < size; n += 800) {
          const batches = Array.from({ length: Math.min(8, (size - n) / 100) }, () => records());
          const t0 = performance.now();
          await Promise.all(batches.map((events) => log.submit({ events, rejected: [] })));
          logMs += performance.now() - t0;
          logged += batches.length * 100;
        }
        const seg = await log.next();
        if (!seg) continue;
        if (opts.keepSegments) copyFileSync(seg.file, join(opts.keepSegments, basename(seg.file)));
        const t0 = performance.now();
        const c0 = process.cpuUsage();
        await store.sink.load(seg);
        const c = process.cpuUsage(c0);
        loadCpu += c.user + c.system;
        loads.push(performance.now() - t0);
        loaded += seg.events.length;
        log.release(seg);
      }
      const total = loads.reduce((a, b) => a + b, 0);
      const s = [...loads].sort((a, b) => a - b);
      rows.push({
        segmentEvents: size,
        loads: loads.length,
        eventsPerSec: Math.round((loads.length * size) / (total / 1000)),
        loadP50Ms: round(s[Math.floor(s.length / 2)] ?? Number.NaN, 1),
        loadMaxMs: round(s.at(-1) ?? Number.NaN, 1),
        logEventsPerSec: Math.round(logged / (logMs / 1000)),
        prepareEventsPerSec: Math.round(logged / (prepMs / 1000)),
        loadCpuUsPerEvent: round(loadCpu / (loads.length * size), 1),
        checkpointCpuUsPerEvent: round((store.checkpoints.cpuUs - ck0.cpuUs) / (loads.length * size), 1),
        checkpoints: store.checkpoints.count - ck0.count,
        maxWalMB: round(store.checkpoints.maxWalBytes / 2 ** 20, 1),
        fileBytesPerEvent: 0,
        peakRssMB: 0,
      });
    }
    closed = true;
    await log.close();
    log.closeFiles();
    await store.close();
    const events = rows.reduce((a, r) => a + r.loads * r.segmentEvents, 0);
    const last = rows.at(-1);
    if (last) {
      last.fileBytesPerEvent = Math.round(statSync(join(dir, 'intake.duckdb')).size / events);
      const hwm = /VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
      last.peakRssMB = Math.round(Number(hwm ?? 0) / 1024);
    }
  } finally {
    if (!closed) {
      await log.close().catch(() => {});
      log.closeFiles();
      await store.close().catch(() => {});
    }
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
