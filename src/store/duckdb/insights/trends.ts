// Trends in one statement: per series, one scan of its events over the range (and the previous one), the top
// breakdown values, then every bucket's value and the whole range's with GROUPING SETS. Buckets with no events
// are filled in here, from the calendar (core/buckets.ts).
import type { CompiledSql, TrendMath, TrendsQuery } from '../../../core/insights.ts';
import {
  filterRefs,
  localSql,
  matcherSql,
  numberSql,
  Params,
  personJoin,
  TRUNC,
  textSql,
  traitsJoin,
  usesPerson,
} from './sql.ts';

const QUANTILES: Record<string, string> = { p50: '0.5', p90: '0.9', p95: '0.95', p99: '0.99' };

/** Maths that can be computed per (period, bucket, value) first and combined after: one pass over the events. */
const COMBINABLE = new Set<TrendMath['kind']>(['total', 'sum', 'avg', 'min', 'max']);

/** The columns a combinable series is reduced to in its scan. */
const PARTIAL = 'count(*) AS n, sum(x) AS sx, count(x) AS cx, min(x) AS mn, max(x) AS mx';

function aggregate(math: TrendMath): string {
  switch (math.kind) {
    case 'total':
      return 'sum(n)';
    case 'sum':
      return 'coalesce(sum(sx), 0)';
    case 'avg':
      return 'CASE WHEN sum(cx) > 0 THEN sum(sx) / sum(cx) END';
    case 'min':
      return 'min(mn)';
    case 'max':
      return 'max(mx)';
    case 'unique_persons':
      return 'count(DISTINCT person)';
    default:
      return `quantile_cont(x, ${QUANTILES[math.kind]})`;
  }
}

export function compileTrends(workspaceId: string, q: TrendsQuery): CompiledSql {
  const p = new Params();
  const ranges = q.previous ? [q.range, q.previous] : [q.range];
  const scanFrom = Math.min(...ranges.map((r) => r.from.getTime()));
  const scanTo = Math.max(...ranges.map((r) => r.to.getTime()));
  const local = localSql(p, q.timezone, scanFrom, scanTo);
  const ctes: string[] = [];
  const selects: string[] = [];
  q.series.forEach((s, i) => {
    const needsPerson =
      s.math.kind === 'unique_persons' ||
      usesPerson([...filterRefs([s]), q.breakdown?.property, 'property' in s.math ? s.math.property : null]);
    const needsTraits = usesPerson([
      ...filterRefs([s]),
      q.breakdown?.property,
      'property' in s.math ? s.math.property : null,
    ]);
    const within = ranges
      .map((r) => `(e.timestamp >= ${p.time(r.from)} AND e.timestamp < ${p.time(r.to)})`)
      .join(' OR ');
    const scope = `e.workspace_id = ${p.add(workspaceId)} AND e.type = 'track' AND (${within}) AND e.event = ${p.add(s.event)}`;
    const pj = needsPerson ? personJoin(p, workspaceId, scope) : null;
    // Counts, sums, minimums and maximums are reduced per bucket and value in the scan itself (the rest of the
    // statement then handles a few hundred rows, not every event); distinct persons and percentiles need rows.
    const combinable = COMBINABLE.has(s.math.kind);
    const cols = [
      `e.timestamp >= ${p.time(q.range.from)} AS cur`,
      `date_trunc(${TRUNC[q.interval]}, ${local}) AS b`,
      q.breakdown ? `${textSql(p, q.breakdown.property)} AS bd` : null,
      pj && !combinable ? `${pj.person} AS person` : null,
      'property' in s.math ? `${numberSql(p, s.math.property)} AS x` : null,
    ].filter(Boolean);
    const keys = ['cur', 'b', ...(q.breakdown ? ['bd'] : [])].join(', ');
    const partial = 'property' in s.math ? PARTIAL : 'count(*) AS n';
    const rows = `SELECT ${cols.join(', ')}
  FROM events e ${pj ? pj.join : ''} ${needsTraits && pj ? traitsJoin(p, workspaceId, pj.person) : ''}
  WHERE ${scope} AND ${matcherSql(p, s)}`;
    ctes.push(
      combinable
        ? `s${i} AS MATERIALIZED (SELECT ${keys}, ${partial} FROM (${rows}) GROUP BY ${keys})`
        : `s${i} AS MATERIALIZED (${rows})`,
    );
    const agg = `(${aggregate(s.math)})::DOUBLE AS v`;
    if (q.breakdown) {
      ctes.push(`t${i} AS (
  SELECT bd, n, row_number() OVER (ORDER BY n DESC, bd ASC NULLS LAST) AS r
  FROM (SELECT bd, ${combinable ? 'sum(n)' : 'count(*)'} AS n FROM s${i} WHERE cur GROUP BY bd)
  QUALIFY r <= ${p.int(q.breakdown.limit)}
)`);
      selects.push(`SELECT ${i} AS series, cur, GROUPING(b) = 1 AS whole, epoch_ms(b) AS b, coalesce(r, 0) AS rank, bdv, ${agg}
FROM (SELECT s.*, t.r, CASE WHEN t.r IS NOT NULL THEN s.bd END AS bdv FROM s${i} s LEFT JOIN t${i} t ON t.bd IS NOT DISTINCT FROM s.bd)
GROUP BY GROUPING SETS ((cur, b, r, bdv), (cur, r, bdv))`);
    } else {
      selects.push(`SELECT ${i} AS series, cur, GROUPING(b) = 1 AS whole, epoch_ms(b) AS b, 0 AS rank, NULL::VARCHAR AS bdv, ${agg}
FROM s${i} GROUP BY GROUPING SETS ((cur, b), (cur))`);
    }
  });
  const sql = `WITH ${ctes.join(',\n')}\n${selects.join('\nUNION ALL\n')}`;
  return { sql, params: p.values };
}
