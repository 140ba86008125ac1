// The file log's line format: one JSON object a line, an accepted event or a rejected item, in the row form of
// core/columns.ts (column names, epoch milliseconds, JSON columns spliced in as normalize serialized them), so a
// line costs one string join and an engine that reads NDJSON (DuckDB) loads a whole segment at once.

import { EVENT_COLUMNS, KEY_FIELD, REJECTED_FIELD } from '../../core/columns.ts';
import type { ErrorCode } from '../../core/errors.ts';
import type { CanonicalEvent, EventRecord, JsonObject, Rejection } from '../../core/event.ts';

/** What JSON.stringify would escape in a string, and lone-surrogate candidates: the slow path. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
/** Set when a string of the line being built may hold a lone surrogate (see wellFormed). */
let suspect = false;

/** A JSON string literal: most ids and names need no escaping, and a regex test is cheaper than stringify. */
function q(v: string | null): string {
  if (v === null) return 'null';
  if (!NEEDS_ESCAPE.test(v)) return `"${v}"`;
  const out = JSON.stringify(v);
  if (out.includes('\\ud')) suspect = true;
  return out;
}

const ms = (d: Date | null): string => (d === null ? 'null' : String(d.getTime()));

/** The line of an accepted event (without the newline). Written out by hand: it runs for every event. */
export function eventLine(r: EventRecord, key: string): string {
  const e = r.event;
  const j = r.json;
  suspect =
    j.properties.includes('\\ud') ||
    j.traits.includes('\\ud') ||
    j.context.includes('\\ud') ||
    j.integrations.includes('\\ud');
  return wellFormed(
    `{"id":${q(e.id)},"workspace_id":${q(e.workspaceId)},"message_id":${q(e.messageId)},"type":${q(e.type)}` +
      `,"event":${q(e.event)},"name":${q(e.name)},"category":${q(e.category)},"user_id":${q(e.userId)}` +
      `,"anonymous_id":${q(e.anonymousId)},"group_id":${q(e.groupId)},"previous_id":${q(e.previousId)}` +
      `,"instance_id":${q(e.instanceId)},"timestamp":${ms(e.timestamp)},"original_timestamp":${ms(e.originalTimestamp)}` +
      `,"sent_at":${ms(e.sentAt)},"received_at":${ms(e.receivedAt)},"properties":${j.properties}` +
      `,"traits":${j.traits},"context":${j.context},"integrations":${j.integrations},"source":${q(e.source)}` +
      `,"${KEY_FIELD}":"${key}"}`,
  );
}

export function rejectionLine(r: Rejection): string {
  suspect = false;
  return wellFormed(
    `{"${REJECTED_FIELD}":1,"id":${q(r.id)},"workspace_id":${q(r.workspaceId)},"received_at":${ms(r.receivedAt)}` +
      `,"source":${q(r.source)},"message_id":${q(r.messageId)},"code":${q(r.code)},"reason":${q(r.reason)}` +
      `,"payload":${q(r.payload)}` +
      (r.violations ? `,"violations":${JSON.stringify(r.violations)}}` : '}'),
  );
}

/**
 * JSON.stringify writes a lone UTF-16 surrogate as a \udXXX escape, which is valid JSON but not valid
 * Unicode, and DuckDB's JSON reader refuses the line. Such lines (rare: `suspect` is set while the parts are
 * built, from a substring search of each) are rewritten with each lone surrogate replaced by U+FFFD, as a
 * UTF-8 encoder would.
 */
function wellFormed(line: string): string {
  if (!suspect) return line;
  return JSON.stringify(JSON.parse(line), (_k, v: unknown) => {
    if (typeof v === 'string') return v.toWellFormed();
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const out: JsonObject = {};
    for (const [k, x] of Object.entries(v)) out[k.toWellFormed()] = x;
    return out;
  });
}

export type DecodedLine =
  | { kind: 'event'; event: CanonicalEvent; key: string }
  | { kind: 'rejected'; rejection: Rejection };

/** Reads a line back (the log's recovery after a restart). Throws on a line that is not one of ours. */
export function decodeLine(line: string): DecodedLine {
  const o = JSON.parse(line) as Record<string, unknown>;
  if (o[REJECTED_FIELD] === 1) {
    return {
      kind: 'rejected',
      rejection: {
        id: String(o.id),
        workspaceId: String(o.workspace_id),
        receivedAt: new Date(Number(o.received_at)),
        source: String(o.source),
        messageId: o.message_id === null ? null : String(o.message_id),
        code: String(o.code) as ErrorCode,
        reason: String(o.reason),
        payload: String(o.payload),
        ...(Array.isArray(o.violations) ? { violations: o.violations as Rejection['violations'] } : {}),
      },
    };
  }
  const e: Record<string, unknown> = {};
  for (const f of EVENT_COLUMNS) {
    const v = o[f.column];
    if (v === undefined || (v === null && f.notNull)) throw new Error(`log line without ${f.column}`);
    if (f.kind === 'time') e[f.key] = v === null ? null : new Date(Number(v));
    else e[f.key] = v;
  }
  const key = o[KEY_FIELD];
  if (typeof key !== 'string') throw new Error(`log line without ${KEY_FIELD}`);
  return { kind: 'event', event: e as unknown as CanonicalEvent, key };
}

/**
 * Buffer's own UTF-8 write without buf.write()'s argument handling (~0.1 µs a call, 4-5 calls an event); the
 * caller has reserved room for the whole string.
 */
const size = (s: string | null): number => (s === null ? 0 : s.length);

const utf8Write = (buf: Buffer, s: string, at: number): number =>
  (buf as unknown as { utf8Write(s: string, at: number): number }).utf8Write(s, at);

/** Most bytes of room a writer keeps between groups (a group of 32 requests of 100 events is ~1.7 MB). */
const KEEP = 4 << 20;

/**
 * Writes lines (each with its newline) as UTF-8 straight into one growing buffer: the same bytes as
 * `Buffer.from(eventLine(r, key) + '\n')`, without the line's string. Building that string joins ~45 parts
 * into a rope that the encoder then flattens: 3.0 µs an event of the benchmark's 100-event batches for line
 * and bytes together, and ~45 short-lived strings an event for the GC. Here ids, names and constants are
 * copied by a loop of char codes (ASCII without escapes, else the string path of q()), the JSON columns by one
 * UTF-8 write each. A line that may hold a lone surrogate goes through eventLine and its repair.
 */
export class LineWriter {
  private buf = Buffer.allocUnsafe(1 << 16);
  private at = 0;

  /** Bytes written since the last clear(). */
  get length(): number {
    return this.at;
  }

  /** The bytes written since the last clear(), in the writer's own memory: valid until the next write. */
  bytes(): Buffer {
    return this.buf.subarray(0, this.at);
  }

  /** Forgets what was written, keeping the memory for the next lines. */
  clear(): void {
    this.at = 0;
    // A large group grew the buffer (its room is ~3x its bytes): not kept for the ordinary ones.
    if (this.buf.length > KEEP) this.buf = Buffer.allocUnsafe(1 << 16);
  }

  /** The lines written since the last clear(), in a buffer of their own; then clear(). */
  take(): Buffer {
    const out = Buffer.from(this.bytes());
    this.clear();
    return out;
  }

  rejection(r: Rejection): void {
    this.text(`${rejectionLine(r)}\n`);
  }

  event(r: EventRecord, key: string): void {
    const e = r.event;
    const j = r.json;
    suspect = false;
    if (
      j.properties.includes('\\ud') ||
      j.traits.includes('\\ud') ||
      j.context.includes('\\ud') ||
      j.integrations.includes('\\ud')
    ) {
      this.text(`${eventLine(r, key)}\n`);
      return;
    }
    // Strings: at most 6 bytes per UTF-16 unit once escaped; JSON columns at most 3; constants and numbers ~400.
    let bound =
      512 +
      KEY_FIELD.length +
      3 * (j.properties.length + j.traits.length + j.context.length + j.integrations.length);
    bound += 6 * (e.id.length + e.workspaceId.length + e.messageId.length + e.type.length + e.source.length);
    bound += 6 * (size(e.event) + size(e.name) + size(e.category) + size(e.userId) + size(e.anonymousId));
    bound += 6 * (size(e.groupId) + size(e.previousId) + size(e.instanceId) + key.length);
    this.reserve(bound);
    const start = this.at;
    if (
      !(
        this.ascii('{"id":') &&
        this.str(e.id) &&
        this.ascii(',"workspace_id":') &&
        this.str(e.workspaceId) &&
        this.ascii(',"message_id":') &&
        this.str(e.messageId) &&
        this.ascii(',"type":') &&
        this.str(e.type) &&
        this.ascii(',"event":') &&
        this.str(e.event) &&
        this.ascii(',"name":') &&
        this.str(e.name) &&
        this.ascii(',"category":') &&
        this.str(e.category) &&
        this.ascii(',"user_id":') &&
        this.str(e.userId) &&
        this.ascii(',"anonymous_id":') &&
        this.str(e.anonymousId) &&
        this.ascii(',"group_id":') &&
        this.str(e.groupId) &&
        this.ascii(',"previous_id":') &&
        this.str(e.previousId) &&
        this.ascii(',"instance_id":') &&
        this.str(e.instanceId) &&
        this.ascii(',"timestamp":') &&
        this.time(e.timestamp) &&
        this.ascii(',"original_timestamp":') &&
        this.time(e.originalTimestamp) &&
        this.ascii(',"sent_at":') &&
        this.time(e.sentAt) &&
        this.ascii(',"received_at":') &&
        this.time(e.receivedAt) &&
        this.ascii(',"properties":') &&
        this.json(j.properties) &&
        this.ascii(',"traits":') &&
        this.json(j.traits) &&
        this.ascii(',"context":') &&
        this.json(j.context) &&
        this.ascii(',"integrations":') &&
        this.json(j.integrations) &&
        this.ascii(',"source":') &&
        this.str(e.source) &&
        this.ascii(`,"${KEY_FIELD}":"`) &&
        this.ascii(key) &&
        this.ascii('"}\n')
      )
    ) {
      // A string held a lone surrogate: the line goes the string way, which repairs it.
      this.at = start;
      this.text(`${eventLine(r, key)}\n`);
    }
  }

  private reserve(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }

  private text(s: string): void {
    this.reserve(3 * s.length);
    this.at += utf8Write(this.buf, s, this.at);
  }

  /** Characters below 0x80 that JSON writes as they are, one byte each; else false (nothing to undo). */
  private ascii(s: string): boolean {
    const b = this.buf;
    let o = this.at;
    for (let i = 0; i < s.length; i++) b[o++] = s.charCodeAt(i);
    this.at = o;
    return true;
  }

  /** A JSON string literal, as q() writes it; false when it holds a lone surrogate (see wellFormed). */
  private str(v: string | null): boolean {
    if (v === null) return this.ascii('null');
    const b = this.buf;
    let o = this.at;
    b[o++] = 34;
    for (let i = 0; i < v.length; i++) {
      const c = v.charCodeAt(i);
      if (c < 0x20 || c === 34 || c === 92 || c >= 0x80) {
        const quoted = q(v);
        if (suspect) {
          suspect = false;
          return false;
        }
        this.at += utf8Write(this.buf, quoted, this.at);
        return true;
      }
      b[o++] = c;
    }
    b[o++] = 34;
    this.at = o;
    return true;
  }

  /**
   * A time as epoch milliseconds, as ms() writes it, digit by digit in two halves below 1e8 (integer
   * arithmetic): the four String(number) of an event were a quarter of the writer's time (bench/line-ab-micro.ts,
   * 2.80 -> 2.13 µs an event of the benchmark's batches).
   */
  private time(d: Date | null): boolean {
    if (d === null) return this.ascii('null');
    const t = d.getTime();
    if (!(t >= 0 && t < 1e15)) return this.ascii(String(t));
    const hi = Math.floor(t / 1e8);
    const lo = t - hi * 1e8;
    if (hi > 0) {
      this.digits(hi, false);
      this.digits(lo, true);
    } else this.digits(lo, false);
    return true;
  }

  /** n < 1e8 in decimal; `pad`: as 8 digits. */
  private digits(n: number, pad: boolean): void {
    const b = this.buf;
    let len = 8;
    if (!pad) {
      len = 1;
      for (let x = n; x >= 10; x = (x / 10) | 0) len++;
    }
    let o = this.at + len;
    this.at = o;
    for (let i = 0; i < len; i++) {
      const q = (n / 10) | 0;
      b[--o] = 48 + n - q * 10;
      n = q;
    }
  }

  private json(s: string): boolean {
    if (s.length <= 2) return this.ascii(s); // '{}': no encoding needed
    this.at += utf8Write(this.buf, s, this.at);
    return true;
  }
}
