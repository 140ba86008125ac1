// Pages of events in an order, read in two steps: the page's positions from the order and filter columns
// alone, then whole rows only between its first and last position. Every value is a bound parameter; every
// identifier comes from ORDER_FIELDS.
//
// Why two steps, measured on the 10M bench set (bench/layout.ts, busy machine, same run): DuckDB's top-N
// carries every column of every candidate row to the sort (the JSON columns are ~1 KB an event), so a page of
// 1,000 by timestamp took 54-768 ms as one statement and 11-24 ms as two, at any depth; whole rows are read
// for the page's own events only.
import { DuckDBTimestampValue, type DuckDBValue } from '@duckdb/node-api';
import { EVENT_COLUMNS as CANONICAL } from '../../core/columns.ts';
import type { CanonicalEvent } from '../../core/event.ts';
import {
  type EventCursor,
  type EventPage,
  ORDER_FIELDS,
  type OrderField,
  TIME_ORDER_FIELDS,
} from '../types.ts';
import type { Db, Row } from './db.ts';
import { compareText } from './order-values.ts';
import { EVENT_COLUMNS, rowToEvent } from './schema.ts';

/** Adds a parameter to a statement and returns its placeholder. */
export type Bind = (v: DuckDBValue) => string;

/** A statement's parameters; placeholders are numbered, so parts of the text may be built in any order. */
export class Sql {
  readonly params: DuckDBValue[] = [];
  readonly bind: Bind = (v) => `$${this.params.push(v)}`;
}

/** Every column of an event, the JSON ones as their text. */
export const SELECT_EVENTS = EVENT_COLUMNS.map((c) =>
  c.sql.startsWith('JSON') ? `${c.name}::VARCHAR AS ${c.name}` : c.name,
).join(', ');

/**
 * How an order reads and compares: its column, the expression of its position's value (time in epoch
 * microseconds: a JS Date holds only milliseconds), and the comparisons towards its end and its start.
 */
export function orderOf(orderBy: OrderField, direction: 'ASC' | 'DESC') {
  const col = ORDER_FIELDS[orderBy];
  const time = TIME_ORDER_FIELDS.includes(orderBy);
  return {
    col,
    time,
    nullable: !CANONICAL.find((c) => c.column === col)?.notNull,
    key: time ? `epoch_us(${col})` : col,
    value: (v: string | number): DuckDBValue => (time ? new DuckDBTimestampValue(BigInt(v)) : String(v)),
    direction,
    fwd: direction === 'ASC' ? '>' : '<',
    back: direction === 'ASC' ? '<' : '>',
    sql: `${col} ${direction} NULLS LAST, id ${direction}`,
  };
}
export type Order = ReturnType<typeof orderOf>;

/**
 * The events strictly after `c` in the order (nulls last, then by id). The value comparison is also written
 * alone (`col <= v`), which DuckDB pushes into the scan: row groups past it are skipped by their zone maps.
 */
function after(o: Order, c: EventCursor, bind: Bind): string {
  if (c.value === null) return `(${o.col} IS NULL AND id ${o.fwd} ${bind(c.id)})`;
  const v = bind(o.value(c.value));
  // Nulls come last: a nullable column admits them on both sides; each side is a filter on one column or a
  // plain OR, and the first is what DuckDB pushes into the scan (wrapped whole in an OR, it pushed nothing and
  // the page read twice the rows: 34 against 18 ms for a page of 1,000 by time).
  const orNull = o.nullable ? `${o.col} IS NULL OR ` : '';
  return `(${orNull}${o.col} ${o.fwd}= ${v}) AND (${orNull}${o.col} ${o.fwd} ${v} OR id ${o.fwd} ${bind(c.id)})`;
}

/**
 * The events from `first` to `last` of a text order (both included, first not after last), as up to three
 * ranges made only of comparisons DuckDB pushes into the scan: the rest of first's value from its id, the values
 * strictly between, and last's value up to its id. A page of a low-cardinality order (event names) is thereby
 * read from its own rows (ids are time-ordered, so their zone maps skip too), not from every row sharing a value
 * at its ends.
 */
function between(o: Order, first: EventCursor, last: EventCursor): Array<(bind: Bind) => string> {
  const is = (c: EventCursor, bind: Bind) =>
    c.value === null ? `${o.col} IS NULL` : `${o.col} = ${bind(o.value(c.value))}`;
  if (first.value === last.value)
    return [(b) => `${is(first, b)} AND id ${o.fwd}= ${b(first.id)} AND id ${o.back}= ${b(last.id)}`];
  // first's value is not null: nulls come last, and last's value differs from it.
  const from = (b: Bind) => `${o.col} ${o.fwd} ${b(o.value(first.value as string | number))}`;
  return [
    (b) => `${is(first, b)} AND id ${o.fwd}= ${b(first.id)}`,
    (b) => (last.value === null ? from(b) : `${from(b)} AND ${o.col} ${o.back} ${b(o.value(last.value))}`),
    (b) => `${is(last, b)} AND id ${o.back}= ${b(last.id)}`,
  ];
}

/** Most values a page of a text order is read back by, one range each (byValue); past it, by `between`. */
const VALUE_RANGES = 8;

/**
 * The events of a text order's page spanning few values, as one range per value from its first to its last id
 * there (a page holds a value's events in one run). Measured on the 10M bench set (busy machine), a page of 1,000
 * across two names took 200-340 ms of CPU read by `between`, whose range of the values strictly between two
 * neighbours finds nothing but scans the column to know it, and ~55 ms read by value.
 */
function byValue(o: Order, page: EventCursor[]): Array<(bind: Bind) => string> | null {
  const ids = new Map<string | number | null, { lo: string; hi: string }>();
  for (const c of page) {
    const run = ids.get(c.value);
    if (!run) {
      if (ids.size === VALUE_RANGES) return null;
      ids.set(c.value, { lo: c.id, hi: c.id });
    } else if (compareText(c.id, run.lo) < 0) run.lo = c.id;
    else if (compareText(c.id, run.hi) > 0) run.hi = c.id;
  }
  return [...ids].map(([v, { lo, hi }]) => (bind: Bind) => {
    const is = v === null ? `${o.col} IS NULL` : `${o.col} = ${bind(o.value(v))}`;
    return `${is} AND id >= ${bind(lo)} AND id <= ${bind(hi)}`;
  });
}

/** DuckDB's rows per row group, the unit its zone maps skip (its default; a database made otherwise only reads more). */
const ROW_GROUP = 122_880;

/**
 * Groups a page's events, given by receive time (epoch µs) and row group, into at most `most` runs of receive
 * time [first, last], a new run wherever the next event lies beyond the next row group. The events table is
 * stored in arrival order, so the events of one user scattered over months fall in as many row groups, each read
 * alone (as a plain range DuckDB skips row groups by), while a page of consecutive events stays one run: read
 * as many ranges, the 100 events of one name in a week took 246 ms against 6 (10M bench set). Past `most` runs,
 * the closest in time are merged.
 */
export function runsOf(points: Array<{ r: number; g: number }>, most = 16): Array<[number, number]> {
  const sorted = [...points].sort((x, y) => x.r - y.r);
  const runs: Array<[number, number]> = [];
  let prev: { r: number; g: number } | undefined;
  for (const p of sorted) {
    const run = runs.at(-1);
    if (run && prev && Math.abs(p.g - prev.g) <= 1) run[1] = p.r;
    else runs.push([p.r, p.r]);
    prev = p;
  }
  return mergeRuns(runs, most);
}

/** Merges the closest of `runs` (sorted, disjoint [first, last] ranges) until at most `most` remain. */
export function mergeRuns(runs: Array<[number, number]>, most: number): Array<[number, number]> {
  while (runs.length > most) {
    let at = 1;
    for (let i = 2; i < runs.length; i++) {
      const gap = (i: number) => (runs[i] as [number, number])[0] - (runs[i - 1] as [number, number])[1];
      if (gap(i) < gap(at)) at = i;
    }
    const [merged] = runs.splice(at, 1) as [[number, number]];
    (runs[at - 1] as [number, number])[1] = merged[1];
  }
  return runs;
}

const cursorOf = (r: Row): EventCursor => ({
  value: r.k === null || r.k === undefined ? null : typeof r.k === 'bigint' ? Number(r.k) : String(r.k),
  id: String(r.id),
});

/** A WHERE condition over the events table, binding its own parameters. */
export type Source = (bind: Bind) => string;

/** A time in epoch microseconds, as a parameter. */
export const us = (v: number): DuckDBValue => new DuckDBTimestampValue(BigInt(v));

export interface PageArgs {
  limit: number;
  offset: number;
  after?: EventCursor | undefined;
  count?: boolean | undefined;
}

/** The columns the first step reads of each position, from source `s`. */
const positionOf = (o: Order, s: number) =>
  `SELECT ${o.key} AS k, id, ${o.col}, epoch_us(received_at) AS r, rowid // ${ROW_GROUP} AS g, ${s} AS s FROM events`;

/** One statement over every source: each branch's WHERE `where(source, bind)`, ordered and limited. */
function positions(
  sources: Source[],
  o: Order,
  q: Sql,
  where: (source: Source) => string,
  order: string,
  limit: number,
) {
  const branches = sources.map((source, s) => `${positionOf(o, s)} WHERE ${where(source)}`);
  // One source is read directly, so DuckDB's top-N sits on the scan (it then reads row groups in the order's
  // direction and skips those its heap already excludes).
  const from =
    branches.length === 1 ? (branches[0] as string) : `SELECT * FROM (${branches.join(' UNION ALL ')})`;
  return `${from} ORDER BY ${order} LIMIT ${q.bind(limit)}`;
}

/** Values read one by one in a page (the cursor's own not counted) before the rest is left to one top-N. */
export const VALUES_BEFORE_TOP_N = 4;

/**
 * The first step of a page in an order of few values (event, type: order-values.ts), `values` being a superset of
 * the column's values in ascending order, nulls last: the rest of the cursor's value (`col = v AND id > c ORDER
 * BY id LIMIT n`), then each following value from its start, until `want` positions are found. Ids are
 * time-ordered, so each statement's top-N on id skips row groups by their zone maps once its heap is full: a
 * page of 1,000 in one value took ~18 ms of CPU against ~570 for the top-N over (event, id), which reads `id` of
 * nearly every row, names being spread over every row group (10M bench set). A value with fewer events than the
 * page needs is read whole, which scans its column (~70 ms for one with none): after VALUES_BEFORE_TOP_N of
 * them, the rest of the page comes from the top-N over the values after the last one read.
 */
async function positionsByValue(
  db: Db,
  sources: Source[],
  o: Order,
  after: EventCursor | undefined,
  want: number,
  values: ReadonlyArray<string | null>,
): Promise<Row[]> {
  const text = values.filter((v): v is string => v !== null);
  const inOrder = [
    ...(o.direction === 'ASC' ? text : text.reverse()),
    ...(values.includes(null) ? [null] : []),
  ];
  const found: Row[] = [];
  const read = async (where: (bind: Bind) => string, order: string) => {
    const q = new Sql();
    const sql = positions(
      sources,
      o,
      q,
      (source) => `${source(q.bind)} AND ${where(q.bind)}`,
      order,
      want - found.length,
    );
    found.push(...(await db.all(sql, q.params)));
  };
  const is = (v: string | null, bind: Bind) => (v === null ? `${o.col} IS NULL` : `${o.col} = ${bind(v)}`);
  const byId = `id ${o.direction}`;
  let i = 0;
  if (after) {
    const v = after.value === null ? null : String(after.value);
    // No id is below '' (a cursor made to start at a value's end): DuckDB scanned the whole column to find that.
    if (!(o.direction === 'DESC' && after.id === ''))
      await read((b) => (after.id === '' ? is(v, b) : `${is(v, b)} AND id ${o.fwd} ${b(after.id)}`), byId);
    // The first value after the cursor's: none after null (last).
    const beyond = (x: string | null) =>
      v !== null && (x === null || (o.direction === 'ASC' ? compareText(x, v) > 0 : compareText(x, v) < 0));
    i = inOrder.findIndex(beyond);
    if (i < 0) i = inOrder.length;
  }
  for (let n = 0; i < inOrder.length && found.length < want; i++, n++) {
    const v = inOrder[i] as string | null;
    if (n === VALUES_BEFORE_TOP_N) {
      // Every value after the last one read (not null: null is last); nulls come last.
      const last = inOrder[i - 1] as string;
      const orNull = o.nullable ? `${o.col} IS NULL OR ` : '';
      await read((b) => `(${orNull}${o.col} ${o.fwd} ${b(last)})`, o.sql);
      break;
    }
    await read((b) => is(v, b), byId);
  }
  return found;
}

/**
 * A page of the events matching any of `sources` (each a WHERE condition binding its own parameters; their
 * events must not overlap) in the order `o`, starting after `p.after` or `p.offset` events in. Given `values` (a
 * superset of the order column's values: order-values.ts), a page by cursor is found value by value. The second
 * step keeps only the events the first found: one loaded between the two did not exist when they began, so
 * leaving it out skips no one. A first page shorter than its limit tells the total; otherwise counting scans the
 * filters again, unless `p.count` is false (total null).
 */
export async function readPage(
  db: Db,
  sources: Source[],
  o: Order,
  p: PageArgs,
  values?: ReadonlyArray<string | null> | null,
): Promise<EventPage> {
  if (sources.length === 0) return { results: [], total: 0, next: null };
  let found: Row[];
  if (values && p.offset === 0) found = await positionsByValue(db, sources, o, p.after, p.limit + 1, values);
  else {
    const keys = new Sql();
    // Each position comes with its receive time (r), row group (g) and source (s), which the second step reads by.
    const where = (source: Source) =>
      p.after ? `${source(keys.bind)} AND ${after(o, p.after, keys.bind)}` : source(keys.bind);
    const sql = `${positions(sources, o, keys, where, o.sql, p.limit + 1)} OFFSET ${keys.bind(p.offset)}`;
    found = await db.all(sql, keys.params);
  }
  const page = found.slice(0, p.limit);
  const lastRow = page.at(-1);
  const next = found.length > p.limit && lastRow ? cursorOf(lastRow) : null;
  let results: CanonicalEvent[] = [];
  if (page.length > 0) {
    const rows = new Sql();
    let reads: string[];
    if (o.time) {
      // By runs of receive time and row group: the events table is stored in arrival order (see runsOf).
      const times = page.map((r) => ({ r: Number(r.r), g: Number(r.g), s: Number(r.s) }));
      reads = runsOf(times).flatMap(([lo, hi]) =>
        [...new Set(times.filter((t) => t.r >= lo && t.r <= hi).map((t) => t.s))].map((s) => {
          const range = `received_at >= ${rows.bind(us(lo))} AND received_at <= ${rows.bind(us(hi))}`;
          return `SELECT ${SELECT_EVENTS} FROM events WHERE ${(sources[s] as Source)(rows.bind)} AND ${range}`;
        }),
      );
    } else {
      const ranges =
        byValue(o, page.map(cursorOf)) ?? between(o, cursorOf(page[0] as Row), cursorOf(lastRow as Row));
      reads = sources.flatMap((where) =>
        ranges.map(
          (range) => `SELECT ${SELECT_EVENTS} FROM events WHERE ${where(rows.bind)} AND ${range(rows.bind)}`,
        ),
      );
    }
    const wanted = new Set(page.map((r) => String(r.id)));
    results = (await db.all(`${reads.join(' UNION ALL ')} ORDER BY ${o.sql}`, rows.params))
      .filter((r) => wanted.has(String(r.id)))
      .map(rowToEvent);
  }
  if (!p.after && found.length <= p.limit && (found.length > 0 || p.offset === 0))
    return { results, total: p.offset + found.length, next };
  if (p.count === false) return { results, total: null, next };
  const count = new Sql();
  const counts = sources.map((where) => `SELECT count(*) AS n FROM events WHERE ${where(count.bind)}`);
  const n = await db.all(`SELECT sum(n)::BIGINT AS n FROM (${counts.join(' UNION ALL ')})`, count.params);
  return { results, total: Number(n[0]?.n ?? 0), next };
}
