// Pages of 1,000 of GET /events in the order of event (bench case 7d and its neighbours), read by the store function
// the route calls two ways in the same process, alternated: one top-N over (event, id) (the path without the
// store's value list) and value by value (src/store/duckdb/pages.ts positionsByValue). Each pair's answers must be
// equal. Wall and CPU ms (this process, all DuckDB threads) per page, median and max.
// Run: npx tsx bench/text-pages-micro.ts [--data /tmp/paging-q10m] [--rounds 5]
// (a data set of bench/dataset.ts, e.g. one `npm run bench -- --only queries --query-data <dir>` built; opened
// read-only, threads 2, as the store opens it)
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { parseEventQuery } from '../src/query/events.ts';
import { EVENT_NAMES } from '../src/store/duckdb/bulk.ts';
import { Db } from '../src/store/duckdb/db.ts';
import { listEvents } from '../src/store/duckdb/events.ts';
import { OrderValues } from '../src/store/duckdb/order-values.ts';
import type { EventCursor, EventQuery } from '../src/store/types.ts';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: '/tmp/paging-q10m' },
    rounds: { type: 'string', default: '5' },
  },
});
const dir = args.data as string;
const { workspaceId: ws } = JSON.parse(readFileSync(join(dir, 'bench-dataset.json'), 'utf8')) as {
  workspaceId: string;
};
const instance = await DuckDBInstance.create(join(dir, 'intake.duckdb'), {
  access_mode: 'READ_ONLY',
  threads: '2',
  memory_limit: '256MB',
});
const db = new Db(await instance.connect());
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** The id `back` events from the end of a name's run in the order's direction. */
async function idAt(name: string, direction: 'ASC' | 'DESC', back: number): Promise<string> {
  const rows = await db.all(
    `SELECT id FROM events WHERE workspace_id = ? AND event = ? ORDER BY id ${direction === 'ASC' ? 'DESC' : 'ASC'} LIMIT 1 OFFSET ?`,
    [ws, name, back],
  );
  return String(rows[0]?.id);
}

interface Case {
  name: string;
  q: EventQuery;
}
const query = (direction: 'ASC' | 'DESC', after?: EventCursor): EventQuery => ({
  ...parseEventQuery({ orderByField: 'event', orderByDirection: direction }),
  json: [],
  limit: 1000,
  after,
  count: false,
});
const names = [EVENT_NAMES[12], EVENT_NAMES[27], EVENT_NAMES[41]] as string[];
const cases: Case[] = [];
for (const name of names) {
  // 7d: the bench's cursor, at the start of the name after `name` (DESC, id '').
  cases.push({ name: `7d DESC from the value after ${name}`, q: query('DESC', { value: name, id: '' }) });
}
const mid = names[0] as string;
for (const direction of ['ASC', 'DESC'] as const) {
  cases.push({
    name: `${direction} 50,000 into ${mid}`,
    q: query(direction, { value: mid, id: await idAt(mid, direction, 50_000) }),
  });
  cases.push({
    name: `${direction} 400 before the end of ${mid} (two values)`,
    q: query(direction, { value: mid, id: await idAt(mid, direction, 400) }),
  });
  cases.push({ name: `${direction} first page`, q: query(direction) });
}

const values = new OrderValues();
const c0 = cpu();
const t0 = performance.now();
await values.of(db, ws, 'event');
console.log(
  `value list (DISTINCT event of the workspace, once): ${(performance.now() - t0).toFixed(0)} ms wall, ${(cpu() - c0).toFixed(0)} ms CPU`,
);

const rounds = Number(args.rounds);
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `${(s[Math.floor((s.length - 1) / 2)] as number).toFixed(0).padStart(4)} / ${(s.at(-1) as number).toFixed(0).padStart(4)}`;
};
console.log(`${rounds} rounds, alternated; ms median / max`);
console.log(
  `${'case'.padEnd(48)} ${'top-N wall'.padStart(11)} ${'cpu'.padStart(11)}   ${'by value wall'.padStart(13)} ${'cpu'.padStart(11)}`,
);
for (const c of cases) {
  const m = {
    topWall: [] as number[],
    topCpu: [] as number[],
    valWall: [] as number[],
    valCpu: [] as number[],
  };
  for (let r = 0; r < rounds; r++) {
    const run = async (withValues: boolean) => {
      const c1 = cpu();
      const t1 = performance.now();
      const page = await listEvents(db, ws, c.q, withValues ? values : undefined);
      return { page, wall: performance.now() - t1, cpu: cpu() - c1 };
    };
    // Alternated, the first of each round swapped, so neither always runs on a warmer cache.
    const top = r % 2 ? undefined : await run(false);
    const byValue = await run(true);
    const topN = top ?? (await run(false));
    assert.deepEqual(
      byValue.page.results.map((e) => e.id),
      topN.page.results.map((e) => e.id),
      c.name,
    );
    assert.deepEqual(byValue.page.next, topN.page.next, c.name);
    m.topWall.push(topN.wall);
    m.topCpu.push(topN.cpu);
    m.valWall.push(byValue.wall);
    m.valCpu.push(byValue.cpu);
  }
  console.log(
    `${c.name.padEnd(48)} ${stats(m.topWall).padStart(11)} ${stats(m.topCpu).padStart(11)}   ${stats(m.valWall).padStart(13)} ${stats(m.valCpu).padStart(11)}`,
  );
}
db.conn.closeSync();
instance.closeSync();
