// Read-your-writes over the ingest log: an accepted event is durable in the log before the store has loaded
// it, so the store calls that read events or profiles (or delete them) first wait for the loader to catch up
// with everything acknowledged before the call.
import type { Store } from '../store/types.ts';

/** The Store methods that must see every event acknowledged before they are called. */
export const READS_AFTER_WRITES = [
  'listEvents',
  'listRejected',
  'getUser',
  'listUsers',
  'listUserEvents',
  'getGroup',
  'listGroupUsers',
  'requestDeletion',
  'deleteWorkspace',
] as const satisfies ReadonlyArray<keyof Store>;

/** `store` with each READS_AFTER_WRITES method waiting for `settled()` first; the rest unchanged. */
export function readsAfterWrites(store: Store, settled: () => Promise<void>): Store {
  const wrapped = new Set<string>(READS_AFTER_WRITES);
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof prop !== 'string' || !wrapped.has(prop) || typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        await settled();
        return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
      };
    },
  });
}
