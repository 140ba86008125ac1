// Retention in one statement: each person's cohort periods (the period of their first start event ever, or every
// period they did it in), the periods in which they did the return event, and the distinct persons per cohort
// and period offset. Periods are local calendar units (sql.ts truncSql); offsets are counted on them. Rows come
// back in the format core/insight-shapes.ts shapes (RetentionRow).
import { returnsEnd } from '../../../core/insight-shapes.ts';
import type { CompiledSql, RetentionQuery } from '../../../core/insights.ts';
import { litList } from '../http.ts';
import { filterRefs, localSql, Props, trackEvents, truncSql, usesPerson } from './sql.ts';

const DAY = 86_400_000;

/** Periods from cohort start `c` to period start `b`, both local ms at a period's start. */
const OFFSET: Record<RetentionQuery['period'], string> = {
  day: `intDiv(b - c, ${DAY})`,
  week: `intDiv(b - c, ${7 * DAY})`,
  month:
    "toRelativeMonthNum(toDateTime(intDiv(b, 1000), 'UTC')) - toRelativeMonthNum(toDateTime(intDiv(c, 1000), 'UTC'))",
};

export function compileRetention(workspaceId: string, q: RetentionQuery): CompiledSql {
  const from = q.range.from.getTime();
  const to = q.range.to.getTime();
  const end = returnsEnd(q);
  const props = new Props();
  const isStart = props.matcher(q.start);
  const isReturn = props.matcher(q.return);
  const traits = usesPerson(filterRefs([q.start, q.return]));
  // Every start event before the range's end (first time ever) or in it, and the return events up to the last
  // column.
  const since = q.cohort === 'first' ? '' : `AND timestamp_ms >= ${from}`;
  const scope = `event IN ${litList(new Set([q.start.event, q.return.event]))} AND timestamp_ms < ${Math.max(end, to)} ${since}`;
  const ev = `(SELECT person, t, ${isStart} AS is_start, ${isReturn} AS is_return
  FROM ${props.wrap(trackEvents(workspaceId, scope, traits))})`;
  const bucket = (t: string, until: number) => truncSql(localSql(q.timezone, from, until, t), q.period);
  const coh =
    q.cohort === 'first'
      ? `(SELECT person, ${bucket('mt', to)} AS c FROM (
    SELECT person, min(t) AS mt FROM ${ev} WHERE is_start AND t < ${to} GROUP BY person HAVING mt >= ${from}))`
      : `(SELECT DISTINCT person, ${bucket('t', to)} AS c FROM ${ev} WHERE is_start AND t >= ${from} AND t < ${to})`;
  const ret = `(SELECT DISTINCT person, ${bucket('t', end)} AS b FROM ${ev} WHERE is_return AND t >= ${from} AND t < ${end})`;
  const sql = `SELECT c, toInt64(0) AS k, uniqExact(person) AS n FROM ${coh} GROUP BY c
UNION ALL
SELECT c, k, uniqExact(person) AS n FROM (
  SELECT c, toInt64(${OFFSET[q.period]}) AS k, person FROM ${coh} ALL INNER JOIN ${ret} USING person WHERE b > c
) WHERE k < ${q.periods} GROUP BY c, k`;
  return { sql, params: [] };
}
