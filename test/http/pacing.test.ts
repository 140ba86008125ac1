// Backpressure before shedding (src/http/pacing.ts): past half the queue limit an ingest request waits before it
// is read, longer the fuller the queue; at the limit the 503 still comes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PACE_FROM, paceMs } from '../../src/http/pacing.ts';
import { basic, bearer, KEYS, startTestApp } from '../helpers.ts';

test('no wait up to half the queue limit, then one growing with the backlog, to --backpressure-ms at the limit', () => {
  assert.equal(PACE_FROM, 0.5);
  assert.equal(paceMs(0, 100_000, 100), 0);
  assert.equal(paceMs(50_000, 100_000, 100), 0);
  assert.equal(paceMs(50_001, 100_000, 100), 1, 'any backlog past half waits (a timer of at least 1 ms)');
  assert.equal(paceMs(75_000, 100_000, 100), 50);
  assert.equal(paceMs(75_000, 100_000, 30), 15);
  assert.equal(paceMs(100_000, 100_000, 100), 100);
  assert.equal(paceMs(250_000, 100_000, 100), 100, 'never longer than at the limit');
  assert.equal(paceMs(90_000, 100_000, 0), 0, '--backpressure-ms 0: no wait');
  let last = 0;
  for (let p = 0; p <= 120; p++) {
    const ms = paceMs(p, 100, 100);
    assert.ok(ms >= last, `the wait never shrinks as the backlog grows (${p})`);
    last = ms;
  }
});

test('an ingest request with the backlog at 90% of the queue limit waits before it is answered', async () => {
  // Loads wait 60 s for more lines, so the backlog stays until a read asks for it.
  const t = await startTestApp({ engine: 'embedded', queueLimit: 10, loadDelayMs: 60_000 });
  const post = (ids: string[]) =>
    t.app.inject({
      method: 'POST',
      url: '/v1/batch',
      headers: { authorization: basic(KEYS.write) },
      payload: { batch: ids.map((id) => ({ type: 'track', event: 'E', userId: 'u', messageId: id })) },
    });
  try {
    assert.equal((await post(['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8', 'a9'])).statusCode, 200);
    assert.equal(t.log.pending, 9);
    const wait = paceMs(9, 10, 100);
    assert.equal(wait, 80);
    const started = performance.now();
    const paced = await post(['b1']);
    const took = performance.now() - started;
    assert.equal(paced.statusCode, 200, 'accepted after its wait: the limit is not reached');
    assert.ok(took >= wait - 1, `answered after ${took.toFixed(1)} ms, not before the ${wait} ms wait`);
    // Full: the limit's 503 names the backlog, as before.
    const refused = await post(['c1']);
    assert.equal(refused.statusCode, 503);
    assert.equal(refused.json().code, 'INTAKE_ERR_OVERLOADED');
    // Once a read has the backlog loaded, requests are accepted again.
    const read = await t.app.inject({
      method: 'GET',
      url: '/events',
      headers: { authorization: bearer(KEYS.read) },
    });
    assert.equal(read.statusCode, 200);
    assert.equal(t.log.pending, 0);
    assert.equal((await post(['c1'])).statusCode, 200);
  } finally {
    await t.close();
  }
});
