// A load of the cluster log: JetStream messages (each a group of log lines, ../file/lines.ts) decoded, with the
// events whose key the loader's memory holds already dropped, as the LogBatch the store's sink loads.
import type { CanonicalEvent, Rejection } from '../../core/event.ts';
import type { LogBatch } from '../../store/types.ts';
import { decodeLine } from '../file/lines.ts';

export class NatsBatch implements LogBatch {
  readonly rejected: number;
  constructor(
    readonly seq: number,
    readonly events: CanonicalEvent[],
    private readonly rejections: Rejection[],
    /** The dedupe keys of `events`, in order. */
    readonly keys: string[],
  ) {
    this.rejected = rejections.length;
  }

  entries(): Promise<{ events: CanonicalEvent[]; rejected: Rejection[] }> {
    return Promise.resolve({ events: this.events, rejected: this.rejections });
  }

  /**
   * Decodes messages' payloads into a batch: an event whose key `isKnown` says is stored already, or which an
   * earlier line of the batch holds, is dropped (a resend that reached the stream through another node).
   */
  static decode(seq: number, payloads: string[], isKnown: (key: string) => boolean): NatsBatch {
    const events: CanonicalEvent[] = [];
    const keys: string[] = [];
    const rejected: Rejection[] = [];
    const seen = new Set<string>();
    for (const text of payloads) {
      for (let at = 0; at < text.length; ) {
        let nl = text.indexOf('\n', at);
        if (nl < 0) nl = text.length;
        const line = text.slice(at, nl);
        at = nl + 1;
        if (line === '') continue;
        const d = decodeLine(line);
        if (d.kind === 'rejected') rejected.push(d.rejection);
        else if (!seen.has(d.key) && !isKnown(d.key)) {
          seen.add(d.key);
          events.push(d.event);
          keys.push(d.key);
        }
      }
    }
    return new NatsBatch(seq, events, rejected, keys);
  }
}
