// The store's write capacity alone: DuckDBStore.writeEvents called back to back in the bench process, with
// no HTTP and no load generator. When Intake's ingest figures sit near these, the store write is the bound.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normalize } from '../src/pipeline/normalize.ts';
import type { EventRecord } from '../src/pipeline/types.ts';
import { validateItem } from '../src/pipeline/validate.ts';
import { DuckDBStore } from '../src/store/duckdb/index.ts';
import { bodyPool, fillBody } from './events.ts';
import { round } from './ingest.ts';

export interface CapacityRow {
  groupSize: number;
  commits: number;
  eventsPerSec: number;
  commitP50Ms: number;
  commitP99Ms: number;
  commitMaxMs: number;
  /** parse + validate + normalize of the same events, per second of main-thread time. */
  prepareEventsPerSec: number;
}

export async function storeCapacity(groupSizes: number[], seconds: number): Promise<CapacityRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'intake-bench-cap-'));
  const store = await DuckDBStore.open({ dataDir: dir });
  const pool = bodyPool(8, 100, false);
  let k = 0;
  let prepMs = 0;
  const records = (n: number): EventRecord[] => {
    const t0 = performance.now();
    const out: EventRecord[] = [];
    while (out.length < n) {
      const body = JSON.parse(fillBody(pool[k % pool.length] as (typeof pool)[number], 'cap', k++, 0)) as {
        batch: unknown[];
      };
      for (const item of body.batch) {
        const v = validateItem(item);
        if (!v.ok) throw new Error(v.reason);
        const ctx = { workspaceId: 'bench', source: 'segment', ip: '10.0.0.1', receivedAt: new Date() };
        const r = normalize(v.value, ctx, 32 * 1024);
        if (!r.ok) throw new Error(r.reason);
        out.push(r.value);
      }
    }
    prepMs += performance.now() - t0;
    return out.slice(0, n);
  };
  const rows: CapacityRow[] = [];
  try {
    for (const size of groupSizes) {
      prepMs = 0;
      const commits: number[] = [];
      const until = Date.now() + seconds * 1000;
      while (Date.now() < until) {
        const batch = { events: records(size), rejected: [] };
        const t0 = performance.now();
        await store.writeEvents(batch);
        commits.push(performance.now() - t0);
      }
      const total = commits.reduce((a, b) => a + b, 0);
      const s = [...commits].sort((a, b) => a - b);
      const at = (p: number) => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? Number.NaN;
      rows.push({
        groupSize: size,
        commits: commits.length,
        eventsPerSec: Math.round((commits.length * size) / (total / 1000)),
        commitP50Ms: round(at(50), 1),
        commitP99Ms: round(at(99), 1),
        commitMaxMs: round(s.at(-1) ?? Number.NaN, 1),
        prepareEventsPerSec: Math.round((commits.length * size) / (prepMs / 1000)),
      });
    }
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
