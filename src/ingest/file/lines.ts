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
