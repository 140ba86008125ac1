// A small bounded LRU for the enrich step: many events share a user agent or an IP, and parsing one costs
// tens of microseconds while a Map hit costs a fraction of one.

export class Lru<K, V> {
  private readonly map = new Map<K, V>();

  /** @param max most entries kept; the least recently used one is dropped beyond it. */
  constructor(private readonly max: number) {}

  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v === undefined) return undefined;
    // A Map iterates in insertion order: re-inserting marks the entry as most recently used.
    this.map.delete(key);
    this.map.set(key, v);
    return v;
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as K);
  }

  get size(): number {
    return this.map.size;
  }
}
