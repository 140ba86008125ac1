// The store's load capacity alone: segments of the ingest log written and loaded back to back in the bench
// process, with no HTTP and no load generator. Shows what one load transaction costs at each segment size,
// and how fast the log itself accepts events (dedupe check, line building, write + fdatasync).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  /** Events per second of SegmentLog.submit time (100-event batches), write + fdatasync included. */
  logEventsPerSec: number;
  /** parse + validate + normalize of the same events, per second of main-thread time. */
  prepareEventsPerSec: number;
}

export async function storeCapacity(
  segmentSizes: number[],
  seconds: number,
  storeOptions: Omit<DuckDBStoreOptions, 'dataDir'> = {},
): Promise<CapacityRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'intake-bench-cap-'));
  const store = await DuckDBStore.open({ ...storeOptions, dataDir: join(dir, 'db') });
  const { log } = SegmentLog.open(
    {
      dir: join(dir, 'log'),
      dedupe: new KeySet(),
      queueLimit: Number.MAX_SAFE_INTEGER,
      segmentLines: Number.MAX_SAFE_INTEGER,
    },
    await store.sink.checkpoint(),
  );
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
  try {
    for (const size of segmentSizes) {
      prepMs = 0;
      let logMs = 0;
      let logged = 0;
      const loads: number[] = [];
      const until = Date.now() + seconds * 1000;
      while (Date.now() < until) {
        for (let n = 0; n < size; n += 100) {
          const events = records();
          const t0 = performance.now();
          await log.submit({ events, rejected: [] });
          logMs += performance.now() - t0;
          logged += events.length;
        }
        const seg = await log.next();
        if (!seg) continue;
        const t0 = performance.now();
        await store.sink.load(seg);
        loads.push(performance.now() - t0);
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
      });
    }
  } finally {
    await log.close();
    log.closeFiles();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
