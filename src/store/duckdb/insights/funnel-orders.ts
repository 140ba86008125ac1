// The attempts of each funnel order, as CTEs over `ev` (one row per event of a person, with s1..sn telling
// which steps it matches) that end in `best` (ordered) or `cand` (strict, unordered: every attempt with its
// depth and ordering key). funnels.ts counts them.
//
// ordered: a dynamic programme, one window pass per step. For each event, the best attempt that reached step k
// before it (the latest start, its earliest completion) is a window over the events before it; an event of
// step k + 1 extends it when it lies within the window of that start. Keeping only the latest start is exact: a
// later start leaves more of the window. Each pass keeps only the rows later passes need (attempts, and events
// of later steps), so passes after the first are small. Tried against one ASOF JOIN per step (a greedy chain from every start):
// as costly, and wrong in a first attempt; the DP needs no row numbers.
// strict: the steps are consecutive events of the person, so one pass of lag() finds every chain.
// unordered: one pass of RANGE windows counts each step's events in the window after every event.
import type { FunnelQuery } from '../../../core/insights.ts';
import type { Params } from './sql.ts';

export const ts = (k: number) => `t${k}`;

/** The attempt struct: start time, start event id, breakdown value, then the time of each step reached. */
function chain(n: number, fields: Record<string, string>): string {
  const all: string[] = [
    `t1 := ${fields.t1 ?? 'NULL::TIMESTAMP'}`,
    `id1 := ${fields.id1 ?? 'NULL::VARCHAR'}`,
    `bd := ${fields.bd ?? 'NULL::VARCHAR'}`,
  ];
  for (let k = 2; k <= n; k++) all.push(`${ts(k)} := ${fields[ts(k)] ?? 'NULL::TIMESTAMP'}`);
  return `struct_pack(${all.join(', ')})`;
}

/** `prev` (an attempt at step k - 1) extended with step k at `at`. */
function extend(n: number, prev: string, k: number, at: string): string {
  const f: Record<string, string> = { t1: `${prev}.t1`, id1: `${prev}.id1`, bd: `${prev}.bd` };
  for (let j = 2; j < k; j++) f[ts(j)] = `${prev}.${ts(j)}`;
  f[ts(k)] = at;
  return chain(n, f);
}

/** Orders attempts: further, then later start (time, then event id), then earlier completion. */
const key = (depth: string, c: string, last: string) =>
  `struct_pack(d := ${depth}, a := epoch_us(${c}.t1), b := ${c}.id1, c := -epoch_us(${last}))`;

const WINDOW_BEFORE = 'PARTITION BY person ORDER BY ts, id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING';

export function ordered(n: number, to: string, w: string, breakdown: boolean): string[] {
  const out: string[] = [];
  const within = `epoch_ms(ts) - epoch_ms(prev.t1) <= ${w}`;
  const steps = (k: number) => Array.from({ length: n - k }, (_, i) => `, s${k + i + 1}`).join('');
  // Level 1: the latest start before each event (the last one in time order: last_value, a third cheaper than
  // an arg_max over the struct); c: an event of step 2 extending it.
  out.push(`l1 AS (
  SELECT person, ts, id${steps(1)}, prev IS NOT NULL AS has,
    CASE WHEN s2 AND prev IS NOT NULL AND ${within} THEN ${extend(n, 'prev', 2, 'ts')} END AS c
  FROM (SELECT *, last_value(CASE WHEN s1 AND ts < ${to} THEN ${chain(n, { t1: 'ts', id1: 'id', bd: 'bd' })} END IGNORE NULLS)
          OVER (${WINDOW_BEFORE}) AS prev FROM ev)
)`);
  for (let k = 2; k < n; k++) {
    // Only the rows later levels need: attempts at step k, and events of a later step that have an attempt at
    // step k - 1 before them (else no attempt can reach them).
    const later = Array.from({ length: n - k }, (_, i) => `s${k + i + 1}`).join(' OR ');
    out.push(`l${k} AS (
  SELECT person, ts, id${steps(k)}, prev IS NOT NULL AS has,
    CASE WHEN s${k + 1} AND prev IS NOT NULL AND ${within} THEN ${extend(n, 'prev', k + 1, 'ts')} END AS c
  FROM (SELECT person, ts, id${steps(k)}, arg_max(c, CASE WHEN c IS NOT NULL THEN ${key('0', 'c', `c.${ts(k)}`)} END)
          OVER (${WINDOW_BEFORE}) AS prev
        FROM l${k - 1} WHERE c IS NOT NULL OR ((${later}) AND has))
)`);
  }
  const deep: string[] = [];
  for (let k = 2; k <= n; k++) {
    deep.push(
      `SELECT person, ${k} AS depth, c, ${key(String(k), 'c', `c.${ts(k)}`)} AS k FROM l${k - 1} WHERE c IS NOT NULL`,
    );
  }
  // Persons who got past step 1 (few) choose among their attempts; the others only need their latest start's
  // breakdown value.
  out.push(
    `deep AS (SELECT person, max(depth) AS depth, arg_max(c, k) AS c FROM (${deep.join('\n  UNION ALL ')}) GROUP BY person)`,
  );
  out.push(
    breakdown
      ? `starts AS (SELECT person, arg_max_null(bd, struct_pack(a := ts, b := id)) AS bd FROM matching WHERE s1 AND ts < ${to} GROUP BY person)`
      : `starts AS (SELECT DISTINCT person, NULL::VARCHAR AS bd FROM matching WHERE s1 AND ts < ${to})`,
  );
  out.push(`best AS (
  SELECT s.person, coalesce(d.depth, 1) AS depth, d.c, CASE WHEN d.depth IS NULL THEN s.bd ELSE d.c.bd END AS bd
  FROM starts s LEFT JOIN deep d ON d.person = s.person
)`);
  return out;
}

export function strict(n: number, from: string, to: string, w: string): string {
  // For each event and each length j, whether the j events ending with it are steps 1..j (lag(x, d): d events back).
  const lag = (x: string, d: number) => (d === 0 ? x : `lag(${x}, ${d}) OVER s`);
  const branches: string[] = [];
  for (let j = n; j >= 1; j--) {
    const conds = [`s${j}`];
    for (let d = 1; d < j; d++) conds.push(`coalesce(${lag(`s${j - d}`, d)}, false)`);
    const start = lag('ts', j - 1);
    conds.push(`${start} >= ${from}`, `${start} < ${to}`, `epoch_ms(ts) - epoch_ms(${start}) <= ${w}`);
    const f: Record<string, string> = { t1: start, id1: lag('id', j - 1), bd: lag('bd', j - 1) };
    for (let k = 2; k <= j; k++) f[ts(k)] = lag('ts', j - k);
    branches.push(`WHEN ${conds.join(' AND ')} THEN {'depth': ${j}, 'c': ${chain(n, f)}}`);
  }
  return `longest AS (
  SELECT person, CASE ${branches.join('\n    ')} END AS x
  FROM ev WINDOW s AS (PARTITION BY person ORDER BY ts, id)
),
cand AS (SELECT person, x.depth AS depth, x.c AS c, ${key('x.depth', 'x.c', 'x.c.t1')} AS k FROM longest WHERE x IS NOT NULL)`;
}

export function unordered(p: Params, q: FunnelQuery, n: number, to: string): string[] {
  // Steps of one event are identical (parse.ts): their group is the first step with that event.
  const groupOf = q.steps.map((s) => q.steps.findIndex((x) => x.event === s.event));
  const grp = `CASE ${q.steps.map((_, i) => `WHEN s${i + 1} THEN ${groupOf[i]}`).join(' ')} END`;
  const nth = new Map<string, string>();
  const cols: string[] = [];
  const need = new Map<number, number>();
  const completions: string[] = [];
  const conds: string[] = [];
  for (let k = 0; k < n; k++) {
    const g = groupOf[k] as number;
    need.set(g, (need.get(g) ?? 0) + 1);
    const c = need.get(g) as number;
    const name = `n${g}_${c}`;
    if (!nth.has(name)) {
      nth.set(name, name);
      cols.push(`nth_value(CASE WHEN g = ${g} THEN ts END, ${c} IGNORE NULLS) OVER w AS ${name}`);
    }
    // Step k + 1 is reached when every group has the events steps 1..k+1 need: at the latest of those times.
    const prefix = [...need].map(([gg, cc]) => `n${gg}_${cc}`);
    conds.push(prefix.map((x) => `${x} IS NOT NULL`).join(' AND '));
    completions.push(`greatest(${prefix.join(', ')})`);
  }
  const depth = conds.map((c) => `(${c})::INTEGER`).join(' + ');
  const f: Record<string, string> = {
    t1: `CASE WHEN depth >= 1 THEN ${completions[0]} END`,
    id1: 'id',
    bd: 'first_bd',
  };
  for (let k = 2; k <= n; k++) f[ts(k)] = `CASE WHEN depth >= ${k} THEN ${completions[k - 1]} END`;
  // The breakdown reads the window's first step-1 event; at one instant, the smallest value (null last).
  // arg_min_null: arg_min skips rows whose value is NULL.
  const firstBd = `arg_min_null(bd, CASE WHEN g = 0 THEN struct_pack(t := ts, n := bd IS NULL, v := coalesce(bd, '')) END) OVER w AS first_bd`;
  return [
    `win AS (
  SELECT person, ts, id, ${cols.join(', ')}, ${firstBd}
  FROM (SELECT *, ${grp} AS g FROM ev)
  WINDOW w AS (PARTITION BY person ORDER BY epoch_ms(ts) RANGE BETWEEN CURRENT ROW AND ${p.int(q.windowMs)} FOLLOWING)
  QUALIFY ts < ${to}
)`,
    `cand AS (
  SELECT person, depth, ${chain(n, f)} AS c, struct_pack(d := depth, a := epoch_us(ts), b := id) AS k
  FROM (SELECT *, ${depth} AS depth FROM win) WHERE depth >= 1
)`,
  ];
}
