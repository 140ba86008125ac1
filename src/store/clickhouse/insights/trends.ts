// Trends in one statement: per series, its events over the range (and the previous one) with their local
// bucket, then each bucket's value and the whole range's (18.16 has no GROUPING SETS: each row is counted twice
// with ARRAY JOIN, in its bucket and in the range, so one scan gives both; two GROUP BYs, two scans, cost 2x). With a
// breakdown, the top values are a scalar subquery (18.16 has no window functions): counts per value, sorted by
// (-count, not set, text) in an array, the first `limit` kept; rank is a value's place in it, 0 for "other".
// Rows come back in the format core/insight-shapes.ts shapes (TrendsRow).
import type { CompiledSql, TrendMath, TrendsQuery } from '../../../core/insights.ts';
import { lit } from '../http.ts';
import { filterRefs, localSql, Props, quantileSql, trackEvents, truncSql, usesPerson } from './sql.ts';

/** The series' value over a group of its rows; `sorted` is the group's numbers, sorted. */
function aggregate(math: TrendMath, sorted: string): string {
  switch (math.kind) {
    case 'total':
      return 'count()';
    case 'unique_persons':
      return 'uniqExact(person)';
    case 'sum':
      return 'sumIf(x, hx)';
    case 'avg':
      return 'if(countIf(hx) > 0, sumIf(x, hx) / countIf(hx), NULL)';
    case 'min':
      return 'if(countIf(hx) > 0, minIf(x, hx), NULL)';
    case 'max':
      return 'if(countIf(hx) > 0, maxIf(x, hx), NULL)';
    default:
      return quantileSql(sorted, Number(math.kind.slice(1)) / 100);
  }
}

export function compileTrends(workspaceId: string, q: TrendsQuery): CompiledSql {
  const ranges = q.previous ? [q.range, q.previous] : [q.range];
  const scanFrom = Math.min(...ranges.map((r) => r.from.getTime()));
  const scanTo = Math.max(...ranges.map((r) => r.to.getTime()));
  const bucket = truncSql(localSql(q.timezone, scanFrom, scanTo), q.interval);
  const selects = q.series.map((s, i) => {
    const props = new Props();
    const math = 'property' in s.math ? s.math.property : null;
    const traits = usesPerson([...filterRefs([s]), q.breakdown?.property, math]);
    // The identity join only where a person is read (distinct persons, a trait).
    const person = traits || s.math.kind === 'unique_persons';
    const within = ranges
      .map((r) => `(timestamp_ms >= ${r.from.getTime()} AND timestamp_ms < ${r.to.getTime()})`)
      .join(' OR ');
    const cols = [
      `t >= ${q.range.from.getTime()} AS cur`,
      `${bucket} AS b`,
      person ? 'person' : null,
      q.breakdown ? props.breakdown(q.breakdown.property) : `1 AS bn, '' AS bv`,
      math ? `${props.isNumber(math)} AS hx, ${props.numberOf(math)} AS x` : null,
    ].filter(Boolean);
    const where = props.matcher(s);
    const rows = `(SELECT ${cols.join(', ')}
  FROM ${props.wrap(trackEvents(workspaceId, `event = ${lit(s.event)} AND (${within})`, traits, person))}
  WHERE ${where})`;
    const rank = q.breakdown
      ? `indexOf((SELECT arrayMap(_v -> (_v.2, _v.3), arraySlice(arraySort(groupArray((-n, bn, bv))), 1, ${q.breakdown.limit}))
    FROM (SELECT count() AS n, bn, bv FROM ${rows} WHERE cur GROUP BY bn, bv)), (bn, bv))`
      : '0';
    // Every row counts in its bucket and in the whole range (bucket -1): one pass for both.
    const ranked = `(SELECT *, bucket FROM (SELECT *, toUInt64(${rank}) AS rank, if(rank = 0 OR bn, NULL, bv) AS value FROM ${rows})
  ARRAY JOIN [b, toInt64(-1)] AS bucket)`;
    const v = `toNullable(toFloat64(${aggregate(s.math, 'arraySort(groupArrayIf(x, hx))')})) AS v`;
    return `SELECT toUInt8(${i}) AS series, cur, bucket = -1 AS whole, bucket, rank, value, ${v}
FROM ${ranked} GROUP BY cur, bucket, rank, value`;
  });
  return { sql: selects.join('\nUNION ALL\n'), params: [] };
}
