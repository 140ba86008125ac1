// A small bounded cache for the enrich step: many events share a user agent or an IP, and parsing one costs
// tens of microseconds while a Map hit costs a fraction of one.
//
// Two generations of Maps (the quick-lru / hashlru scheme), not one Map whose oldest key is deleted per
// insertion: V8 leaves a deleted Map entry in place until the table is rebuilt, so finding the oldest key
// walks over every entry evicted since, and an insertion into a full 10,000-entry cache measured 6.5 µs (0.6
// with 1,000 entries, 9.3 with 100,000): a client sending a new IP or user agent with each event paid that
// on every one. Here a miss costs the same whatever the size, and a hit one Map lookup.

export class Lru<K, V> {
  /** Entries set or used since the last turn. */
  private recent = new Map<K, V>();
  /** The generation before; dropped whole at the next turn. */
  private older = new Map<K, V>();
  private readonly generation: number;

  /**
   * @param max most entries kept. An entry used within the last max/2 insertions is kept; one unused for
   *   max insertions is gone (in between, it depends on when the generations turned).
   */
  constructor(max: number) {
    this.generation = Math.max(1, Math.floor(max / 2));
  }

  get(key: K): V | undefined {
    const v = this.recent.get(key);
    if (v !== undefined) return v;
    const old = this.older.get(key);
    // Still wanted: carried into the recent generation, so it outlives the older one.
    if (old !== undefined) this.add(key, old);
    return old;
  }

  set(key: K, value: V): void {
    if (this.recent.has(key)) this.recent.set(key, value);
    else this.add(key, value);
  }

  private add(key: K, value: V): void {
    this.recent.set(key, value);
    if (this.recent.size >= this.generation) {
      this.older = this.recent;
      this.recent = new Map();
    }
  }

  /** Entries held (a key carried over from the older generation counts twice until it turns). */
  get size(): number {
    return this.recent.size + this.older.size;
  }
}
