// The shared ingest path every dialect calls: validate each item, check it against the workspace's tracking
// plan, normalize and enrich it, write the valid ones and the rejections to the ingest log together, and report
// each item's outcome in order.
import type { ErrorCode } from '../core/errors.ts';
import type { CanonicalEvent, EventRecord, Rejection, RequestContext } from '../core/event.ts';
import { uuidv7 } from '../core/ids.ts';
import type { WorkspaceSettings } from '../core/model.ts';
import type { Violation } from '../core/violations.ts';
import { type Enricher, enrichPlan } from '../pipeline/enrich/index.ts';
import { stringifyCapped } from '../pipeline/json.ts';
import { normalize } from '../pipeline/normalize.ts';
import type { CompiledPlan } from '../pipeline/plan/check.ts';
import { validateItem } from '../pipeline/validate.ts';
import type { IngestLog } from './types.ts';

export type ItemOutcome =
  | {
      status: 'accepted' | 'duplicate';
      messageId: string;
      /** The stored event: only when the caller asked for it (IngestCall.events). */
      event?: CanonicalEvent;
    }
  | {
      status: 'rejected';
      messageId: string | null;
      code: ErrorCode;
      reason: string;
      violations?: Violation[];
    };

export interface IngestSummary {
  items: ItemOutcome[];
  accepted: number;
  duplicates: number;
  rejected: number;
}

export interface Ingestor {
  /**
   * `refused`: items the dialect refused by its own rules, written in the same log write as the others (they
   * are not in the summary). Every item counts against the key's events/s limit, charged before anything is
   * written: over it, the whole request is refused (429) and the client's retry resends all of it.
   */
  ingest(
    ctx: RequestContext,
    items: unknown[],
    refused?: Rejection[],
    call?: IngestCall,
  ): Promise<IngestSummary>;
}

export interface IngestCall {
  /** Keep each accepted event in its outcome (Trench answers with them). Default false. */
  events?: boolean;
}

/** Rejected payloads are kept for diagnosis, cut at 64 KiB characters so an oversize body cannot bloat the table. */
const MAX_PAYLOAD = 65_536;

function messageIdOf(item: unknown): string | null {
  const v = (item as { messageId?: unknown } | null)?.messageId;
  return typeof v === 'string' || typeof v === 'number' ? String(v) : null;
}

export interface IngestOptions {
  eventLimit: number;
  enricher: Enricher;
  /** The workspace's settings, from memory (the key ring): no I/O on the ingest path. */
  settingsOf(workspaceId: string): WorkspaceSettings;
  /** The workspace's compiled tracking plan, from memory (plans/ring.ts); CompiledPlan.NONE when it has none. */
  planOf(workspaceId: string): CompiledPlan;
}

/**
 * Why ingest() is not an async function and keeps so little: a request waits for the log's group write and
 * fdatasync (milliseconds), and whatever it still references then (the parsed body, the canonical events,
 * their JSON) survives the young-generation GCs that run meanwhile, is copied by each, then promoted and later
 * marked and compacted: at 100-event batches that was most of the main thread's GC time. So the work is done
 * before the wait, and only the outcomes' skeleton (messageIds and where each went) waits for it.
 */
export function createIngestor(log: IngestLog, opts: IngestOptions): Ingestor {
  return {
    ingest(ctx, items, refused = [], call = {}) {
      try {
        return prepare(log, opts, ctx, items, refused, call);
      } catch (err) {
        // As an async function would: a refusal (the events/s limit's 429) is a rejected promise, never a throw.
        return Promise.reject(err);
      }
    },
  };
}

function prepare(
  log: IngestLog,
  opts: IngestOptions,
  ctx: RequestContext,
  items: unknown[],
  refused: Rejection[],
  call: IngestCall,
): Promise<IngestSummary> {
  ctx.chargeEvents?.(items.length + refused.length);
  const plan = enrichPlan(opts.settingsOf(ctx.workspaceId), ctx);
  const tracking = opts.planOf(ctx.workspaceId);
  const records: EventRecord[] = [];
  const rejected: Rejection[] = [];
  /** Per item: the index of its record, or its rejection. */
  const slots: Array<number | Rejection> = [];
  for (const item of items) {
    const valid = validateItem(item, ctx);
    // The plan sees the event as sent (before normalize adds its fields and enrich its context).
    const checked = valid.ok ? tracking.check(valid.value) : valid;
    const result = checked.ok ? normalize(checked.value, ctx, opts.eventLimit) : checked;
    if (result.ok) {
      slots.push(records.length);
      records.push(opts.enricher.enrich(result.value, plan));
    } else {
      const r: Rejection = {
        id: uuidv7(ctx.receivedAt.getTime()),
        workspaceId: ctx.workspaceId,
        receivedAt: ctx.receivedAt,
        source: ctx.source,
        messageId: messageIdOf(item),
        code: result.code,
        reason: result.reason,
        // Not JSON.stringify: the item may be refused for nesting deeper than it can recurse.
        payload: stringifyCapped(item, MAX_PAYLOAD),
      };
      const violations = (result as { violations?: Violation[] }).violations;
      if (violations) r.violations = violations;
      slots.push(r);
      rejected.push(r);
    }
  }
  const ownRejections = rejected.length;
  for (const r of refused) rejected.push(r);
  const messageIds = records.map((r) => r.event.messageId);
  const events = call.events ? records.map((r) => r.event) : null;
  const written = log.submit({ events: records, rejected });
  return written.then(({ duplicate }) => summarize(slots, messageIds, events, duplicate, ownRejections));
}

function summarize(
  slots: Array<number | Rejection>,
  messageIds: string[],
  events: CanonicalEvent[] | null,
  duplicate: boolean[],
  rejected: number,
): IngestSummary {
  const summary: IngestSummary = { items: [], accepted: 0, duplicates: 0, rejected };
  for (const slot of slots) {
    if (typeof slot === 'number') {
      const dup = duplicate[slot] === true;
      if (dup) summary.duplicates++;
      else summary.accepted++;
      const messageId = messageIds[slot] as string;
      const status = dup ? 'duplicate' : 'accepted';
      summary.items.push(
        events ? { status, messageId, event: events[slot] as CanonicalEvent } : { status, messageId },
      );
    } else {
      summary.items.push({
        status: 'rejected',
        messageId: slot.messageId,
        code: slot.code,
        reason: slot.reason,
        ...(slot.violations ? { violations: slot.violations } : {}),
      });
    }
  }
  return summary;
}
