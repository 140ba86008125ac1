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
// An event's record: the indexes of its workspaceId, type and event name in a table of the distinct ones (few:
// decoded to the same string each time), timestamp and receivedAt in epoch ms, the indexes of its traits and
// context.traits objects when not empty (identify and group calls: kept by reference, they are few), then
// messageId, userId, anonymousId, groupId, previousId as length-prefixed bytes (latin1 when ASCII, else UTF-16,
// which keeps a lone surrogate as it came).
import type { CanonicalEvent, EventType, EventViews, JsonObject } from '../../core/event.ts';

const EMPTY: JsonObject = Object.freeze({}) as JsonObject;
const NONE = 0xffffffff;
const UTF16 = 0x80000000;
/** Bytes before the id strings: 3 name indexes, 2 times, 2 object indexes. */
const FIXED = 36;
const IDS = 5;
/** Events decoded at a time by the iterator (applyProfiles takes its own slices). */
const ITERATE = 1024;

function nonEmpty(v: unknown): v is JsonObject {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  for (const k in v) if (Object.hasOwn(v, k)) return true;
  return false;
}

const len = (s: string | null): number => (s === null ? 0 : s.length);
/** The name fields' places in a record, and the object fields'. */
const NAME_FIELDS = [0, 4, 8];
const OBJECT_FIELDS = [28, 32];

/** Whether every code unit of `s` is below 128 (then its latin1 bytes are its UTF-8 and its code units). */
function ascii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 127) return false;
  return true;
}

export class ProfileViews implements EventViews {
  length = 0;
  private buf: Buffer;
  private end = 0;
  /** Where each event's record starts in `buf`. */
  private starts = new Uint32Array(64);
  private names: string[] = [];
  private nameIndex = new Map<string, number>();
  private objects: JsonObject[] = [];
  /** The decoder's place in `buf`. */
  private at = 0;

  constructor(bytes = 4096) {
    this.buf = Buffer.allocUnsafe(bytes);
  }

  /** Appends `e`'s view. */
  add(e: CanonicalEvent): void {
    this.reserve(
      FIXED +
        IDS * 4 +
        2 * (e.messageId.length + len(e.userId) + len(e.anonymousId) + len(e.groupId) + len(e.previousId)),
    );
    const b = this.buf;
    let at = this.end;
    this.startAt(this.length, at);
    b.writeUInt32LE(this.name(e.workspaceId), at);
    b.writeUInt32LE(this.name(e.type), at + 4);
    b.writeUInt32LE(e.event === null ? NONE : this.name(e.event), at + 8);
    b.writeDoubleLE(e.timestamp.getTime(), at + 12);
    b.writeDoubleLE(e.receivedAt.getTime(), at + 20);
    b.writeUInt32LE(this.object(e.traits), at + 28);
    b.writeUInt32LE(this.object(e.context.traits), at + 32);
    at = this.write(e.messageId, at + FIXED);
    at = this.write(e.userId, at);
    at = this.write(e.anonymousId, at);
    at = this.write(e.groupId, at);
    this.end = this.write(e.previousId, at);
    this.length++;
  }

  /** Appends every view of `other` (a group's views, once its write is durable). */
  append(other: ProfileViews): void {
    if (other.length === 0) return;
    this.reserve(other.end);
    const names = other.names.map((n) => this.name(n));
    const objects = this.objects.length;
    for (const o of other.objects) this.objects.push(o);
    const base = this.end;
    other.buf.copy(this.buf, base, 0, other.end);
    const b = this.buf;
    for (let i = 0; i < other.length; i++) {
      const at = base + (other.starts[i] as number);
      this.startAt(this.length + i, at);
      for (const f of NAME_FIELDS) {
        const v = b.readUInt32LE(at + f);
        if (v !== NONE) b.writeUInt32LE(names[v] as number, at + f);
      }
      for (const f of OBJECT_FIELDS) {
        const v = b.readUInt32LE(at + f);
        if (v !== NONE) b.writeUInt32LE(v + objects, at + f);
      }
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
    const names = this.names;
    const event = b.readUInt32LE(start + 8);
    const traits = b.readUInt32LE(start + 28);
    const contextTraits = b.readUInt32LE(start + 32);
    this.at = start + FIXED;
    const messageId = this.id() as string;
    const userId = this.id();
    const anonymousId = this.id();
    const groupId = this.id();
    const previousId = this.id();
    return {
      id: '',
      workspaceId: names[b.readUInt32LE(start)] as string,
      messageId,
      type: names[b.readUInt32LE(start + 4)] as EventType,
      event: event === NONE ? null : (names[event] as string),
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

  /** Writes an id string at `at`; returns where it ends. */
  private write(id: string | null, at: number): number {
    const b = this.buf;
    if (id === null) {
      b.writeUInt32LE(NONE, at);
      return at + 4;
    }
    if (ascii(id)) {
      b.writeUInt32LE(id.length, at);
      return at + 4 + b.write(id, at + 4, 'latin1');
    }
    const n = b.write(id, at + 4, 'utf16le');
    b.writeUInt32LE((UTF16 | n) >>> 0, at);
    return at + 4 + n;
  }

  /** The id string at `this.at`, which moves past it (a method, not a closure made per decode). */
  private id(): string | null {
    const b = this.buf;
    const h = b.readUInt32LE(this.at);
    this.at += 4;
    if (h === NONE) return null;
    const n = (h & ~UTF16) >>> 0;
    const at = this.at;
    this.at += n;
    return b.toString(h & UTF16 ? 'utf16le' : 'latin1', at, at + n);
  }

  private name(s: string): number {
    let i = this.nameIndex.get(s);
    if (i === undefined) {
      i = this.names.length;
      this.names.push(s);
      this.nameIndex.set(s, i);
    }
    return i;
  }

  private object(v: unknown): number {
    if (!nonEmpty(v)) return NONE;
    this.objects.push(v);
    return this.objects.length - 1;
  }

  private startAt(i: number, at: number): void {
    if (i >= this.starts.length) {
      const grown = new Uint32Array(this.starts.length * 2);
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
