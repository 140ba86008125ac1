// Insight benchmarks on the bulk-loaded query data set: each insight through the API, its compiled SQL run
// directly in DuckDB (the difference is the API's overhead: HTTP, parsing, shaping), and the same question
// written by hand in plain SQL (the difference is what the insight's semantics cost: every start tried,
// buckets filled, top values and "other", identity resolution done the same way).
import { readFileSync } from 'node:fs';
import type { DuckDBValue } from '@duckdb/node-api';
import type { CompiledSql } from '../src/core/insights.ts';
import { parseFunnels, parseRetention, parseTrends } from '../src/query/insights/parse.ts';
import type { FunnelsBody, RetentionBody, TrendsBody } from '../src/query/insights/schemas.ts';
import { ts } from '../src/store/duckdb/db.ts';
import { compileFunnels, compileRetention, compileTrends } from '../src/store/duckdb/insights/index.ts';
import { KEYS, type Server } from './procs.ts';

export interface InsightCase {
  name: string;
  kind: 'trends' | 'funnels' | 'retention';
  body: TrendsBody | FunnelsBody | RetentionBody;
  compile(workspaceId: string, now: Date): CompiledSql;
  /** The question in plain SQL, as one would write it by hand, and its parameters. */
  hand(workspaceId: string, now: Date): { sql: string; params: DuckDBValue[] };
  /** The target for the API's p50, in ms. */
  targetMs: number;
}

const DAY = 86_400_000;
const startOfDay = (t: number) => Math.floor(t / DAY) * DAY;

const trends: TrendsBody = {
  series: [{ event: 'Page Viewed' }],
  interval: 'day',
  dateRange: { from: '-30d' },
  breakdown: { property: 'properties.plan' },
};
const funnel: FunnelsBody = {
  steps: [
    { event: 'Product Viewed' },
    { event: 'Product Added' },
    { event: 'Checkout Started' },
    { event: 'Order Completed' },
  ],
  window: { value: 14, unit: 'day' },
  dateRange: { from: '-30d' },
};
const retention: RetentionBody = {
  startEvent: { event: 'Product Viewed' },
  returnEvent: { event: 'Order Completed' },
  period: 'week',
  periods: 8,
};

const PERSON = `LEFT JOIN identities i ON i.workspace_id = e.workspace_id AND i.id = coalesce(e.user_id, e.anonymous_id)`;

export const INSIGHT_CASES: InsightCase[] = [
  {
    name: 'trends: daily count, 30 days, breakdown by plan',
    kind: 'trends',
    body: trends,
    compile: (ws, now) => compileTrends(ws, parseTrends(trends, 'UTC', now)),
    hand: (ws, now) => ({
      sql: `SELECT date_trunc('day', timestamp) AS day, properties->>'$.plan' AS plan, count(*) AS n
FROM events WHERE workspace_id = ? AND type = 'track' AND event = 'Page Viewed' AND timestamp >= ? AND timestamp < ?
GROUP BY ALL`,
      params: [ws, ts(new Date(startOfDay(now.getTime()) - 30 * DAY)), ts(now)],
    }),
    targetMs: 150,
  },
  {
    name: 'funnel: 4 steps, 14-day window, 30 days, per person',
    kind: 'funnels',
    body: funnel,
    compile: (ws, now) => compileFunnels(ws, parseFunnels(funnel, 'UTC', now)),
    // The usual hand-written funnel: each person's first start, then the first next step within the window
    // (later starts are never tried, so it can undercount), identities joined on every event.
    hand: (ws, now) => {
      const from = new Date(startOfDay(now.getTime()) - 30 * DAY);
      return {
        sql: `WITH ev AS (
  SELECT coalesce(i.person_id, e.user_id, e.anonymous_id) AS p, e.event, e.timestamp AS t FROM events e ${PERSON}
  WHERE e.workspace_id = ? AND e.type = 'track' AND e.timestamp >= ? AND e.timestamp < ?
    AND e.event IN ('Product Viewed', 'Product Added', 'Checkout Started', 'Order Completed')),
s1 AS (SELECT p, min(t) AS t1 FROM ev WHERE event = 'Product Viewed' AND t < ? GROUP BY p),
s2 AS (SELECT s1.p, s1.t1, min(ev.t) AS t2 FROM s1 JOIN ev ON ev.p = s1.p AND ev.event = 'Product Added'
  AND ev.t > s1.t1 AND ev.t <= s1.t1 + INTERVAL 14 DAY GROUP BY ALL),
s3 AS (SELECT s2.p, s2.t1, min(ev.t) AS t3 FROM s2 JOIN ev ON ev.p = s2.p AND ev.event = 'Checkout Started'
  AND ev.t > s2.t2 AND ev.t <= s2.t1 + INTERVAL 14 DAY GROUP BY ALL),
s4 AS (SELECT s3.p FROM s3 JOIN ev ON ev.p = s3.p AND ev.event = 'Order Completed'
  AND ev.t > s3.t3 AND ev.t <= s3.t1 + INTERVAL 14 DAY GROUP BY ALL)
SELECT (SELECT count(*) FROM s1), (SELECT count(*) FROM s2), (SELECT count(*) FROM s3), (SELECT count(*) FROM s4)`,
        params: [ws, ts(from), ts(new Date(now.getTime() + 14 * DAY)), ts(now)],
      };
    },
    targetMs: 300,
  },
  {
    name: 'retention: weekly, 8 periods, first-time cohorts',
    kind: 'retention',
    body: retention,
    compile: (ws, now) => compileRetention(ws, parseRetention(retention, 'UTC', now)),
    hand: (ws, now) => {
      const monday = startOfDay(now.getTime()) - ((new Date(now).getUTCDay() + 6) % 7) * DAY;
      return {
        sql: `WITH ev AS (
  SELECT coalesce(i.person_id, e.user_id, e.anonymous_id) AS p, e.event, e.timestamp AS t FROM events e ${PERSON}
  WHERE e.workspace_id = ? AND e.type = 'track' AND e.event IN ('Product Viewed', 'Order Completed')),
first AS (SELECT p, date_trunc('week', min(t)) AS c FROM ev WHERE event = 'Product Viewed' GROUP BY p HAVING min(t) >= ?),
ret AS (SELECT DISTINCT p, date_trunc('week', t) AS w FROM ev WHERE event = 'Order Completed' AND t >= ?)
SELECT c, datediff('day', c, w) // 7 AS k, count(*) AS n FROM first JOIN ret USING (p) WHERE w > c GROUP BY ALL
UNION ALL SELECT c, 0, count(*) FROM first GROUP BY c`,
        params: [ws, ts(new Date(monday - 7 * 7 * DAY)), ts(new Date(monday - 7 * 7 * DAY))],
      };
    },
    targetMs: 500,
  },
];

/** The server's CPU time so far, in ms (utime + stime of /proc/<pid>/stat, at the kernel's 10 ms ticks). */
export function processCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** One POST /insights/<kind>; throws on anything but 200. */
export async function askApi(server: Server, c: InsightCase): Promise<void> {
  const res = await fetch(`${server.url}/insights/${c.kind}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEYS.read}`, 'content-type': 'application/json' },
    body: JSON.stringify(c.body),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`POST /insights/${c.kind}: ${res.status} ${text}`);
}
