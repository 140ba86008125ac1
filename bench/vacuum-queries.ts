// Query speed on files loaded with other store options, e.g. with and without DuckDB's row-group merge at a
// checkpoint (max_vacuum_tasks, src/store/duckdb/index.ts) or another checkpoint cadence (checkpointRows): the
// same events loaded through the real path (the ingest log's segments, the store's loads and CHECKPOINTs) into
// one database per variant (DuckDBStoreOptions as JSON), then the store's reads the query benchmark uses
// (bench/queries.ts: events by userId, by event + 7 days, the newest page of 1,000, a count per name over POST
// /query's path) run on both, alternated query by query, with wall and CPU time (this process, all threads),
// and each file's row groups (pragma_storage_info).
//   npx tsx bench/vacuum-queries.ts [--events 2000000] [--segment 10000] [--samples 40] [--keep DIR]
//     [--variant '{}' --variant '{"settings":{"max_vacuum_tasks":"100"}}' --variant '{"checkpointRows":122880}']
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { EventRecord } from '../src/core/event.ts';
import { normalize } from '../src/pipeline/normalize.ts';
import { validateItem } from '../src/pipeline/validate.ts';
import { parseEventQuery } from '../src/query/events.ts';
import type { Db } from '../src/store/duckdb/db.ts';
import { DuckDBStore, type DuckDBStoreOptions } from '../src/store/duckdb/index.ts';
import type { EventQuery } from '../src/store/types.ts';
import { openStoreAndLog } from './capacity.ts';
import { type BodyTemplate, bodyPool, fillBody, NAMES, rng } from './events.ts';
import { round } from './ingest.ts';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '2000000' },
    segment: { type: 'string', default: '10000' },
    samples: { type: 'string', default: '40' },
    days: { type: 'string', default: '30' },
    keep: { type: 'string' },
    variant: { type: 'string', multiple: true, default: ['{}', '{"settings":{"max_vacuum_tasks":"100"}}'] },
  },
});
const EVENTS = Number(args.events);
const SEGMENT = Number(args.segment);
const DAYS = Number(args.days);
const WS = 'bench';
const END = Date.UTC(2026, 10, 1);
const START = END - DAYS * 86_400_000;
/** The bodies the events are made of (and whose users the reads by user ask for). */
const POOL = [200, 100, false, 7] as const;
const cpu = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};

/** Loads EVENTS events into a new store in `dir` with `settings`, as the server does: log segments, then loads. */
async function build(dir: string, settings: Omit<DuckDBStoreOptions, 'dataDir'>): Promise<void> {
  const { store, log } = await openStoreAndLog(dir, settings);
  // The same events for every variant: bodies from one seed, received in order over DAYS days.
  const pool = bodyPool(...POOL);
  let k = 0;
  const records = (): EventRecord[] => {
    const body = JSON.parse(fillBody(pool[k % pool.length] as BodyTemplate, 'v', k, 0)) as {
      batch: unknown[];
      sentAt?: string;
    };
    delete body.sentAt;
    const at = new Date(START + Math.floor(((k * 100) / EVENTS) * (END - START)));
    const step = (END - START) / EVENTS;
    k++;
    const out: EventRecord[] = [];
    for (const [i, item] of body.batch.entries()) {
      // Sent as it happened (no sentAt: the timestamp is taken as given).
      (item as { timestamp: string }).timestamp = new Date(at.getTime() + Math.floor(i * step)).toISOString();
      const v = validateItem(item);
      if (!v.ok) throw new Error(v.reason);
      const r = normalize(
        v.value,
        { workspaceId: WS, source: 'segment', ip: '10.0.0.1', receivedAt: at },
        32 * 1024,
      );
      if (!r.ok) throw new Error(r.reason);
      out.push(r.value);
    }
    return out;
  };
  const c0 = cpu();
  const t0 = performance.now();
  for (let loaded = 0; loaded < EVENTS; ) {
    for (let n = 0; n < SEGMENT; n += 800) {
      const batches = Array.from({ length: Math.min(8, (SEGMENT - n) / 100) }, () => records());
      await Promise.all(batches.map((events) => log.submit({ events, rejected: [] })));
    }
    const seg = await log.next();
    if (!seg) continue;
    await store.sink.load(seg);
    loaded += seg.events.length;
    log.release(seg);
  }
  await log.close();
  log.closeFiles();
  await store.close();
  process.stdout.write(
    `built ${JSON.stringify(settings)}: ${EVENTS} events in ${round((performance.now() - t0) / 1000, 1)} s, ${round((cpu() - c0) / 1000, 1)} s CPU, ${store.checkpoints.count} checkpoints, file ${round(statSync(join(dir, 'intake.duckdb')).size / 2 ** 20, 1)} MB\n`,
  );
}

const root = args.keep ?? mkdtempSync(join(tmpdir(), 'intake-vacuum-'));
const variants = (args.variant as string[]).map((v, i) => ({
  name: v,
  settings: JSON.parse(v) as Omit<DuckDBStoreOptions, 'dataDir'>,
  dir: join(root, `v${i}`),
}));
try {
  for (const v of variants) {
    if (existsSync(join(v.dir, 'intake.duckdb'))) continue; // --keep: built by an earlier run
    mkdirSync(v.dir, { recursive: true });
    await build(v.dir, v.settings);
  }
  // Both opened as the server opens its store (the defaults): only the files differ.
  const stores = await Promise.all(variants.map((v) => DuckDBStore.open({ dataDir: v.dir })));
  for (const [i, s] of stores.entries()) {
    // The store's own query connection (POST /query refuses pragma_storage_info).
    const [g] = await (s as unknown as { db: Db }).db.all(
      `SELECT count(*)::INTEGER AS groups, count(*) FILTER (n < 122880)::INTEGER AS partial,
         list(n ORDER BY g) FILTER (n < 122880)::VARCHAR AS partial_rows
       FROM (SELECT row_group_id AS g, sum(count) AS n FROM pragma_storage_info('events')
             WHERE column_path = '[0]' GROUP BY g)`,
    );
    process.stdout.write(`${variants[i]?.name}: events row groups ${JSON.stringify(g)}\n`);
  }
  const r = rng(42);
  const n = Number(args.samples);
  const base = parseEventQuery({});
  const q = (over: Partial<EventQuery>): EventQuery => ({ ...base, json: [], ...over });
  const week = () => {
    const start = new Date(START + Math.floor(r() * (DAYS - 7)) * 86_400_000);
    return {
      event: NAMES[Math.floor(r() * NAMES.length)] as string,
      start,
      end: new Date(start.getTime() + 7 * 86_400_000),
    };
  };
  const from = new Date(END - 30 * 86_400_000).toISOString();
  const cases: Array<{
    name: string;
    inputs: unknown[];
    run: (s: DuckDBStore, x: never) => Promise<unknown>;
  }> = [
    {
      name: 'GET /events?userId= (100 newest)',
      // Users the data set holds (~18k, each in ~110 events spread over the whole set).
      inputs: (() => {
        const ids = [
          ...new Set(
            bodyPool(...POOL).flatMap((b) =>
              (JSON.parse(fillBody(b, 'u', 0, 0)) as { batch: Array<{ userId: string }> }).batch.map(
                (e) => e.userId,
              ),
            ),
          ),
        ];
        return Array.from({ length: n }, () => ids[Math.floor(r() * ids.length)] as string);
      })(),
      run: (s, u: string) => s.events.listEvents(WS, q({ userId: u, limit: 100 })),
    },
    {
      name: 'GET /events?event=&startDate&endDate (7 days)',
      inputs: Array.from({ length: n }, week),
      run: (s, w: ReturnType<typeof week>) =>
        s.events.listEvents(WS, q({ event: w.event, startDate: w.start, endDate: w.end, limit: 100 })),
    },
    {
      name: 'GET /events, first page of 1,000 (counts the total)',
      inputs: Array.from({ length: Math.max(4, n / 4) }, (_, i) => i),
      run: (s) => s.events.listEvents(WS, q({ limit: 1000 })),
    },
    {
      name: 'POST /query: count per name, 30 days',
      inputs: Array.from({ length: Math.max(4, n / 4) }, (_, i) => i),
      run: (s) =>
        s.sql.query(WS, {
          sql: 'SELECT event, count(*) AS n FROM events WHERE timestamp >= ?::TIMESTAMP AND timestamp < ?::TIMESTAMP GROUP BY event ORDER BY n DESC',
          params: [from, new Date(END).toISOString()],
          timeoutMs: 60_000,
        }),
    },
  ];
  process.stdout.write(
    '| query | ' +
      variants.map((v) => `${v.name} wall p50 / mean ms, CPU ms`).join(' | ') +
      ' | ratio (mean wall, CPU) |\n',
  );
  for (const c of cases) {
    const t = variants.map(() => ({ ms: [] as number[], cpu: 0 }));
    for (const x of c.inputs.slice(0, 2)) for (const s of stores) await c.run(s, x as never); // warm-up
    for (const [j, x] of c.inputs.entries()) {
      // Alternated, the order swapped every input.
      for (let a = 0; a < stores.length; a++) {
        const i = (a + j) % stores.length;
        const c0 = cpu();
        const t0 = performance.now();
        await c.run(stores[i] as DuckDBStore, x as never);
        (t[i] as (typeof t)[number]).ms.push(performance.now() - t0);
        (t[i] as (typeof t)[number]).cpu += cpu() - c0;
      }
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const cells = t.map(
      (v) => `${round(p50(v.ms), 1)} / ${round(mean(v.ms), 1)}, ${round(v.cpu / v.ms.length, 1)}`,
    );
    const [a, b] = t as [(typeof t)[number], (typeof t)[number]];
    process.stdout.write(
      `| ${c.name} | ${cells.join(' | ')} | ${round(mean(a.ms) / mean(b.ms), 2)}, ${round(a.cpu / b.cpu, 2)} |\n`,
    );
  }
  for (const s of stores) await s.close();
} finally {
  if (!args.keep) rmSync(root, { recursive: true, force: true });
}
