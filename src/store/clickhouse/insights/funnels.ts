// Funnels in one statement, on arrays: 18.16 has no window functions, and windowFunnel answers only how many
// steps a person reached (the answer also needs each step's time, for the median and mean times, and the start
// event, for the breakdown), and has no strict or unordered mode there. So each person's events (sorted by time,
// then id) become arrays, every start is one row (ARRAY JOIN), and each order follows the reference's definition
// (query/insights/reference/funnels.ts) with array functions:
//   ordered:   step k is the first later event of step k within the window (arrayFirstIndex), one level per step
//              (a step's index refers to the previous one: in one level 18.16 would expand it 2^n times);
//   strict:    step k is the event k - 1 places after the start;
//   unordered: the window [start, start + window] holds the events each step needs, counted per group of
//              identical steps (parse.ts makes steps of one name identical).
// Each person keeps the attempt that got furthest, the latest start on a tie (argMax on (depth, time, id)); then
// counts and times per breakdown value, ranked in an array (top `limit` by persons, ties by value, null last,
// the rest merged as "other", their times merged before the median). Rows: core/insight-shapes.ts FunnelRow.
import type { FunnelRow } from '../../../core/insight-shapes.ts';
import type { CompiledSql, FunnelQuery } from '../../../core/insights.ts';
import { litList } from '../http.ts';
import { filterRefs, medianSql, Props, personTraits, trackEvents, usesPerson } from './sql.ts';

const range1 = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

/** Columns of an attempt (a row per start, with the person's arrays T, ID, BN, BV, S1..Sn, G and i0): the levels
 * that add depth, t1..tn, bn and bv. */
function attempt(q: FunnelQuery, rows: string): string {
  const n = q.steps.length;
  const w = q.windowMs;
  const base = `SELECT *, T[i0] AS t0, ID[i0] AS id0 FROM ${rows}`;
  if (q.order === 'ordered') {
    let out = `(SELECT *, i0 AS a1 FROM (${base}))`;
    for (let k = 2; k <= n; k++) {
      const next = `arrayFirstIndex((_s, _t, _j) -> _j > a${k - 1} AND _s AND _t - t0 <= ${w}, S${k}, T, arrayEnumerate(T))`;
      out = `(SELECT *, if(a${k - 1} = 0, 0, ${next}) AS a${k} FROM ${out})`;
    }
    const depth = range1(n)
      .map((k) => `(a${k} > 0)`)
      .join(' + ');
    const times = range1(n).map((k) => `if(a${k} = 0, toInt64(0), T[a${k}]) AS t${k}`);
    return `(SELECT person, t0, id0, ${depth} AS depth, ${times.join(', ')}, BN[i0] AS bn, BV[i0] AS bv FROM ${out})`;
  }
  if (q.order === 'strict') {
    const ok = range1(n).map(
      (k) => `(S${k}[i0 + ${k - 1}] = 1 AND T[i0 + ${k - 1}] - t0 <= ${w} AND i0 + ${k - 1} <= length(T))`,
    );
    const times = range1(n).map((k) => `T[i0 + ${k - 1}] AS t${k}`);
    return `(SELECT person, t0, id0, arrayFirstIndex(_x -> _x = 0, [${ok.join(', ')}, 0]) - 1 AS depth,
      ${times.join(', ')}, BN[i0] AS bn, BV[i0] AS bv FROM (${base}))`;
  }
  // Unordered: per group, its events in the window; step k needs the c-th of its group (c: how many steps of
  // that group up to k), and is reached when the window holds it, at the latest of those times.
  const groupOf = q.steps.map((s) => q.steps.findIndex((x) => x.event === s.event));
  const groups = [...new Set(groupOf)];
  const inWindow = groups.map(
    (g) => `arrayFilter((_t, _g) -> _g = ${g} AND _t >= t0 AND _t - t0 <= ${w}, T, G) AS w${g}`,
  );
  const seen = new Map<number, number>();
  const avail: string[] = [];
  const times: string[] = [];
  groupOf.forEach((g, i) => {
    const c = (seen.get(g) ?? 0) + 1;
    seen.set(g, c);
    avail.push(`length(w${g}) >= ${c}`);
    times.push(i === 0 ? `w${g}[${c}] AS t1` : `greatest(t${i}, w${g}[${c}]) AS t${i + 1}`);
  });
  // The breakdown reads the window's first step-1 event; at one instant, the smallest value (null last).
  const first = `arraySort(arrayFilter((_p, _t, _g) -> _g = 0 AND _t = w0[1], arrayMap((_n, _v) -> (_n, _v), BN, BV), T, G))[1]`;
  return `(SELECT * FROM (SELECT person, t0, id0, ${inWindow.join(', ')},
      arrayFirstIndex(_x -> _x = 0, [${avail.join(', ')}, 0]) - 1 AS depth, ${times.join(', ')},
      ${first} AS fb, fb.1 AS bn, fb.2 AS bv FROM (${base})) WHERE depth >= 1)`;
}

export function compileFunnels(workspaceId: string, q: FunnelQuery): CompiledSql {
  const n = q.steps.length;
  const from = q.range.from.getTime();
  const to = q.range.to.getTime();
  const end = to + q.windowMs;
  const props = new Props();
  const eventBreakdown =
    q.breakdown && q.breakdown.property.source !== 'person' ? q.breakdown.property : null;
  const steps = q.steps.map((s, i) => `(${props.matcher(s)}) AS s${i + 1}`);
  const bd = eventBreakdown ? props.breakdown(eventBreakdown) : `toUInt8(1) AS bn, '' AS bv`;
  // A strict funnel reads every track event of the person (another event between two steps breaks a strict
  // sequence); the others only the steps' names, and only the rows matching a step.
  const names = litList(new Set(q.steps.map((s) => s.event)));
  const scope = `timestamp_ms >= ${from} AND timestamp_ms < ${end}${q.order === 'strict' ? '' : ` AND event IN ${names}`}`;
  const source = props.wrap(trackEvents(workspaceId, scope, usesPerson(filterRefs(q.steps))));
  const any =
    q.order === 'strict'
      ? ''
      : `WHERE ${range1(n)
          .map((k) => `s${k}`)
          .join(' OR ')}`;
  const ev = `(SELECT * FROM (SELECT person, t, id, ${bd}, ${steps.join(', ')} FROM ${source}) ${any})`;
  // One row per person who has a step-1 event that can start an attempt.
  const startable = q.order === 'unordered' ? 'max(s1)' : `max(s1 AND t >= ${from} AND t < ${to})`;
  const tuple = `(t, id, bn, bv, ${range1(n)
    .map((k) => `s${k}`)
    .join(', ')})`;
  const perPerson = `(SELECT person, arraySort(groupArray(${tuple})) AS ev FROM ${ev} GROUP BY person HAVING ${startable})`;
  const groupOf = q.steps.map((s) => q.steps.findIndex((x) => x.event === s.event));
  const arrays = [
    'arrayMap(_e -> _e.1, ev) AS T',
    'arrayMap(_e -> _e.2, ev) AS ID',
    'arrayMap(_e -> _e.3, ev) AS BN',
    'arrayMap(_e -> _e.4, ev) AS BV',
    ...range1(n).map((k) => `arrayMap(_e -> _e.${4 + k}, ev) AS S${k}`),
    q.order === 'unordered'
      ? `arrayMap(_e -> toInt8(multiIf(${range1(n)
          .map((k) => `_e.${4 + k}, ${groupOf[k - 1]}`)
          .join(', ')}, -1)), ev) AS G`
      : null,
    q.order === 'unordered'
      ? `arrayFilter((_j, _g, _t) -> _g >= 0 AND _t >= ${from} AND _t < ${to}, arrayEnumerate(T), G, T) AS starts`
      : `arrayFilter((_j, _s, _t) -> _s AND _t >= ${from} AND _t < ${to}, arrayEnumerate(T), S1, T) AS starts`,
  ].filter(Boolean);
  const starts = `(SELECT person, ${arrays.join(', ')} FROM ${perPerson}) ARRAY JOIN starts AS i0`;
  const attempts = attempt(q, `(SELECT *, i0 FROM ${starts})`);
  const times = range1(n).map((k) => `t${k}`);
  const best = `(SELECT person, argMax((depth, ${times.join(', ')}, bn, bv), (depth, t0, id0)) AS best FROM ${attempts} GROUP BY person)`;
  const flat = `(SELECT person, best.1 AS depth, ${times.map((t, i) => `best.${i + 2} AS ${t}`).join(', ')}, best.${n + 2} AS bn, best.${n + 3} AS bv FROM ${best})`;
  let valued = flat;
  if (q.breakdown && !eventBreakdown) {
    // A person trait: the person's value now.
    const traitProps = new Props();
    const value = traitProps.breakdown(q.breakdown.property);
    valued = `(SELECT depth, ${times.join(', ')}, ${value} FROM ${traitProps.wrap(personTraits(workspaceId, `SELECT person, depth, ${times.join(', ')} FROM ${flat}`))})`;
  }
  const counts = range1(n).map((k) => `countIf(depth >= ${k})`);
  const gaps = range1(n)
    .slice(1)
    .map((k) => `groupArrayIf(t${k} - t${k - 1}, depth >= ${k})`);
  const groups = `(SELECT count() AS n, bn, bv, [${counts.join(', ')}] AS cs, [${gaps.join(', ')}] AS gs FROM ${valued} GROUP BY bn, bv)`;
  const ranked = `(SELECT arraySort(groupArray((-toInt64(n), bn, bv, cs, gs))) AS rs FROM ${groups})`;
  const limit = q.breakdown ? q.breakdown.limit : 1;
  const rows = `(SELECT if(pos <= ${limit}, pos, 0) AS rank, r.2 AS bn, r.3 AS bv, r.4 AS cs, r.5 AS gs
  FROM ${ranked} ARRAY JOIN rs AS r, arrayEnumerate(rs) AS pos)`;
  const cols: string[] = ['sum(cs[1])'];
  for (let k = 2; k <= n; k++) {
    const sorted = `arraySort(groupArrayArray(gs[${k - 1}]))`;
    cols.push(
      `sum(cs[${k}])`,
      medianSql(sorted),
      `if(length(${sorted}) = 0, NULL, arraySum(${sorted}) / length(${sorted}))`,
    );
  }
  const sql = `SELECT rank, if(rank = 0 OR any(bn), NULL, any(bv)) AS value, ${cols.join(', ')}
FROM ${rows} GROUP BY rank ORDER BY rank = 0, rank`;
  return { sql, params: [] };
}

/** The statement's rows as FunnelRows (without a breakdown: the one group, as rank 0 with no value). */
export function funnelRows(q: FunnelQuery, data: unknown[][]): FunnelRow[] {
  return data.map((r) => (q.breakdown ? r : [0, null, ...r.slice(2)]) as FunnelRow);
}
