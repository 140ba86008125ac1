// Trait merge rules: later wins by event time, nested objects merge, null deletes, arrival order is irrelevant.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyTraits, materialize, mergeTraitStates, type TraitNode } from '../../src/profiles/traits.ts';

type Update = [traits: Record<string, unknown>, t: number];

const fold = (updates: Update[]): TraitNode | undefined =>
  updates.reduce<TraitNode | undefined>((s, [traits, t]) => applyTraits(s, traits, t), undefined);

function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

test('a later value wins over an earlier one, whichever arrives first', () => {
  const a: Update = [{ plan: 'free', email: 'a@x.io' }, 1000];
  const b: Update = [{ plan: 'pro' }, 2000];
  assert.deepEqual(materialize(fold([a, b])), { plan: 'pro', email: 'a@x.io' });
  assert.deepEqual(materialize(fold([b, a])), { plan: 'pro', email: 'a@x.io' });
});

test('nested objects merge key by key', () => {
  const s = fold([
    [{ address: { city: 'Berlin', zip: '10115' }, name: 'A' }, 1000],
    [{ address: { city: 'Paris' } }, 2000],
  ]);
  assert.deepEqual(materialize(s), { address: { city: 'Paris', zip: '10115' }, name: 'A' });
});

test('null deletes a key, and an older value arriving later does not bring it back', () => {
  const set: Update = [{ plan: 'pro', company: { name: 'Acme', size: 10 } }, 1000];
  const del: Update = [{ plan: null, company: null }, 2000];
  assert.deepEqual(materialize(fold([set, del])), {});
  assert.deepEqual(materialize(fold([del, set])), {});
  // Set again after the deletion: visible, without the deleted nested keys.
  const again: Update = [{ company: { name: 'Beta' } }, 3000];
  assert.deepEqual(materialize(fold([again, set, del])), { company: { name: 'Beta' } });
});

test('a scalar replacing an object, and an object replacing a scalar, by time', () => {
  assert.deepEqual(
    materialize(
      fold([
        [{ a: { x: 1 } }, 1],
        [{ a: 'flat' }, 2],
      ]),
    ),
    { a: 'flat' },
  );
  assert.deepEqual(
    materialize(
      fold([
        [{ a: 'flat' }, 2],
        [{ a: { x: 1 } }, 1],
      ]),
    ),
    { a: 'flat' },
  );
  assert.deepEqual(
    materialize(
      fold([
        [{ a: { x: 1 } }, 3],
        [{ a: 'flat' }, 2],
      ]),
    ),
    { a: { x: 1 } },
  );
  assert.deepEqual(
    materialize(
      fold([
        [{ a: [1, 2] }, 1],
        [{ a: [3] }, 2],
      ]),
    ),
    { a: [3] },
    'arrays replace',
  );
});

test('every arrival order of a history gives the same traits and the same state', () => {
  const history: Update[] = [
    [{ name: 'Ann', plan: 'free', address: { city: 'Berlin', zip: '10115' } }, 1000],
    [{ plan: 'pro', address: { city: 'Paris' } }, 2000],
    [{ address: null, email: 'ann@x.io' }, 3000],
    [{ address: { country: 'FR' }, plan: null }, 4000],
    [{ name: 'Anne', tags: ['a', 'b'] }, 5000],
  ];
  const expected = { name: 'Anne', email: 'ann@x.io', address: { country: 'FR' }, tags: ['a', 'b'] };
  const states = new Set<string>();
  for (const order of permutations(history)) {
    const s = fold(order);
    assert.deepEqual(materialize(s), expected, `order ${order.map(([, t]) => t).join(',')}`);
    states.add(JSON.stringify(canonical(s)));
  }
  assert.equal(states.size, 1, 'the stored state does not depend on the order either');
});

test('merging two profiles is commutative and associative (identity merges in any order)', () => {
  const x = fold([[{ a: 1, n: { p: 1 } }, 10]]);
  const y = fold([[{ a: 2, n: { q: 2 } }, 20]]);
  const z = fold([[{ n: null, b: 3 }, 15]]);
  const xy_z = materialize(mergeTraitStates(mergeTraitStates(x, y), z));
  const x_yz = materialize(mergeTraitStates(x, mergeTraitStates(y, z)));
  const zyx = materialize(mergeTraitStates(mergeTraitStates(z, y), x));
  assert.deepEqual(xy_z, { a: 2, b: 3, n: { q: 2 } });
  assert.deepEqual(x_yz, xy_z);
  assert.deepEqual(zyx, xy_z);
});

test('two values at the same instant resolve the same way in either order', () => {
  const a: Update = [{ plan: 'a' }, 7];
  const b: Update = [{ plan: 'b' }, 7];
  assert.deepEqual(materialize(fold([a, b])), materialize(fold([b, a])));
});

/** The state with object keys sorted, to compare states regardless of insertion order. */
function canonical(n: TraitNode | undefined): unknown {
  if (!n) return null;
  const c = n.c
    ? Object.fromEntries(
        Object.keys(n.c)
          .sort()
          .map((k) => [k, canonical((n.c as Record<string, TraitNode>)[k])]),
      )
    : undefined;
  return { t: n.t, v: n.v, o: n.o, c };
}
