// The values each workspace's events hold in the text orders of few values (event, type), kept in memory, so a
// page in such an order is read value by value (pages.ts) and the value after the last one read comes from here,
// not from a scan of the column (~95 ms CPU each on the 10M bench set).
//
// A value missing here would silently skip its events, so the list is a superset of the stored values by
// construction: a workspace's list is what its stored rows held when it was first asked for (one DISTINCT, at
// most once per workspace, column and process), united with the values of every batch the store loaded since it
// opened, added before the batch's transaction begins (so no committed row holds a value not added yet). Nothing
// is ever taken out: a value whose events were deleted costs a page one statement that finds nothing.
import type { CanonicalEvent } from '../../core/event.ts';
import type { Db } from './db.ts';

/** The orders read value by value, each with its column. */
export const VALUE_ORDERS = { event: 'event', type: 'type' } as const;
export type ValueOrder = keyof typeof VALUE_ORDERS;
export const isValueOrder = (field: string): field is ValueOrder => Object.hasOwn(VALUE_ORDERS, field);

/**
 * Most values kept per workspace and order. Past it the order is read as other text orders are (one top-N over
 * the whole order): each value costs a page at least one statement, so reading value by value pays for orders
 * whose values have many events each, and memory stays bounded for a workspace that sends a new name per event.
 */
export const MAX_VALUES = 1000;

/** Text in code point order, which is DuckDB's (binary UTF-8) order; UTF-16 order differs above U+D7FF. */
export function compareText(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (D800-DFFF) stand for code points above FFFF: moved above E000-FFFF, the order is code point order.
    const fix = (u: number) => (u >= 0xe000 ? u - 0x800 : u >= 0xd800 ? u + 0x2000 : u);
    return fix(x) - fix(y);
  }
  return a.length - b.length;
}

interface Held {
  /** The values; 'many' once past MAX_VALUES (then no longer followed). */
  values: Set<string | null> | 'many';
  /** The values in ascending order, nulls last; made again after a value is added. */
  sorted: Array<string | null> | null;
  /** The stored rows' values, read once (the DISTINCT), united into `values` when it answers. */
  read: Promise<void> | null;
}

export class OrderValues {
  private readonly held = new Map<string, Held>();

  private entry(workspaceId: string, order: ValueOrder): Held {
    const key = `${order}\0${workspaceId}`;
    let h = this.held.get(key);
    if (!h) {
      h = { values: new Set(), sorted: null, read: null };
      this.held.set(key, h);
    }
    return h;
  }

  private put(h: Held, v: string | null): void {
    if (h.values === 'many' || h.values.has(v)) return;
    if (h.values.size >= MAX_VALUES) {
      h.values = 'many';
      h.sorted = null;
      return;
    }
    h.values.add(v);
    h.sorted = null;
  }

  /**
   * Called before a batch is loaded, with its events (LogBatch.events holds each event's type and event name):
   * two Set lookups an event, 0.03 µs of CPU per event (1,000-event batches of 50 names) against the ~26 µs its
   * load costs.
   */
  add(events: Iterable<Pick<CanonicalEvent, 'workspaceId' | 'type' | 'event'>>): void {
    let ws = '';
    let byType: Held | undefined;
    let byEvent: Held | undefined;
    for (const e of events) {
      if (e.workspaceId !== ws || !byType || !byEvent) {
        ws = e.workspaceId;
        byType = this.entry(ws, 'type');
        byEvent = this.entry(ws, 'event');
      }
      // As stored: a lone surrogate becomes U+FFFD (UTF-8 has no other form of it).
      this.put(byType, e.type.toWellFormed());
      this.put(byEvent, e.event === null ? null : e.event.toWellFormed());
    }
  }

  /**
   * The values of `order` in the workspace's events (a superset: see the top of this file), ascending in code
   * point order with null last; null when there are more than MAX_VALUES. The first call per workspace and order
   * reads the stored rows' values (one DISTINCT: ~70 ms CPU on the 10M bench set; each order alone, since the
   * pair took three times as long).
   */
  async of(db: Db, workspaceId: string, order: ValueOrder): Promise<Array<string | null> | null> {
    const h = this.entry(workspaceId, order);
    if (!h.read) {
      const read = db
        .all(`SELECT DISTINCT ${VALUE_ORDERS[order]} AS v FROM events WHERE workspace_id = ? LIMIT ?`, [
          workspaceId,
          MAX_VALUES + 1,
        ])
        .then((rows) => {
          for (const r of rows) this.put(h, r.v === null || r.v === undefined ? null : String(r.v));
        });
      h.read = read;
      // Failed: asked again by the next page.
      read.catch(() => {
        if (h.read === read) h.read = null;
      });
    }
    await h.read;
    if (h.values === 'many') return null;
    if (!h.sorted) {
      const text = [...h.values].filter((v): v is string => v !== null).sort(compareText);
      h.sorted = h.values.has(null) ? [...text, null] : text;
    }
    return h.sorted;
  }
}
