// The walks that never recurse: depthExceeds against a recursive reference, stringifyCapped against
// JSON.stringify, both on generated values (seeded: FUZZ_SEED replays a failure) and at depths that
// overflow anything recursive.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { depthExceeds, MAX_DEPTH, stringifyCapped } from '../../src/pipeline/json.ts';

const seed = Number(process.env.FUZZ_SEED ?? 20_261_130);

/** The obvious recursive depth (a scalar is 0, `{}` and `[]` are 1): fine for the shallow generated values. */
function depth(v: unknown): number {
  if (typeof v !== 'object' || v === null) return 0;
  const children = Array.isArray(v) ? v : Object.values(v);
  return 1 + Math.max(0, ...children.map(depth));
}

const deepArray = (levels: number): unknown => JSON.parse(`${'['.repeat(levels)}${']'.repeat(levels)}`);

test('depthExceeds agrees with a recursive depth on generated JSON values', () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 0, max: 9 }), (v, limit) => {
      assert.equal(depthExceeds(v, limit), depth(v) > limit);
    }),
    { seed, numRuns: 500 },
  );
});

test('depthExceeds stops at the limit on values far deeper than any recursion could walk', () => {
  const v = deepArray(1_000_000);
  assert.equal(depthExceeds(v, MAX_DEPTH), true);
  const nested = JSON.parse(`{"a":[${'{"b":'.repeat(MAX_DEPTH - 2)}1${'}'.repeat(MAX_DEPTH - 2)}]}`);
  assert.equal(depthExceeds(nested, MAX_DEPTH), false);
  assert.equal(depthExceeds(nested, MAX_DEPTH - 1), true);
  // Wide values are walked whole, and what they held is released afterwards.
  const wide = Array.from({ length: 100_000 }, (_, i) => ({ i, tags: [i] }));
  assert.equal(depthExceeds(wide, 3), false);
  assert.equal(depthExceeds(wide, 2), true);
  assert.equal(depthExceeds('text', 0), false);
  assert.equal(depthExceeds(null, 0), false);
});

test('stringifyCapped is JSON.stringify cut at the cap, on generated values', () => {
  const cases = [
    ['json', fc.jsonValue({ maxDepth: 6 })],
    // JSON.stringify's own rules: undefined members skipped (null in arrays), toJSON, non-finite as null.
    [
      'anything',
      fc.anything({ maxDepth: 4, withBoxedValues: false, withNullPrototype: true, withSparseArray: true }),
    ],
    ['dates', fc.array(fc.record({ at: fc.date({ noInvalidDate: true }), n: fc.double() }))],
    ['strings', fc.string({ unit: 'binary' })],
  ] as const;
  for (const [, arb] of cases) {
    fc.assert(
      fc.property(arb as fc.Arbitrary<unknown>, fc.integer({ min: 0, max: 200 }), (v, max) => {
        let expected: string;
        try {
          expected = JSON.stringify(v) ?? 'null';
        } catch {
          return; // a bigint, which JSON has no form for
        }
        assert.equal(stringifyCapped(v, 1_000_000), expected);
        assert.equal(stringifyCapped(v, max), expected.slice(0, max));
      }),
      { seed, numRuns: 300 },
    );
  }
});

test('stringifyCapped writes the start of a value nested a million levels, and stops at the cap', () => {
  assert.equal(stringifyCapped(deepArray(1_000_000), 65_536), '['.repeat(65_536));
  const obj = JSON.parse(`${'{"a":'.repeat(200_000)}1${'}'.repeat(200_000)}`);
  assert.equal(stringifyCapped(obj, 10), '{"a":{"a":');
  const big = Array.from({ length: 1_000_000 }, (_, i) => i);
  assert.equal(stringifyCapped(big, 12), '[0,1,2,3,4,5');
  assert.equal(stringifyCapped(undefined, 10), 'null');
  assert.equal(stringifyCapped({ __proto__: 1, constructor: 'x' }, 100), '{"constructor":"x"}');
  assert.equal(stringifyCapped(JSON.parse('{"__proto__":1}'), 100), '{"__proto__":1}');
});
