// JSON walks that never recurse, for values a client built: JSON.parse takes any depth the body limit
// allows (a 4 MB body nests 2 million arrays), but JSON.stringify and every recursive walk overflow the
// stack a few thousand levels down. These two run first; everything recursive comes after them.

/**
 * How deep an event's properties, traits, context and integrations may nest objects and arrays, each
 * counted from its own object (level 1). Deeper is refused (INTAKE_ERR_NESTED_TOO_DEEP): no SDK sends
 * more than a handful of levels, and within 64 every recursive step after validation is safe.
 */
export const MAX_DEPTH = 64;

// One stack for every call: depthExceeds is synchronous and never re-entered, so nothing is allocated per
// event beyond the slots the widest value ever needed. Slots are cleared on the way out so no client value
// is kept alive by them.
const values: object[] = [];
const levels: number[] = [];

/**
 * True when `root` nests objects or arrays more than `limit` levels deep (`root` itself is level 1).
 * Iterative, with an explicit stack; it stops at the first container past the limit. On the `npm run bench`
 * events (6 properties, a context of 3 levels and ~15 keys) the four fields of an event cost ~0.25 µs of
 * CPU, against ~2.8 µs for validate + normalize (bench/depth-micro.ts); parsing, validating and normalizing
 * request by request, before and after, differ by 0.13-0.33 µs an event of ~5.7. for...in beats
 * Object.keys here (no array per object); a depth-bounded recursion is ~0.1 µs faster but is what this
 * module exists to avoid.
 */
export function depthExceeds(root: unknown, limit: number): boolean {
  if (typeof root !== 'object' || root === null) return false;
  values[0] = root;
  levels[0] = 1;
  let n = 1;
  let top = 1;
  let over = false;
  while (n > 0) {
    n--;
    const v = values[n] as Record<string, unknown> | unknown[];
    const level = levels[n] as number;
    if (level > limit) {
      over = true;
      break;
    }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const x = v[i];
        if (typeof x === 'object' && x !== null) {
          values[n] = x;
          levels[n++] = level + 1;
        }
      }
    } else {
      for (const k in v) {
        const x = v[k];
        if (typeof x === 'object' && x !== null) {
          values[n] = x;
          levels[n++] = level + 1;
        }
      }
    }
    if (n > top) top = n;
  }
  values.fill(undefined as unknown as object, 0, top);
  return over;
}

/** What JSON.stringify serializes in place of `x` (a Date's string, for one). */
function toJSON(x: unknown, key: string): unknown {
  if (typeof x === 'object' && x !== null && typeof (x as { toJSON?: unknown }).toJSON === 'function') {
    return (x as { toJSON(k: string): unknown }).toJSON(key);
  }
  return x;
}

type Frame =
  | { array: unknown[]; i: number }
  | { object: Record<string, unknown>; keys: string[]; i: number; wrote: boolean };

/**
 * JSON.stringify(v) cut at `max` characters, for values of any depth: what the rejected-events store keeps
 * of a refused item (its payload), and error messages quoting a client value. The same text as
 * JSON.stringify up to the cut (toJSON, skipped undefined members, null for non-finite numbers), and it
 * stops as soon as `max` characters are written, so a huge item costs no more than its first `max`.
 */
export function stringifyCapped(v: unknown, max: number): string {
  const out: string[] = [];
  let length = 0;
  const write = (s: string) => {
    out.push(s);
    length += s.length;
  };
  const stack: Frame[] = [];
  /** Writes a scalar, or opens a container (pushing its frame). `inArray`: undefined is written as null. */
  const value = (x: unknown, inArray: boolean) => {
    if (x === null) write('null');
    else if (typeof x === 'string') write(JSON.stringify(x));
    else if (typeof x === 'number') write(Number.isFinite(x) ? String(x) : 'null');
    else if (typeof x === 'boolean') write(x ? 'true' : 'false');
    else if (typeof x === 'bigint') write(String(x));
    else if (Array.isArray(x)) {
      write('[');
      stack.push({ array: x, i: 0 });
    } else if (typeof x === 'object') {
      write('{');
      stack.push({ object: x as Record<string, unknown>, keys: Object.keys(x), i: 0, wrote: false });
    } else if (inArray) write('null'); // undefined, functions, symbols
  };
  const skipped = (x: unknown) => x === undefined || typeof x === 'function' || typeof x === 'symbol';

  const root = toJSON(v, '');
  if (skipped(root)) return 'null'.slice(0, max);
  value(root, false);
  while (stack.length > 0 && length < max) {
    const f = stack[stack.length - 1] as Frame;
    if ('array' in f) {
      if (f.i === f.array.length) {
        stack.pop();
        write(']');
        continue;
      }
      if (f.i > 0) write(',');
      const i = f.i++;
      value(toJSON(f.array[i], String(i)), true);
    } else {
      if (f.i === f.keys.length) {
        stack.pop();
        write('}');
        continue;
      }
      const key = f.keys[f.i++] as string;
      const x = toJSON(f.object[key], key);
      if (skipped(x)) continue;
      if (f.wrote) write(',');
      f.wrote = true;
      write(`${JSON.stringify(key)}:`);
      value(x, false);
    }
  }
  const text = out.join('');
  return text.length > max ? text.slice(0, max) : text;
}
