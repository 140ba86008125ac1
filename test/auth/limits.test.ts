// Token buckets on their own, on a clock the test moves.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Limiter, TokenBucket } from '../../src/auth/limits.ts';

test('a bucket admits its burst, then refills at its rate', () => {
  const b = new TokenBucket({ perSecond: 10, burst: 5 }, 0);
  for (let i = 0; i < 5; i++) assert.equal(b.take(1, 0), 0);
  assert.equal(b.take(1, 0), 0.1, 'one token comes back in 100 ms');
  assert.equal(b.take(1, 50), 0.05);
  assert.equal(b.take(1, 100), 0);
  assert.equal(b.take(3, 100), 0.3, 'refused requests take nothing');
  assert.equal(b.take(3, 400), 0);
  assert.equal(b.level(10_000), 5, 'never more than the burst');
});

test('a batch larger than the burst passes from a full bucket and leaves it in debt', () => {
  const b = new TokenBucket({ perSecond: 100, burst: 100 }, 0);
  assert.equal(b.take(250, 0), 0);
  assert.equal(b.level(0), -150);
  assert.equal(b.take(1, 0), 1.51, 'the average holds: 151 tokens to win back');
  assert.equal(b.take(250, 1500), 1, 'a large batch waits for a full bucket, never longer');
  assert.equal(b.take(250, 2500), 0);
  assert.equal(b.take(0, 2500), 0, 'nothing to charge is never refused');
});

test('a clock that goes back refills nothing', () => {
  const b = new TokenBucket({ perSecond: 1, burst: 1 }, 10_000);
  assert.equal(b.take(1, 10_000), 0);
  assert.equal(b.take(1, 5_000), 1);
  assert.equal(b.take(1, 6_000), 0, 'and counts from where it went');
});

test('the limiter keeps buckets per key and per limit, and how full they are over a rate change', () => {
  let now = 0;
  const l = new Limiter(() => now);
  const rate = { perSecond: 1, burst: 2 };
  assert.equal(l.take('a', 'requests', rate, 2), 0);
  assert.ok(l.take('a', 'requests', rate, 1) > 0);
  assert.equal(l.take('b', 'requests', rate, 2), 0, 'another key has its own bucket');
  assert.equal(l.take('a', 'events', rate, 2), 0, 'and so has another limit');
  const faster = { perSecond: 10, burst: 20 };
  assert.equal(l.take('a', 'requests', faster, 1), 0.1, 'an empty bucket stays empty under a new rate');
  now = 1000;
  assert.equal(l.take('a', 'requests', faster, 10), 0);
  assert.equal(l.take('b', 'requests', faster, 10), 0, 'half full (1 of 2) stays half full (10 of 20)');
  assert.equal(l.take('b', 'requests', faster, 1), 0.1);
});
