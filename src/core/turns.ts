// Sharing the event loop: the main thread's heavy steps (a request body's parse and ingest, the profile step's
// slices) run in turns of at most TURN_MS, so timers and I/O are never held behind a pile of them.
//
// Why: a pass of libuv's poll phase runs every request whose body is complete, one after another. Under the
// benchmark's 100-event batches that was up to eight requests of ~2 ms each, plus a load's JavaScript and a
// scavenge: on-CPU stalls of 21-43 ms, during which a timer, a query's answer or a health check waited.
// Work admitted here runs at once while the current turn has run under TURN_MS and nothing waits; else it waits
// for a later turn, in arrival order. A turn opens with the first work after the last one ended, and ends at
// the next timers phase (a 0 ms timer armed when it opened): between two timers phases at most one turn runs.

/**
 * How long one turn of admitted work may hold the event loop, in ms. 5, not 8: with 8, a turn, the request that
 * ran past it and a load's JavaScript or a scavenge in the same iteration still made on-CPU stalls of 20-22 ms
 * in full benchmark runs. Alternated (bench/main-thread.ts --rounds 4 --seconds 20, 100-event batches): longest
 * on-CPU stall per round 21.1 / 15.9 / 15.8 / 16.3 ms with 8, 17.0 / 16.0 / 14.3 / 14.6 with 5; CPU per event
 * 27.1 and 27.4 µs (medians; the machine's noise is larger).
 */
export const TURN_MS = 5;

/** performance.now() when the current turn began; 0: none open. */
let began = 0;
/** Work admitted and not yet run. */
let waiting = 0;

function endTurn(): void {
  began = 0;
}

/** Opens a turn if none is open (it ends at the next timers phase); true while the open one has time left. */
function hasTime(): boolean {
  const now = performance.now();
  if (began === 0) {
    began = now;
    setTimeout(endTurn, 0);
    return true;
  }
  return now - began < TURN_MS;
}

/**
 * A waiting work's own immediate (libuv's check phase). Node drains the microtask queue between two
 * immediates, so each work's promise chain (fastify's hooks, the route's handler) has run before the next one
 * asks for time. Past the turn's time it queues itself again for the next iteration's check phase, in the same
 * order; that iteration's timers phase ended the turn.
 */
function later(work: () => void): void {
  if (!hasTime()) {
    setImmediate(later, work);
    return;
  }
  waiting--;
  work();
}

/**
 * Runs `work` now if the current turn has time left and nothing waits, else at a later turn, in arrival order.
 * `work` must not throw (its errors are its own to deliver).
 */
export function admit(work: () => void): void {
  if (waiting === 0 && hasTime()) {
    work();
    return;
  }
  waiting++;
  setImmediate(later, work);
}

/** Resolves at once while the current turn has time left, else at a later turn (for long loops' slices). */
export function nextTurn(): Promise<void> | undefined {
  if (waiting === 0 && hasTime()) return undefined;
  return new Promise<void>((resolve) => admit(resolve));
}
