// Backpressure before shedding. The ingest log acknowledges an event once it is durable and the loader puts it in
// the store afterwards; when requests arrive faster than the loads go, the backlog grows until the queue limit,
// and then every request is refused with 503 until loads catch up. A server that answers as fast as it can parse
// hands the clients that whole difference at once: measured with the benchmark's 8 connections of 100-event
// batches on 2 cores, requests were accepted at ~56k events/s while the loads took ~51k, the backlog grew ~4k a
// second and the third 20 s round shed 2-6% of its requests.
//
// So past half the queue limit an ingest request waits before its body is read, in proportion to how far the
// backlog is into the other half: nothing at half, --backpressure-ms (100 by default) at the limit. Clients send their next request when
// the last one is answered (every SDK's flush does), so the wait slows them to the rate the loads keep up with,
// and the backlog settles a little past half, with room left for bursts; only if that is not enough (more
// clients than the longest wait can slow) does the limit's 503 come. Waiting before the body is read keeps the
// request's parse off the CPU the loads need, and leaves its bytes in the kernel's buffers.
/** The backlog, as a share of the queue limit, past which ingest requests wait. */
export const PACE_FROM = 0.5;

/**
 * How long an ingest request waits before it is read, in ms (0: at once), with `pending` of `limit` waiting and
 * `maxMs` the wait at the limit.
 */
export function paceMs(pending: number, limit: number, maxMs: number): number {
  const over = pending / limit - PACE_FROM;
  if (!(over > 0)) return 0;
  return Math.ceil(Math.min(1, over / (1 - PACE_FROM)) * maxMs);
}
