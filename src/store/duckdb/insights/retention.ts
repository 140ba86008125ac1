// Retention in one statement: each person's cohort periods (the period of their first start event ever, or every
// period they did it in), the periods in which they did the return event, and the distinct persons per cohort
// and period offset. Periods are local calendar units; offsets are counted on the truncated local times.
import { returnsEnd } from '../../../core/insight-shapes.ts';
import type { CompiledSql, RetentionQuery } from '../../../core/insights.ts';
import {
  filterRefs,
  localSql,
  matcherSql,
  Params,
  personJoin,
  TRUNC,
  traitsJoin,
  usesPerson,
} from './sql.ts';

const OFFSET: Record<RetentionQuery['period'], string> = {
  day: "datediff('day', c, b)",
  week: "datediff('day', c, b) // 7",
  month: "datediff('month', c, b)",
};

export function compileRetention(workspaceId: string, q: RetentionQuery): CompiledSql {
  const p = new Params();
  const ws = p.add(workspaceId);
  const from = p.time(q.range.from);
  const to = p.time(q.range.to);
  const end = returnsEnd(q);
  const unit = TRUNC[q.period];
  const names = [...new Set([q.start.event, q.return.event])].map((e) => p.add(e));
  // One scan and one identity join for both events (the join's hash table is most of the cost): every start
  // event before the range's end (first time ever) or in it, and the return events up to the last column.
  const since = q.cohort === 'first' ? '' : `AND e.timestamp >= ${from}`;
  const scope = `e.workspace_id = ${ws} AND e.type = 'track' AND list_contains([${names.join(', ')}], e.event)
    AND e.timestamp < ${p.time(Math.max(end, q.range.to.getTime()))} ${since}`;
  const pj = personJoin(p, workspaceId, scope);
  const traits = usesPerson(filterRefs([q.start, q.return])) ? traitsJoin(p, workspaceId, pj.person) : '';
  const ev = `ev AS MATERIALIZED (
  SELECT ${pj.person} AS person, e.timestamp AS t, ${matcherSql(p, q.start)} AS is_start, ${matcherSql(p, q.return)} AS is_return
  FROM events e ${pj.join} ${traits}
  WHERE ${scope}
)`;
  const cohortLocal = localSql(p, q.timezone, q.range.from.getTime(), q.range.to.getTime(), 't');
  const cohorts =
    q.cohort === 'first'
      ? `firsts AS (SELECT person, min(t) AS t FROM ev WHERE is_start AND t < ${to} GROUP BY person HAVING min(t) >= ${from}),
coh AS (SELECT person, date_trunc(${unit}, ${cohortLocal}) AS c FROM firsts)`
      : `coh AS (SELECT DISTINCT person, date_trunc(${unit}, ${cohortLocal}) AS c FROM ev WHERE is_start AND t < ${to})`;
  const returns = `ret AS (SELECT DISTINCT person, date_trunc(${unit}, ${localSql(p, q.timezone, q.range.from.getTime(), end, 't')}) AS b
  FROM ev WHERE is_return AND t >= ${from} AND t < ${p.time(end)})`;
  const sql = `WITH ${ev},
${cohorts},
${returns}
SELECT epoch_ms(c) AS c, 0 AS k, count(DISTINCT person) AS n FROM coh GROUP BY c
UNION ALL
SELECT epoch_ms(c), k, count(DISTINCT person) FROM (
  SELECT coh.person, c, ${OFFSET[q.period]} AS k FROM coh JOIN ret ON ret.person = coh.person AND ret.b > coh.c
) WHERE k < ${p.int(q.periods)} GROUP BY c, k`;
  return { sql, params: p.values };
}
