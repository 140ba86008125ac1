import assert from 'node:assert/strict';
import { test } from 'node:test';
import { admit, nextTurn, TURN_MS } from '../../src/core/turns.ts';

/** Holds the thread for `ms` of wall time, as a heavy request would. */
function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

/** Lets every turn opened so far end (its timer) and the loop go idle. */
const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 5));

test('work admitted while the loop is idle runs at once', async () => {
  await settle();
  let ran = false;
  admit(() => {
    ran = true;
  });
  assert.equal(ran, true);
  assert.equal(nextTurn(), undefined);
});

test('past a turn, work waits for the timers phase, then runs in arrival order with its promise chain', async () => {
  await settle();
  const order: string[] = [];
  // A timer that comes due while the first work runs.
  setTimeout(() => order.push('timer'), 0);
  admit(() => {
    order.push('a');
    spin(TURN_MS + 2);
  });
  const done = new Promise<void>((resolve) => {
    admit(() => {
      order.push('b');
      // What the work started finishes before the next work asks for time.
      Promise.resolve()
        .then(() => order.push('b then'))
        .then(() => order.push('b then then'));
    });
    admit(() => {
      order.push('c');
      resolve();
    });
  });
  assert.deepEqual(order, ['a'], 'b and c wait: the turn has run its time');
  await done;
  assert.deepEqual(order, ['a', 'timer', 'b', 'b then', 'b then then', 'c']);
});

test('a waiting queue is not jumped by later work, and nextTurn waits in it', async () => {
  await settle();
  const order: string[] = [];
  admit(() => spin(TURN_MS + 2));
  admit(() => order.push('first'));
  const slice = nextTurn();
  assert.ok(slice, 'the turn is spent: a slice waits');
  const after = slice.then(() => order.push('slice'));
  admit(() => order.push('last'));
  await after;
  await settle();
  assert.deepEqual(order, ['first', 'slice', 'last']);
});

test('one turn at most between two timers phases, however much waits', async () => {
  await settle();
  const ticks: number[] = [];
  let works = 0;
  const timer = setInterval(() => ticks.push(works), 1);
  const all = Array.from(
    { length: 12 },
    () =>
      new Promise<void>((resolve) =>
        admit(() => {
          works++;
          spin(3);
          resolve();
        }),
      ),
  );
  await Promise.all(all);
  clearInterval(timer);
  // Each turn runs works while under TURN_MS (3 of 3 ms each), so the interval saw the count move by at most 3.
  const steps = ticks.slice(1).map((n, i) => n - (ticks[i] as number));
  assert.ok(ticks.length >= 3, `the interval ran between the turns: ${ticks.join(',')}`);
  assert.ok(Math.max(...steps) <= Math.ceil(TURN_MS / 3), `works per turn: ${steps.join(',')}`);
});
