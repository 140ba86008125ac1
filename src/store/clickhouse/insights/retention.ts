// Retention in one statement and one scan: each person's cohort periods (the period of their first start event
// ever, or every period they did it in) and the periods in which they did the return event, as arrays per person,
// then the distinct persons per cohort and period offset. Periods are local calendar units (sql.ts truncSql); offsets are counted on them. Rows come
// back in the format core/insight-shapes.ts shapes (RetentionRow).
import { returnsEnd } from '../../../core/insight-shapes.ts';
import type { CompiledSql, RetentionQuery } from '../../../core/insights.ts';
import { litList } from '../http.ts';
import { filterRefs, localSql, Props, trackEvents, truncSql, usesPerson } from './sql.ts';

const DAY = 86_400_000;

/** Periods from cohort start `c` to period start `b`, both local ms at a period's start. */
const OFFSET: Record<RetentionQuery['period'], (b: string, c: string) => string> = {
  day: (b, c) => `intDiv(${b} - ${c}, ${DAY})`,
  week: (b, c) => `intDiv(${b} - ${c}, ${7 * DAY})`,
  month: (b, c) =>
    `toRelativeMonthNum(toDateTime(intDiv(${b}, 1000), 'UTC')) - toRelativeMonthNum(toDateTime(intDiv(${c}, 1000), 'UTC'))`,
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
  // One scan: per person, their cohort periods and the periods they returned in, as arrays.
  const cohorts =
    q.cohort === 'first'
      ? `if(countIf(is_start AND t < ${to}) > 0 AND minIf(t, is_start AND t < ${to}) >= ${from},
      [${bucket(`minIf(t, is_start AND t < ${to})`, to)}], emptyArrayInt64())`
      : `arrayDistinct(arrayMap(_t -> ${bucket('_t', to)}, groupArrayIf(t, is_start AND t >= ${from} AND t < ${to})))`;
  const returns = `arrayDistinct(arrayMap(_t -> ${bucket('_t', end)}, groupArrayIf(t, is_return AND t >= ${from} AND t < ${end})))`;
  const persons = `(SELECT person, ${cohorts} AS cs, ${returns} AS rs FROM ${ev} GROUP BY person)`;
  // Each cohort of a person with offset 0 and the offset of every later period they returned in.
  const offsets = `arrayConcat([toInt64(0)], arrayFilter(_k -> _k < ${q.periods},
    arrayMap(_b -> toInt64(${OFFSET[q.period]('_b', 'c')}), arrayFilter(_b -> _b > c, rs))))`;
  const sql = `SELECT c, k, uniqExact(person) AS n FROM (
  SELECT person, c, arrayJoin(${offsets}) AS k FROM (SELECT person, rs, c FROM ${persons} ARRAY JOIN cs AS c)
) GROUP BY c, k`;
  return { sql, params: [] };
}
