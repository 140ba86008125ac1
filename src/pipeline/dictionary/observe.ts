// The data dictionary's engine-neutral part: walking an event's JSON into observations (which names, which
// property or trait paths, with which JSON types and a few example values) and summing them over a batch. The
// log builds one summary per segment as it writes it, the store merges each into its tables in the load
// transaction, and a deletion walks the deleted events the same way to take them back out (store/duckdb/
// dictionary.ts). Pure: no I/O, no clock.
//
// Measured (bench/dictionary-micro.ts, the benchmark's track events, 8 properties): about 0.5 µs an event on
// the main thread, against 2.6 µs (quiet machine; 5-12 on a busy one) to parse the same event again from the
// segment file at load time, which is why the walk happens where the event is still an object (the log's
// write) and only its sum goes to the load.

/** The JSON types the dictionary tells apart: JSON Schema's, so a draft plan maps them as they are. */
export const JSON_TYPES = ['string', 'integer', 'number', 'boolean', 'null', 'object', 'array'] as const;
export type JsonType = (typeof JSON_TYPES)[number];
const STRING = 0;
const INTEGER = 1;
const NUMBER = 2;
const BOOLEAN = 3;
const NULL = 4;
const OBJECT = 5;
const ARRAY = 6;

/** What a name is: a track event, a page or screen name, or the calls whose traits are listed. */
export type DictionaryKind = 'track' | 'page' | 'screen' | 'identify' | 'group';
export const DICTIONARY_KINDS: readonly DictionaryKind[] = ['track', 'page', 'screen', 'identify', 'group'];
const KIND_INDEX: Record<DictionaryKind, number> = { track: 0, page: 1, screen: 2, identify: 3, group: 4 };

/** Bounds that keep a summary small whatever the events hold (keys made of ids, deep or long arrays). */
export const LIMITS = {
  /** Objects deeper than this are recorded as `object`, not walked. */
  depth: 6,
  /** Paths recorded per event; the rest of its JSON is skipped. */
  pathsPerEvent: 200,
  /** Elements of an array walked (their paths are `a[]`, `a[].b`). */
  arrayItems: 10,
  /** Distinct paths per name in one summary; further ones are counted in `dropped`. */
  pathsPerName: 500,
  /**
   * Distinct paths in one summary, all names together (a segment's summary waits in memory until its load):
   * further ones are counted in `dropped`. 20,000 is about 4 MB (bench/dictionary-micro.ts).
   */
  pathsPerBatch: 20_000,
  /** Example values kept per path. */
  examples: 3,
  /** Characters of a string example kept (a longer one is cut and ends with …). */
  exampleLength: 64,
} as const;

/** The fields of an event the dictionary reads. */
export interface ObservedEvent {
  workspaceId: string;
  type: string;
  event: string | null;
  name: string | null;
  receivedAt: Date;
  properties: Record<string, unknown>;
  traits: Record<string, unknown>;
}

export interface DayStat {
  /** Days since 1970-01-01 (UTC) of receivedAt. */
  day: number;
  count: number;
  /** Epoch ms. */
  first: number;
  last: number;
}

export interface PathStat {
  path: string;
  /** Events in which the path is present. */
  count: number;
  /** Events in which it held each type, in JSON_TYPES order. */
  types: number[];
  first: number;
  last: number;
  /** Distinct example values as JSON text (strings cut at LIMITS.exampleLength). */
  examples: string[];
  /** The serial of the last event counted, and the types it held there (a bit per type). */
  seenIn: number;
  seenTypes: number;
}

export interface NameStat {
  workspaceId: string;
  kind: DictionaryKind;
  /** The event or page/screen name; '' for identify and group, and for pages without a name. */
  name: string;
  days: Map<number, DayStat>;
  paths: Map<string, PathStat>;
  /** Paths not recorded because of the bounds on paths per name or per summary (LIMITS). */
  dropped: number;
}

const DAY_MS = 86_400_000;

/** The kind and name an event is listed under, or null for those the dictionary does not list (alias). */
export function kindOf(type: string): DictionaryKind | null {
  switch (type) {
    case 'track':
    case 'page':
    case 'screen':
    case 'identify':
    case 'group':
      return type;
    default:
      return null;
  }
}

/** True when a key holds nothing the path syntax uses: a loop over its characters beats a regex here. */
function plain(key: string): boolean {
  if (key.length === 0) return false;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c === 46 /* . */ || c === 91 /* [ */ || c === 93 /* ] */ || c === 34 /* " */) return false;
  }
  return true;
}
/** A path segment: `key`, or `["a.b"]` for a key with dots, brackets or quotes (and the empty key). */
export const segment = (key: string): string => (plain(key) ? key : `[${JSON.stringify(key)}]`);
const join = (prefix: string, key: string): string => {
  const s = segment(key);
  return prefix === '' || s.charCodeAt(0) === 91 /* [ */ ? prefix + s : `${prefix}.${s}`;
};

function example(v: unknown, t: number): string | null {
  if (t === STRING) {
    const s = v as string;
    return JSON.stringify(s.length > LIMITS.exampleLength ? `${s.slice(0, LIMITS.exampleLength)}…` : s);
  }
  if (t === INTEGER || t === NUMBER || t === BOOLEAN) return String(v);
  return null;
}

/**
 * True when `examples` surely holds the example of string `s` (its JSON text), told without building that text:
 * a path seen with fewer distinct values than LIMITS.examples (a currency, a plan name) stringified its value
 * again for every event. False also when unsure (a long string, or one JSON escapes): the caller then builds it.
 */
function holdsString(examples: string[], s: string): boolean {
  if (examples.length === 0 || s.length > LIMITS.exampleLength) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 34 || c === 92 || (c >= 0xd800 && c <= 0xdfff)) return false;
  }
  for (const e of examples) {
    if (
      e.length === s.length + 2 &&
      e.charCodeAt(0) === 34 &&
      e.charCodeAt(e.length - 1) === 34 &&
      e.startsWith(s, 1)
    )
      return true;
  }
  return false;
}

function typeOf(v: unknown): number {
  switch (typeof v) {
    case 'string':
      return STRING;
    case 'number':
      return Number.isInteger(v) ? INTEGER : NUMBER;
    case 'boolean':
      return BOOLEAN;
    case 'object':
      return v === null ? NULL : Array.isArray(v) ? ARRAY : OBJECT;
    default:
      return NULL; // undefined cannot come from JSON
  }
}

/**
 * The dictionary's view of a batch of events: per (workspace, kind, name) the events per day and, per path,
 * the events holding it, by type, with a few examples. Events are added one at a time; two summaries add up.
 */
export class DictionaryBatch {
  readonly names = new Map<string, NameStat>();
  /** Events added. */
  events = 0;
  private serial = 0;
  private budget = 0;
  /** Distinct paths held, all names together. */
  private paths = 0;
  /** The same entries by workspace, then kind (its place in DICTIONARY_KINDS), then name: lookups of strings
   * the event already holds are cheaper than building and hashing a joined key (even workspace + kind) for
   * every event. */
  private readonly index = new Map<string, Array<Map<string, NameStat>>>();

  private readonly maxExamples: number;
  private readonly pathsPerName: number;
  private readonly pathsPerBatch: number;

  /**
   * `bounds` replace LIMITS' for this summary: a deletion walks what it deletes with no bound on paths and
   * many examples (every value it takes out), so that nothing of it stays behind.
   */
  constructor(bounds: { examples?: number; pathsPerName?: number; pathsPerBatch?: number } = {}) {
    this.maxExamples = bounds.examples ?? LIMITS.examples;
    this.pathsPerName = bounds.pathsPerName ?? LIMITS.pathsPerName;
    this.pathsPerBatch = bounds.pathsPerBatch ?? LIMITS.pathsPerBatch;
  }

  /** Builds the summary of some events. */
  static of(events: Iterable<ObservedEvent>): DictionaryBatch {
    const b = new DictionaryBatch();
    for (const e of events) b.add(e);
    return b;
  }

  add(e: ObservedEvent): void {
    const kind = kindOf(e.type);
    if (kind === null) return;
    const name =
      kind === 'track' ? (e.event ?? '') : kind === 'page' || kind === 'screen' ? (e.name ?? '') : '';
    const n = this.nameStat(e.workspaceId, kind, name);
    const at = e.receivedAt.getTime();
    const day = Math.floor(at / DAY_MS);
    const d = n.days.get(day);
    if (d === undefined) n.days.set(day, { day, count: 1, first: at, last: at });
    else {
      d.count++;
      if (at < d.first) d.first = at;
      if (at > d.last) d.last = at;
    }
    this.events++;
    this.serial++;
    this.budget = LIMITS.pathsPerEvent;
    const json = kind === 'identify' || kind === 'group' ? e.traits : e.properties;
    this.walkObject(n, json, '', 1, at);
  }

  private nameStat(workspaceId: string, kind: DictionaryKind, name: string): NameStat {
    let byKind = this.index.get(workspaceId);
    if (byKind === undefined) {
      byKind = DICTIONARY_KINDS.map(() => new Map<string, NameStat>());
      this.index.set(workspaceId, byKind);
    }
    const byName = byKind[KIND_INDEX[kind]] as Map<string, NameStat>;
    let n = byName.get(name);
    if (n === undefined) {
      n = { workspaceId, kind, name, days: new Map(), paths: new Map(), dropped: 0 };
      byName.set(name, n);
      this.names.set(`${workspaceId}\u0000${kind}\u0000${name}`, n);
    }
    return n;
  }

  private walkObject(
    n: NameStat,
    o: Record<string, unknown>,
    prefix: string,
    depth: number,
    at: number,
  ): void {
    for (const key in o) {
      if (this.budget <= 0) return;
      this.value(n, join(prefix, key), o[key], depth, at);
    }
  }

  private value(n: NameStat, path: string, v: unknown, depth: number, at: number): void {
    this.budget--;
    const t = typeOf(v);
    this.record(n, path, t, v, at);
    if (depth >= LIMITS.depth) return;
    if (t === OBJECT) this.walkObject(n, v as Record<string, unknown>, path, depth + 1, at);
    else if (t === ARRAY) {
      const a = v as unknown[];
      const items = `${path}[]`;
      for (let i = 0; i < a.length && i < LIMITS.arrayItems && this.budget > 0; i++)
        this.value(n, items, a[i], depth + 1, at);
    }
  }

  private record(n: NameStat, path: string, t: number, v: unknown, at: number): void {
    let p = n.paths.get(path);
    if (p === undefined) {
      if (n.paths.size >= this.pathsPerName || this.paths >= this.pathsPerBatch) {
        n.dropped++;
        return;
      }
      this.paths++;
      p = {
        path,
        count: 0,
        types: [0, 0, 0, 0, 0, 0, 0],
        first: at,
        last: at,
        examples: [],
        seenIn: 0,
        seenTypes: 0,
      };
      n.paths.set(path, p);
    }
    // An event counts once per path and once per type, however many array elements hold it.
    if (p.seenIn !== this.serial) {
      p.seenIn = this.serial;
      p.seenTypes = 0;
      p.count++;
      if (at < p.first) p.first = at;
      if (at > p.last) p.last = at;
    }
    const bit = 1 << t;
    if ((p.seenTypes & bit) === 0) {
      p.seenTypes |= bit;
      p.types[t] = (p.types[t] as number) + 1;
    }
    if (p.examples.length < this.maxExamples && t !== OBJECT && t !== ARRAY && t !== NULL) {
      if (t === STRING && holdsString(p.examples, v as string)) return;
      const x = example(v, t);
      if (x !== null && !p.examples.includes(x)) p.examples.push(x);
    }
  }

  /** Adds another summary into this one (the log merges nothing; tests and callers that batch may). */
  merge(other: DictionaryBatch): void {
    for (const o of other.names.values()) {
      const n = this.nameStat(o.workspaceId, o.kind, o.name);
      n.dropped += o.dropped;
      for (const d of o.days.values()) {
        const mine = n.days.get(d.day);
        if (mine === undefined) n.days.set(d.day, { ...d });
        else {
          mine.count += d.count;
          mine.first = Math.min(mine.first, d.first);
          mine.last = Math.max(mine.last, d.last);
        }
      }
      for (const p of o.paths.values()) {
        const mine = n.paths.get(p.path);
        if (mine === undefined) {
          if (n.paths.size >= this.pathsPerName || this.paths >= this.pathsPerBatch) {
            n.dropped++;
            continue;
          }
          this.paths++;
          n.paths.set(p.path, { ...p, types: [...p.types], examples: p.examples.slice(0, this.maxExamples) });
          continue;
        }
        mine.count += p.count;
        for (let i = 0; i < mine.types.length; i++)
          mine.types[i] = (mine.types[i] as number) + (p.types[i] as number);
        mine.first = Math.min(mine.first, p.first);
        mine.last = Math.max(mine.last, p.last);
        for (const x of p.examples) {
          if (mine.examples.length >= this.maxExamples) break;
          if (!mine.examples.includes(x)) mine.examples.push(x);
        }
      }
    }
    this.events += other.events;
  }
}

/** A path's types as a record of the types seen, with their event counts. */
export function typeCounts(types: readonly number[]): Partial<Record<JsonType, number>> {
  const out: Partial<Record<JsonType, number>> = {};
  for (let i = 0; i < JSON_TYPES.length; i++) {
    const n = types[i] ?? 0;
    if (n > 0) out[JSON_TYPES[i] as JsonType] = n;
  }
  return out;
}

export const dayOf = (ms: number): number => Math.floor(ms / DAY_MS);
export const dayStart = (day: number): Date => new Date(day * DAY_MS);
