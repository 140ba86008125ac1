// JSON paths on ClickHouse 18.16, which has no JSONExtract* and whose visitParamExtract* find a key at any depth
// (the first `"plan":` anywhere, nested or not). So a path is read exactly, in SQL: the JSON text is split into
// tokens (strings, punctuation, scalars) by one regular expression, and the depth after each token is the running
// sum of opening minus closing brackets. A value at level k starts at a token index s and ends at the first token
// from s on whose depth is back to k; each step of the path finds, strictly inside that range, its key among the
// tokens at depth k+1 followed by ':' (its value starting two tokens later), or its element among those after the
// '[' or after a ',' at depth k+1. The value's text is that of its tokens joined, without the whitespace between
// them (the stored JSON, written by JSON.stringify, has none). A missing value is ''. A string is unescaped by
// visitParam on a one-key object, where the first key is the only one. Keys compare as JSON.stringify writes them.
//
// 18.16 expands aliases before it runs a query, so a name used n times is its text n times: every value used more
// than once is bound once as a lambda's parameter instead (`arrayMap(x -> body, [value])[1]`), keeping a path of
// n steps O(n) in size.
import { lit } from '../http.ts';

/** A step: an object's key, or an array's element (1-based, negative from the end, as ClickHouse counts). */
export type Step = { key: string } | { index: number };

const TOKENS = String.raw`"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s"{}\[\]:,]+`;

/** `body` with `name` bound to `value`, computed once. */
const bind = (name: string, value: string, body: string) => `arrayMap(${name} -> ${body}, [${value}])[1]`;

/** Builds path expressions; `fresh` gives names no other expression of the query uses. */
export class JsonPaths {
  constructor(private readonly fresh: () => string) {}

  /**
   * `body(names)` over the tokens of the JSON text `v`: t, depth d, next n, previous p, previous depth pd, index e,
   * all of t's length (the lambdas over them need equal lengths, an empty text's included).
   */
  private tokens(v: string, body: (x: Record<'t' | 'd' | 'n' | 'p' | 'pd' | 'e', string>) => string): string {
    // Only the tokens and their depths are bound: a bound value is copied into every lambda nested under it, so
    // the arrays derived from them are written where they are used instead (each a cheap pass over t or d).
    const t = this.fresh();
    const d = this.fresh();
    const x = {
      t,
      d,
      n: `arraySlice(arrayPushBack(${t}, ''), 2, length(${t}))`,
      p: `arraySlice(arrayPushFront(${t}, ''), 1, length(${t}))`,
      pd: `arraySlice(arrayPushFront(${d}, 0), 1, length(${d}))`,
      e: `arrayEnumerate(${t})`,
    };
    const delta = `arrayMap(c -> multiIf(c = '{' OR c = '[', 1, c = '}' OR c = ']', -1, 0), ${t})`;
    return bind(t, `extractAll(ifNull(${v}, ''), ${lit(TOKENS)})`, bind(d, `arrayCumSum(${delta})`, body(x)));
  }

  /**
   * The text of the value at `path` of the JSON text `json` ('' when missing). Tokenizing costs ~7 µs a row on
   * 18.16 (bench/clickhouse-sql.ts), so two cases skip it: a text without the first key's quoted name anywhere
   * (missing), and a flat object (no bracket but the first, no escaped quote, no space before a colon), where the
   * first `"key":` is the key itself and visitParamExtractRaw reads it exactly. 18.16 computes both branches of an
   * if(), so the tokenizing is mapped over an array that is empty for those rows: a lambda over no element runs no
   * code.
   */
  raw(json: string, path: Step[]): string {
    const first = path[0];
    if (first === undefined || !('key' in first) || JSON.stringify(first.key) !== `"${first.key}"`)
      return this.tokenized(json, path);
    const v = this.fresh();
    const x = this.fresh();
    const absent = `position(${v}, ${lit(JSON.stringify(first.key))}) = 0`;
    const flat = `(position(substring(${v}, 2), '{') = 0 AND position(${v}, '[') = 0 AND position(${v}, ${lit('\\"')}) = 0 AND NOT match(${v}, ${lit('"\\s+:')}))`;
    const fast = path.length === 1 ? `visitParamExtractRaw(${v}, ${lit(first.key)})` : "''";
    const slow = `arrayStringConcat(arrayMap(${x} -> ${this.tokenized(x, path)}, if(${absent} OR ${flat}, emptyArrayString(), [${v}])))`;
    return bind(v, `ifNull(${json}, '')`, `multiIf(${absent}, '', ${flat}, ${fast}, ${slow})`);
  }

  /** raw() by tokenizing every row. */
  private tokenized(json: string, path: Step[]): string {
    return this.tokens(json, ({ t, d, n, p, pd, e }) => {
      // The first token index from s on whose depth is `level`: the end of the value at level `level` starting at s.
      const end = (s: string, level: number) =>
        `arrayFirstIndex((dd, idx) -> idx >= ${s} AND dd = ${level}, ${d}, ${e})`;
      const names = path.map(() => this.fresh());
      const last = names.at(-1);
      let body =
        last === undefined
          ? `arrayStringConcat(${t})`
          : `if(${last} = 0, '', arrayStringConcat(arraySlice(${t}, ${last}, ${end(last, path.length)} - ${last} + 1)))`;
      for (let k = path.length; k >= 1; k--) {
        const step = path[k - 1] as Step;
        const s = k === 1 ? `if(length(${t}) > 0, 1, 0)` : (names[k - 2] as string);
        const stop = this.fresh();
        const at = this.fresh();
        let start: string;
        if ('key' in step) {
          const find = `arrayFirstIndex((x, dd, nx, idx) -> idx > ${at} AND idx < ${stop} AND dd = ${k} AND x = ${lit(JSON.stringify(step.key))} AND nx = ':', ${t}, ${d}, ${n}, ${e})`;
          start = `if(${at} > 0 AND ${t}[${at}] = '{', arrayMap(i -> if(i = 0, 0, i + 2), [${find}])[1], 0)`;
        } else {
          const starts = `arrayFilter((idx, x, pt, pdd) -> idx > ${at} AND idx < ${stop} AND x != ']' AND (idx = ${at} + 1 OR (pt = ',' AND pdd = ${k})), ${e}, ${t}, ${p}, ${pd})`;
          start = `if(${at} > 0 AND ${t}[${at}] = '[', ${starts}[${step.index}], 0)`;
        }
        body = bind(at, s, bind(stop, end(at, k - 1), bind(names[k - 1] as string, start, body)));
      }
      return body;
    });
  }

  /** A JSON value's text as a string: unescaped when it is a JSON string, else `otherwise`. */
  static unescaped(r: string, otherwise: string): string {
    return `if(startsWith(${r}, '"'), visitParamExtractString(concat('{"a":', ${r}, '}'), 'a'), ${otherwise})`;
  }

  /** The number of elements of an array, or keys of an object, of the JSON text `r`; else 0. */
  length(r: string): string {
    return this.tokens(r, ({ t, d, n }) => {
      const keys = `arrayCount((dd, nx) -> dd = 1 AND nx = ':', ${d}, ${n})`;
      const elements = `if(${t}[2] = ']', 0, arrayCount((x, dd) -> x = ',' AND dd = 1, ${t}, ${d}) + 1)`;
      return `toInt64(multiIf(${t}[1] = '{', ${keys}, ${t}[1] = '[', ${elements}, 0))`;
    });
  }
}

/** `body(name)` with `name` bound to the JSON value's text `r`, so that `r` is computed once. */
export function withValue(fresh: () => string, r: string, body: (name: string) => string): string {
  const name = fresh();
  return bind(name, r, body(name));
}

const NUMBER = `'^-?[0-9]'`;

/** What Trench's ClickHouse functions read from a value's text `r` ('' when missing): ClickHouse's results. */
export function trenchKind(kind: string, r: string, paths: JsonPaths, nullable: boolean): string {
  const orNull = (test: string, value: string, zero: string) =>
    nullable ? `if(${test}, ${value}, NULL)` : `if(${test}, ${value}, ${zero})`;
  const isNumber = `match(${r}, ${NUMBER})`;
  const isBool = `(${r} = 'true' OR ${r} = 'false')`;
  switch (kind) {
    case 'string':
      return orNull(`startsWith(${r}, '"')`, JsonPaths.unescaped(r, "''"), "''");
    case 'int':
      return orNull(
        `(${isNumber} OR ${isBool})`,
        `multiIf(${r} = 'true', toInt64(1), ${r} = 'false', toInt64(0), match(${r}, '^-?[0-9]+$'), toInt64OrZero(${r}), toInt64(trunc(toFloat64OrZero(${r}))))`,
        'toInt64(0)',
      );
    case 'float':
      return orNull(
        `(${isNumber} OR ${isBool})`,
        `multiIf(${r} = 'true', 1., ${r} = 'false', 0., toFloat64OrZero(${r}))`,
        '0.',
      );
    case 'bool':
      return orNull(
        `(${isNumber} OR ${isBool})`,
        `toUInt8(multiIf(${r} = 'true', 1, ${r} = 'false', 0, toFloat64OrZero(${r}) != 0))`,
        'toUInt8(0)',
      );
    case 'raw':
      return r;
    case 'has':
      return `toUInt8(${r} != '')`;
    case 'length':
      return paths.length(r);
    default:
      throw new Error(`no JSON kind ${kind}`);
  }
}
