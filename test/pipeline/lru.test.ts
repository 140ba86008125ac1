// The enrich step's bounded cache: what it keeps. What a miss costs at each size is measured by
// bench/enrich-micro.ts, not here: a test must not fail because the machine was slow.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Lru } from '../../src/pipeline/enrich/lru.ts';

test('keeps what was used recently, drops what was not, and never holds more than max', () => {
  const lru = new Lru<string, number>(100);
  lru.set('hot', 1);
  for (let i = 0; i < 1000; i++) {
    lru.set(`k${i}`, i);
    // Used every 10 insertions: always among the last max/2.
    if (i % 10 === 0) assert.equal(lru.get('hot'), 1, `hot after ${i}`);
    assert.ok(lru.size <= 100, `size ${lru.size}`);
  }
  assert.equal(lru.get('k999'), 999);
  assert.equal(lru.get('k0'), undefined);
  assert.equal(lru.get('k949'), 949, 'set within the last max/2 insertions');
  lru.set('hot', 2);
  assert.equal(lru.get('hot'), 2, 'set replaces');
  assert.equal(new Lru<string, number>(1).get('x'), undefined);
});
