// What several dialects need beyond the shared ingest path: items refused by the dialect's own rules
// (kept in the rejected store like the pipeline's refusals, so nothing is silently dropped), and
// deterministic messageIds for formats whose idempotency key is something else.
import { createHash } from 'node:crypto';
import type { ErrorCode } from '../core/errors.ts';
import type { JsonObject, Rejection, RequestContext } from '../core/event.ts';
import { uuidv7 } from '../core/ids.ts';
import type { RouteContext } from '../http/context.ts';
import type { ItemOutcome } from '../ingest/ingest.ts';
import { stringifyCapped } from '../pipeline/json.ts';

/** One wire item after mapping: a canonical item for the pipeline, or the dialect's own refusal. */
export type Mapped =
  | { item: JsonObject }
  | { reject: { code: ErrorCode; reason: string }; raw: unknown; messageId?: string | null };

/** Rejected payloads are cut like the pipeline's (64 Ki characters). */
const MAX_PAYLOAD = 65_536;

/**
 * Ingests the mapped items and commits the dialect's refusals in the same group commit window;
 * answers one outcome per mapped entry, in order.
 */
export async function ingestMapped(
  ctx: RouteContext,
  rc: RequestContext,
  mapped: Mapped[],
): Promise<ItemOutcome[]> {
  const items: JsonObject[] = [];
  const rejected: Rejection[] = [];
  for (const m of mapped) {
    if ('item' in m) items.push(m.item);
    else {
      rejected.push({
        id: uuidv7(rc.receivedAt.getTime()),
        workspaceId: rc.workspaceId,
        receivedAt: rc.receivedAt,
        source: rc.source,
        messageId: m.messageId ?? null,
        code: m.reject.code,
        reason: m.reject.reason,
        payload: stringifyCapped(m.raw, MAX_PAYLOAD),
      });
    }
  }
  // One call, so the request is charged to its key's events/s limit once and written in one log write.
  const summary = await ctx.ingestor.ingest(rc, items, rejected);
  const out: ItemOutcome[] = [];
  let i = 0;
  let r = 0;
  for (const m of mapped) {
    if ('item' in m) out.push(summary.items[i++] as ItemOutcome);
    else {
      const rej = rejected[r++] as Rejection;
      out.push({ status: 'rejected', messageId: rej.messageId, code: rej.code, reason: rej.reason });
    }
  }
  return out;
}

/** A name-based UUID (RFC 9562 version 5, SHA-1) in Intake's own namespace: same name, same id. */
const NAMESPACE = Buffer.from('6f1c2a4e9b3d4c5e8a7f0d1e2c3b4a59', 'hex');
export function nameUuid(name: string): string {
  const h = createHash('sha1').update(NAMESPACE).update(name, 'utf8').digest();
  h[6] = ((h[6] as number) & 0x0f) | 0x50;
  h[8] = ((h[8] as number) & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

export const nonEmptyString = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';
