// A segment's events as its load needs them (LogBatch.events: the profile fields, type and event name), kept
// in a Buffer until the load reads them, not as objects on the JS heap.
//
// Why: a segment's events wait from their request to their load, hundreds of milliseconds to seconds under load,
// so every event's view object and its id strings outlived two scavenges and were promoted: ~270 B of old
// generation per event, which is what made V8 grow the heap to 3-4× its live size between mark-compacts. With
// the views' object kept but one shared (a measurement, not a design: bench/main-thread.ts, alternated), the
// heap at the server's peak RSS was 54-57 MB used of 90-106 instead of 108-200 of 139-235, and the main
// thread's GC ~0.8-0.9 µs an event instead of ~1.7. Here each event is encoded once at submit (bytes in a
// growing Buffer, outside the heap) and decoded in slices as the load reads them, into objects that die young.
//
// An event's record: the indexes of its workspaceId, type and event name in a table of the distinct ones that
// the log's views share (few: decoded to the same string each time; past MAX_NAMES a name is written out like an
// id, so event names a client makes up cannot grow it for ever), timestamp and receivedAt in epoch ms, the
// indexes of its traits and context.traits objects when not empty (identify and group calls: kept by
// reference, they are few), then messageId, userId, anonymousId, groupId, previousId as length-prefixed bytes
// (ASCII as is, else UTF-16, which keeps a lone surrogate as it came). A group's views are appended to their
// segment by copying their bytes.
import {
  type CanonicalEvent,
  type EventType,
  type EventViews,
  type JsonObject,
  nonEmptyObject,
} from '../../core/event.ts';

const EMPTY: JsonObject = Object.freeze({}) as JsonObject;
const NONE = 0xffffffff;
/** A name field whose name is written out after the fixed fields (the table was full). */
const INLINE = 0xfffffffe;
const UTF16 = 0x80000000;
/** Bytes before the strings: 3 name indexes, 2 times, 2 object indexes. */
const FIXED = 36;
const TRAITS = 28;
const CONTEXT_TRAITS = 32;
/** Events decoded at a time by the iterator (applyProfiles takes its own slices). */
const ITERATE = 1024;
/** Names a table holds; the ones after are written out in each record. */
const MAX_NAMES = 65_536;

/** Node's own latin1 decoder, without toString's dispatch on the encoding name (ids are decoded by the million). */
type Latin1 = Buffer & { latin1Slice(start: number, end: number): string };

const chars = (s: string | null): number => (s === null ? 0 : s.length);

/** The distinct workspaceIds, types and event names of a log's views, by index. */
export class NameTable {
  readonly names: string[] = [];
  private readonly index = new Map<string, number>();

  /** The index of `s`, INLINE when the table is full. */
  of(s: string): number {
    let i = this.index.get(s);
    if (i === undefined) {
      if (this.names.length >= MAX_NAMES) return INLINE;
      i = this.names.length;
      this.names.push(s);
      this.index.set(s, i);
    }
    return i;
  }
}

export class ProfileViews implements EventViews {
  length = 0;
  private buf: Buffer;
  private end = 0;
  /** Where each event's record starts in `buf`. */
  private starts = new Uint32Array(64);
  private objects: JsonObject[] = [];
  /** The events that hold an object (their records' object indexes move when appended). */
  private withObjects: number[] = [];
  /** The decoder's place in `buf`. */
  private at = 0;

  constructor(
    /** Shared by the views appended to one another (one log's). */
    readonly names: NameTable = new NameTable(),
    bytes = 4096,
  ) {
    this.buf = Buffer.allocUnsafe(bytes);
  }

  /** Appends `e`'s view. */
  add(e: CanonicalEvent): void {
    const strings =
      e.messageId.length + chars(e.userId) + chars(e.anonymousId) + chars(e.groupId) + chars(e.previousId);
    const names = e.workspaceId.length + e.type.length + chars(e.event);
    this.reserve(FIXED + 8 * 4 + 2 * (strings + names));
    const b = this.buf;
    const start = this.end;
    this.startAt(this.length, start);
    const ws = this.names.of(e.workspaceId);
    const type = this.names.of(e.type);
    const event = e.event === null ? NONE : this.names.of(e.event);
    b.writeUInt32LE(ws, start);
    b.writeUInt32LE(type, start + 4);
    b.writeUInt32LE(event, start + 8);
    b.writeDoubleLE(e.timestamp.getTime(), start + 12);
    b.writeDoubleLE(e.receivedAt.getTime(), start + 20);
    const traits = this.object(e.traits);
    const contextTraits = this.object(e.context.traits);
    b.writeUInt32LE(traits, start + TRAITS);
    b.writeUInt32LE(contextTraits, start + CONTEXT_TRAITS);
    if (traits !== NONE || contextTraits !== NONE) this.withObjects.push(this.length);
    let at = start + FIXED;
    if (ws === INLINE) at = this.write(e.workspaceId, at);
    if (type === INLINE) at = this.write(e.type, at);
    if (event === INLINE) at = this.write(e.event, at);
    at = this.write(e.messageId, at);
    at = this.write(e.userId, at);
    at = this.write(e.anonymousId, at);
    at = this.write(e.groupId, at);
    this.end = this.write(e.previousId, at);
    this.length++;
  }

  /** Appends every view of `other` (a group's views, once its write is durable), which shares this name table. */
  append(other: ProfileViews): void {
    if (other.length === 0) return;
    if (other.names !== this.names) throw new Error('views of different name tables cannot be appended');
    this.reserve(other.end);
    const base = this.end;
    other.buf.copy(this.buf, base, 0, other.end);
    for (let i = 0; i < other.length; i++) this.startAt(this.length + i, base + (other.starts[i] as number));
    const shift = this.objects.length;
    for (const o of other.objects) this.objects.push(o);
    const b = this.buf;
    for (const i of other.withObjects) {
      const at = base + (other.starts[i] as number);
      for (const f of [TRAITS, CONTEXT_TRAITS]) {
        const v = b.readUInt32LE(at + f);
        if (v !== NONE) b.writeUInt32LE(v + shift, at + f);
      }
      this.withObjects.push(this.length + i);
    }
    this.end += other.end;
    this.length += other.length;
  }

  /** The views of events [from, to), decoded now: new objects, the caller's to drop. */
  slice(from = 0, to: number = this.length): CanonicalEvent[] {
    const out: CanonicalEvent[] = [];
    const last = Math.min(to, this.length);
    for (let i = Math.max(0, from); i < last; i++) out.push(this.decode(this.starts[i] as number));
    return out;
  }

  *[Symbol.iterator](): Iterator<CanonicalEvent> {
    for (let i = 0; i < this.length; i += ITERATE) yield* this.slice(i, i + ITERATE);
  }

  /** Bytes held outside the JS heap. */
  get bytes(): number {
    return this.buf.length + this.starts.byteLength;
  }

  private decode(start: number): CanonicalEvent {
    const b = this.buf;
    const names = this.names.names;
    const ws = b.readUInt32LE(start);
    const type = b.readUInt32LE(start + 4);
    const event = b.readUInt32LE(start + 8);
    const traits = b.readUInt32LE(start + TRAITS);
    const contextTraits = b.readUInt32LE(start + CONTEXT_TRAITS);
    this.at = start + FIXED;
    const workspaceId = ws === INLINE ? (this.string() as string) : (names[ws] as string);
    const eventType = (type === INLINE ? this.string() : names[type]) as EventType;
    const eventName = event === NONE ? null : event === INLINE ? this.string() : (names[event] as string);
    const messageId = this.string() as string;
    const userId = this.string();
    const anonymousId = this.string();
    const groupId = this.string();
    const previousId = this.string();
    return {
      id: '',
      workspaceId,
      messageId,
      type: eventType,
      event: eventName,
      name: null,
      category: null,
      userId,
      anonymousId,
      groupId,
      previousId,
      instanceId: null,
      timestamp: new Date(b.readDoubleLE(start + 12)),
      originalTimestamp: null,
      sentAt: null,
      receivedAt: new Date(b.readDoubleLE(start + 20)),
      properties: EMPTY,
      traits: traits === NONE ? EMPTY : (this.objects[traits] as JsonObject),
      context: contextTraits === NONE ? EMPTY : { traits: this.objects[contextTraits] as JsonObject },
      integrations: EMPTY,
      source: '',
    };
  }

  /** Writes a string at `at` (ASCII byte by byte, else UTF-16); returns where it ends. */
  private write(s: string | null, at: number): number {
    const b = this.buf;
    if (s === null) {
      b.writeUInt32LE(NONE, at);
      return at + 4;
    }
    const n = s.length;
    const to = at + 4;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 127) break;
      b[to + i] = c;
    }
    if (i === n) {
      b.writeUInt32LE(n, at);
      return to + n;
    }
    const bytes = b.write(s, to, 'utf16le');
    b.writeUInt32LE((UTF16 | bytes) >>> 0, at);
    return to + bytes;
  }

  /** The string at `this.at`, which moves past it (a method, not a closure made per decode). */
  private string(): string | null {
    const b = this.buf;
    const h = b.readUInt32LE(this.at);
    this.at += 4;
    if (h === NONE) return null;
    const n = (h & ~UTF16) >>> 0;
    const at = this.at;
    this.at += n;
    return h & UTF16 ? b.toString('utf16le', at, at + n) : (b as Latin1).latin1Slice(at, at + n);
  }

  private object(v: unknown): number {
    if (!nonEmptyObject(v)) return NONE;
    this.objects.push(v);
    return this.objects.length - 1;
  }

  private startAt(i: number, at: number): void {
    if (i >= this.starts.length) {
      let size = this.starts.length * 2;
      while (size <= i) size *= 2;
      const grown = new Uint32Array(size);
      grown.set(this.starts);
      this.starts = grown;
    }
    this.starts[i] = at;
  }

  private reserve(bytes: number): void {
    if (this.end + bytes <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.end + bytes) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.buf.copy(grown, 0, 0, this.end);
    this.buf = grown;
  }
}
