// Read-your-writes over the log: an accepted event is durable in the log before the store has loaded it, so
// every read of events or profiles, every SQL query and insight, and every erasure, first waits until the log has loaded what was
// acknowledged before the call. It applies to whole parts of the store contract (events, profiles, sql, insights, erasure),
// not to a list of methods: a read added to those interfaces waits too, by construction.
import type { Store } from '../store/types.ts';

type Part = Record<string, unknown>;

/** `part` with each of its functions waiting for `settled()` first. */
function afterSettled<T extends object>(part: T, settled: () => Promise<void>): T {
  const out: Part = {};
  for (const [name, value] of Object.entries(part as Part)) {
    out[name] =
      typeof value === 'function'
        ? async (...args: unknown[]) => {
            await settled();
            return (value as (...a: unknown[]) => Promise<unknown>).apply(part, args);
          }
        : value;
  }
  return out as T;
}

/** The store as every reader sees it: its reads and erasures wait for the log; its sink, admin and plans do not. */
export function readYourWrites(store: Store, settled: () => Promise<void>): Store {
  return {
    sink: store.sink,
    admin: store.admin,
    events: afterSettled(store.events, settled),
    profiles: afterSettled(store.profiles, settled),
    sql: afterSettled(store.sql, settled),
    insights: afterSettled(store.insights, settled),
    erasure: afterSettled(store.erasure, settled),
    schema: afterSettled(store.schema, settled),
    plans: store.plans,
    onTombstones: (listener) => store.onTombstones(listener),
    close: () => store.close(),
  };
}
