// Reading the data dictionary on ClickHouse (dictionary.ts writes it): the committed live rows of each key added up,
// and the tracking plan's violations summed from the events' context.violationErrors and the refused items.
// Answers are those of the embedded store (store/duckdb/dictionary-reads.ts); the contract checks both.
import { type DictionaryKind, dayOf, dayStart } from '../../pipeline/dictionary/observe.ts';
import {
  type DayCount,
  type NameDetail,
  type NameQuery,
  type NameSummary,
  type PathSummary,
  pathSummary,
  type TraitPage,
  type TraitQuery,
  type ViolationQuery,
  type ViolationSummary,
} from '../governance.ts';
import { foldExamples, liveRows, NAME_SQL } from './dictionary.ts';
import { type ChRow, type ClickHouse, lit } from './http.ts';
import { committed } from './schema.ts';

/** Each committed day of a workspace, added up (a day whose events were all deleted is left out). */
const DAYS = (ws: string) =>
  `(SELECT kind, name, day, sum(count) AS c, minIf(first_ms, count > 0) AS f, maxIf(last_ms, count > 0) AS l
      FROM ${liveRows('dictionary_days', `workspace_id = ${lit(ws)}`)} WHERE ${committed()}
     GROUP BY kind, name, day HAVING c > 0)`;

/** Each committed path of a workspace, added up, its examples' rows for foldExamples. */
const PATHS = (ws: string, where: string, having = '') =>
  `SELECT kind AS k, name AS n, path AS p, sum(count) AS c, sumForEach(types) AS t, minIf(first_ms, count > 0) AS f,
          maxIf(last_ms, count > 0) AS l, groupArray((seq, job, examples)) AS ex
     FROM ${liveRows('dictionary_paths', `workspace_id = ${lit(ws)} AND ${where}`)} WHERE ${committed()}
    GROUP BY kind, name, path HAVING c > 0 ${having}`;

const ORDER: Record<NameQuery['orderBy'], string> = {
  name: 'kind, name',
  count: 'n DESC, kind, name',
  lastSeen: 'ls DESC, kind, name',
};

const dayText = (day: number): string => dayStart(day).toISOString().slice(0, 10);
const key = (kind: unknown, name: unknown) => `${String(kind)}\u0000${String(name)}`;
const search = (col: string, s: string | undefined) =>
  s ? ` AND position(lowerUTF8(${col}), lowerUTF8(${lit(s)})) > 0` : '';

const toPath = (r: ChRow, total: number): PathSummary =>
  pathSummary(
    {
      path: String(r.p),
      count: Number(r.c),
      types: (r.t as unknown[]).map(Number),
      examples: foldExamples(r.ex as Array<[unknown, unknown, unknown]>),
      firstSeen: new Date(Number(r.f)),
      lastSeen: new Date(Number(r.l)),
    },
    total,
  );

async function volume(
  ch: ClickHouse,
  ws: string,
  names: Array<{ kind: string; name: string }>,
  from: Date,
): Promise<Map<string, DayCount[]>> {
  const out = new Map<string, DayCount[]>();
  if (names.length === 0) return out;
  const rows = await ch.rows(
    `SELECT kind, name, day, c FROM ${DAYS(ws)}
      WHERE day >= ${dayOf(from.getTime())} AND (kind, name) IN (${names.map((n) => `(${lit(n.kind)}, ${lit(n.name)})`).join(', ')})
      ORDER BY day`,
  );
  for (const r of rows) {
    const days = out.get(key(r.kind, r.name)) ?? [];
    days.push({ day: dayText(Number(r.day)), count: Number(r.c) });
    out.set(key(r.kind, r.name), days);
  }
  return out;
}

/** Each name's totals: events, first and last seen. */
const TOTALS = (ws: string, where = '', having = '') =>
  `SELECT kind, name, sum(c) AS n, min(f) AS fs, max(l) AS ls FROM ${DAYS(ws)} WHERE 1 ${where}
    GROUP BY kind, name ${having}`;

export async function listNames(
  ch: ClickHouse,
  ws: string,
  q: NameQuery,
): Promise<{ results: NameSummary[]; total: number }> {
  const where = ` AND kind IN ('track', 'page', 'screen')${q.kind ? ` AND kind = ${lit(q.kind)}` : ''}${search('name', q.search)}`;
  const having = q.seenSince ? `HAVING ls >= ${q.seenSince.getTime()}` : '';
  const rows = await ch.rows(
    `${TOTALS(ws, where, having)} ORDER BY ${ORDER[q.orderBy]} LIMIT ${q.limit} OFFSET ${q.offset}`,
  );
  const counted = await ch.rows(`SELECT count() AS n FROM (${TOTALS(ws, where, having)})`);
  const vol = await volume(
    ch,
    ws,
    rows.map((r) => ({ kind: String(r.kind), name: String(r.name) })),
    q.volumeFrom,
  );
  return {
    total: Number(counted[0]?.n ?? 0),
    results: rows.map((r) => ({
      kind: String(r.kind) as DictionaryKind,
      name: String(r.name),
      count: Number(r.n),
      firstSeen: new Date(Number(r.fs)),
      lastSeen: new Date(Number(r.ls)),
      volume: vol.get(key(r.kind, r.name)) ?? [],
    })),
  };
}

export async function getName(
  ch: ClickHouse,
  ws: string,
  kind: DictionaryKind,
  name: string,
  volumeFrom: Date,
): Promise<NameDetail | null> {
  const named = `kind = ${lit(kind)} AND name = ${lit(name)}`;
  const r = (await ch.rows(TOTALS(ws, ` AND ${named}`)))[0];
  if (!r) return null;
  const count = Number(r.n);
  const vol = await volume(ch, ws, [{ kind, name }], volumeFrom);
  const paths = await ch.rows(`${PATHS(ws, named)} ORDER BY path`);
  return {
    kind,
    name,
    count,
    firstSeen: new Date(Number(r.fs)),
    lastSeen: new Date(Number(r.ls)),
    volume: vol.get(key(kind, name)) ?? [],
    properties: paths.map((p) => toPath(p, count)),
  };
}

export async function listTraits(ch: ClickHouse, ws: string, q: TraitQuery): Promise<TraitPage> {
  const calls = await ch.rows(`SELECT sum(c) AS n FROM ${DAYS(ws)} WHERE kind = ${lit(q.kind)}`);
  const n = Number(calls[0]?.n ?? 0);
  const where = `kind = ${lit(q.kind)} AND name = ''${search('path', q.search)}`;
  const rows = await ch.rows(`${PATHS(ws, where)} ORDER BY path LIMIT ${q.limit} OFFSET ${q.offset}`);
  const counted = await ch.rows(`SELECT count() AS n FROM (${PATHS(ws, where)})`);
  return { calls: n, total: Number(counted[0]?.n ?? 0), results: rows.map((r) => toPath(r, n)) };
}

export async function seenSince(ch: ClickHouse, ws: string, since: Date): Promise<NameDetail[]> {
  const t = since.getTime();
  const names = await ch.rows(`${TOTALS(ws, '', `HAVING ls >= ${t}`)} ORDER BY kind, name`);
  const rows = await ch.rows(`${PATHS(ws, '1', `AND l >= ${t}`)} ORDER BY kind, name, path`);
  const byName = new Map<string, ChRow[]>();
  for (const r of rows) byName.set(key(r.k, r.n), [...(byName.get(key(r.k, r.n)) ?? []), r]);
  return names.map((n) => {
    const count = Number(n.n);
    return {
      kind: String(n.kind) as DictionaryKind,
      name: String(n.name),
      count,
      firstSeen: new Date(Number(n.fs)),
      lastSeen: new Date(Number(n.ls)),
      volume: [],
      properties: (byName.get(key(n.kind, n.name)) ?? []).map((p) => toPath(p, count)),
    };
  });
}

/** The distinct `kind`s of a violations array (JSON text), in order. */
function kindsOf(violations: unknown): string[] {
  if (!Array.isArray(violations)) return [];
  const out: string[] = [];
  for (const v of violations) {
    const k = (v as { kind?: unknown } | null)?.kind;
    if (typeof k === 'string' && !out.includes(k)) out.push(k);
  }
  return out;
}

function parse(text: unknown): Record<string, unknown> {
  try {
    const v = JSON.parse(String(text)) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** A refused item's type and dictionary name, from its payload (as the embedded store's ITEM_NAME). */
function itemName(payload: unknown): { type: string; event: string } {
  const p = parse(payload);
  const type = typeof p.type === 'string' ? p.type : '';
  const field = type === 'track' ? p.event : type === 'page' || type === 'screen' ? p.name : '';
  return { type, event: typeof field === 'string' ? field : '' };
}

interface Group {
  type: string;
  event: string;
  kind: string;
  days: Map<number, { flagged: number; rejected: number }>;
  lo: number;
  hi: number;
  se: string | null;
  sr: string | null;
}

/**
 * The violations are read from the rows that hold some (a text search narrows them in SQL, their JSON is read
 * here): the cost grows with the flagged events and refused items in the range, not with all events.
 */
export async function violations(
  ch: ClickHouse,
  ws: string,
  q: ViolationQuery,
): Promise<{ results: ViolationSummary[]; total: number }> {
  const range = (col: string) =>
    `${col} >= ${q.startDate.getTime()}${q.endDate ? ` AND ${col} <= ${q.endDate.getTime()}` : ''}`;
  const flagged = await ch.rows(
    `SELECT id, type, ${NAME_SQL} AS nm, received_at_ms AS at, context FROM events FINAL
      WHERE workspace_id = ${lit(ws)} AND ${committed()} AND ${range('received_at_ms')}
        AND position(context, '"violationErrors"') > 0`,
  );
  const refused = await ch.rows(
    `SELECT id, payload, received_at_ms AS at, violations FROM rejected FINAL
      WHERE workspace_id = ${lit(ws)} AND ${committed()} AND ${range('received_at_ms')}
        AND violations IS NOT NULL`,
  );
  const groups = new Map<string, Group>();
  const count = (type: string, event: string, kind: string, id: string, at: number, rejected: boolean) => {
    if (q.type !== undefined && type !== q.type) return;
    if (q.event !== undefined && event !== q.event) return;
    if (q.kind !== undefined && kind !== q.kind) return;
    const k = JSON.stringify([type, event, kind]);
    let g = groups.get(k);
    if (!g) {
      g = { type, event, kind, days: new Map(), lo: at, hi: at, se: null, sr: null };
      groups.set(k, g);
    }
    const day = dayOf(at);
    const d = g.days.get(day) ?? { flagged: 0, rejected: 0 };
    if (rejected) {
      d.rejected++;
      if (g.sr === null || id > g.sr) g.sr = id;
    } else {
      d.flagged++;
      if (g.se === null || id > g.se) g.se = id;
    }
    g.days.set(day, d);
    g.lo = Math.min(g.lo, at);
    g.hi = Math.max(g.hi, at);
  };
  for (const r of flagged) {
    const ctx = parse(r.context);
    if (!Array.isArray(ctx.violationErrors)) continue;
    for (const kind of kindsOf(ctx.violationErrors))
      count(String(r.type), String(r.nm), kind, String(r.id), Number(r.at), false);
  }
  for (const r of refused) {
    const { type, event } = itemName(r.payload);
    let list: unknown;
    try {
      list = JSON.parse(String(r.violations));
    } catch {
      list = [];
    }
    for (const kind of kindsOf(list)) count(type, event, kind, String(r.id), Number(r.at), true);
  }
  const all = [...groups.values()].map((g) => {
    const days = [...g.days].sort((a, b) => a[0] - b[0]);
    const sum = (f: 'flagged' | 'rejected') => days.reduce((s, [, d]) => s + d[f], 0);
    return {
      type: g.type,
      event: g.event,
      kind: g.kind,
      flagged: sum('flagged'),
      rejected: sum('rejected'),
      firstSeen: new Date(g.lo),
      lastSeen: new Date(g.hi),
      sampleEventId: g.se,
      sampleRejectedId: g.sr,
      days: days.map(([day, d]) => ({ day: dayText(day), ...d })),
    };
  });
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  all.sort(
    (a, b) =>
      b.flagged + b.rejected - (a.flagged + a.rejected) ||
      cmp(a.type, b.type) ||
      cmp(a.event, b.event) ||
      cmp(a.kind, b.kind),
  );
  return { total: all.length, results: all.slice(q.offset, q.offset + q.limit) };
}
