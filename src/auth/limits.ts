// Per-key rate limits: token buckets in this process's memory. Nothing is shared between processes, so in a
// cluster each ingest node keeps its own buckets and a key's effective limit is its limit times the nodes.
import type { Rate, RateLimit } from '../store/types.ts';

/** The most a rate or a burst may be: far beyond what one node serves, and exact in a double. */
export const MAX_RATE = 1e9;

/**
 * A token bucket. A request for `n` tokens is admitted when the bucket holds min(n, burst) of them, and then
 * takes all n: a batch larger than the burst is admitted only from a full bucket and leaves it below zero, so
 * it never waits forever and the average still holds.
 */
export class TokenBucket {
  private tokens: number;

  constructor(
    readonly rate: Rate,
    private last: number,
    tokens = rate.burst,
  ) {
    this.tokens = Math.min(tokens, rate.burst);
  }

  /** Takes n tokens at `now` (ms); 0 when taken, else the seconds until they could be (nothing is taken). */
  take(n: number, now: number): number {
    this.refill(now);
    if (n <= 0) return 0; // a request with no items costs no events, even from a bucket below zero
    const need = Math.min(n, this.rate.burst);
    if (this.tokens >= need) {
      this.tokens -= n;
      return 0;
    }
    return (need - this.tokens) / this.rate.perSecond;
  }

  /** Tokens held at `now` (below zero after a batch larger than the burst). */
  level(now: number): number {
    this.refill(now);
    return this.tokens;
  }

  private refill(now: number): void {
    const elapsed = now - this.last;
    // A clock that went back (a wall clock) refills nothing, and is followed from where it is.
    this.last = now;
    if (elapsed > 0) {
      this.tokens = Math.min(this.rate.burst, this.tokens + (elapsed * this.rate.perSecond) / 1000);
    }
  }
}

export type LimitName = keyof RateLimit;

/** The buckets of every key that has a limit, by limit and key id. */
export class Limiter {
  private readonly buckets: Record<LimitName, Map<string, TokenBucket>> = {
    events: new Map(),
    requests: new Map(),
  };

  /** `now`: milliseconds on a clock that only moves forward in production (performance.now). */
  constructor(private readonly now: () => number) {}

  /**
   * Takes n tokens from the key's bucket for `limit`; 0 when taken, else the seconds until they could be. A
   * bucket starts full; when the key's rate changes (the admin API) it stays as full, in proportion, as it was.
   */
  take(keyId: string, limit: LimitName, rate: Rate, n: number): number {
    const map = this.buckets[limit];
    const now = this.now();
    let b = map.get(keyId);
    if (b?.rate !== rate) {
      // The bucket keeps how full it was: a full one stays full, an empty one empty, half half.
      const fill = b ? b.level(now) / b.rate.burst : 1;
      b = new TokenBucket(rate, now, fill * rate.burst);
      map.set(keyId, b);
    }
    return b.take(n, now);
  }
}

/** A rate as the admin API takes it (burst optional: one second's worth), completed. */
export function completeRate(r: { perSecond: number; burst?: number | undefined }): Rate {
  return { perSecond: r.perSecond, burst: r.burst ?? Math.max(1, Math.ceil(r.perSecond)) };
}

export function completeRateLimit(r: {
  events?: { perSecond: number; burst?: number | undefined } | undefined;
  requests?: { perSecond: number; burst?: number | undefined } | undefined;
}): RateLimit {
  const out: RateLimit = {};
  if (r.events) out.events = completeRate(r.events);
  if (r.requests) out.requests = completeRate(r.requests);
  return out;
}
