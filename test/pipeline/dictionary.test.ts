// The data dictionary's walk and sums (pipeline/dictionary/observe.ts), on their own.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DictionaryBatch,
  LIMITS,
  type ObservedEvent,
  segment,
  typeCounts,
} from '../../src/pipeline/dictionary/observe.ts';
import { parsePath } from '../../src/pipeline/plan/draft.ts';

const at = new Date('2026-01-02T03:04:05Z');
const ev = (o: Partial<ObservedEvent>): ObservedEvent => ({
  workspaceId: 'w',
  type: 'track',
  event: 'E',
  name: null,
  receivedAt: at,
  properties: {},
  traits: {},
  ...o,
});
const only = (b: DictionaryBatch) => {
  assert.equal(b.names.size, 1);
  return [...b.names.values()][0] as NonNullable<ReturnType<typeof b.names.get>>;
};

test('paths, types per event, and examples', () => {
  const b = DictionaryBatch.of([
    ev({ properties: { a: 1, b: { c: 'x', 'd.e': true }, l: [1, 'two', 3.5, null, { k: 1 }] } }),
    ev({ properties: { a: 1.5, l: [] } }),
  ]);
  const n = only(b);
  const paths = Object.fromEntries(
    [...n.paths.values()].map((p) => [p.path, [p.count, typeCounts(p.types), p.examples]]),
  );
  assert.deepEqual(paths, {
    a: [2, { integer: 1, number: 1 }, ['1', '1.5']],
    b: [1, { object: 1 }, []],
    'b.c': [1, { string: 1 }, ['"x"']],
    'b["d.e"]': [1, { boolean: 1 }, ['true']],
    l: [2, { array: 2 }, []],
    // One event holds all of these: it counts once, and once per type.
    'l[]': [1, { string: 1, integer: 1, number: 1, null: 1, object: 1 }, ['1', '"two"', '3.5']],
    'l[].k': [1, { integer: 1 }, ['1']],
  });
  assert.deepEqual([...n.days.values()], [{ day: 20455, count: 2, first: at.getTime(), last: at.getTime() }]);
});

test('names by kind: track events, pages and screens by name, identify and group traits under one entry', () => {
  const b = DictionaryBatch.of([
    ev({ type: 'page', name: 'Home', properties: { p: 1 } }),
    ev({ type: 'page', name: null }),
    ev({ type: 'identify', traits: { email: 'a' }, properties: { ignored: 1 } }),
    ev({ type: 'group', traits: { name: 'g' } }),
    ev({ type: 'alias' }),
    ev({ workspaceId: 'v' }),
  ]);
  assert.deepEqual(
    [...b.names.values()].map((n) => [n.workspaceId, n.kind, n.name, [...n.paths.keys()]]),
    [
      ['w', 'page', 'Home', ['p']],
      ['w', 'page', '', []],
      ['w', 'identify', '', ['email']],
      ['w', 'group', '', ['name']],
      ['v', 'track', 'E', []],
    ],
  );
});

test('bounds: depth, paths per event, array items, paths per name, example length', () => {
  let deep: Record<string, unknown> = { leaf: 1 };
  for (let i = 0; i < 10; i++) deep = { d: deep };
  const wide = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, i]));
  const n1 = only(DictionaryBatch.of([ev({ properties: deep })]));
  assert.equal(n1.paths.size, LIMITS.depth);
  assert.equal(n1.paths.get('d.d.d.d.d.d')?.types[5], 1, 'the deepest is recorded as an object');
  assert.equal(only(DictionaryBatch.of([ev({ properties: wide })])).paths.size, LIMITS.pathsPerEvent);
  const many = Array.from({ length: 50 }, (_, i) => ({ [`x${i}`]: 1 }));
  assert.equal(only(DictionaryBatch.of([ev({ properties: { a: many } })])).paths.size, 2 + LIMITS.arrayItems);
  const names = only(
    DictionaryBatch.of(
      Array.from({ length: 4 }, (_, j) =>
        ev({ properties: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`p${j}-${i}`, i])) }),
      ),
    ),
  );
  assert.equal(names.paths.size, LIMITS.pathsPerName);
  assert.equal(names.dropped, 800 - LIMITS.pathsPerName);
  const long = only(DictionaryBatch.of([ev({ properties: { s: 'x'.repeat(100) } })]));
  assert.deepEqual(long.paths.get('s')?.examples, [JSON.stringify(`${'x'.repeat(64)}…`)]);
});

test('two summaries add up to the summary of both', () => {
  const events = [
    ev({ properties: { a: 1, b: 'x' } }),
    ev({ properties: { a: 'y' }, receivedAt: new Date(at.getTime() + 86_400_000) }),
    ev({ event: 'F', properties: { c: [1] } }),
  ];
  const whole = DictionaryBatch.of(events);
  const sum = DictionaryBatch.of(events.slice(0, 1));
  sum.merge(DictionaryBatch.of(events.slice(1)));
  const view = (b: DictionaryBatch) =>
    [...b.names.values()].map((n) => [
      n.name,
      [...n.days.values()],
      [...n.paths.values()].map((p) => [p.path, p.count, p.types, p.first, p.last, p.examples]),
    ]);
  assert.deepEqual(view(sum), view(whole));
  assert.equal(sum.events, 3);
});

test('a path reads back into its steps', () => {
  for (const [key, steps] of [
    ['a', ['a']],
    ['a.b', ['a', 'b']],
    ['["a.b"]', ['a.b']],
    ['a["x.y"].z', ['a', 'x.y', 'z']],
    ['items[].sku', ['items', null, 'sku']],
    ['m[][]', ['m', null, null]],
    ['["q\\"]"]', ['q"]']],
    ['["a\\\\"].b', ['a\\', 'b']],
  ] as const) {
    assert.deepEqual(parsePath(key), steps, key);
  }
  assert.equal(segment(''), '[""]');
  assert.equal(segment('a b'), 'a b');
});

test('examples: the first distinct values as JSON text, repeats and look-alikes told apart', () => {
  const long = 'y'.repeat(LIMITS.exampleLength + 6);
  const cut = JSON.stringify(`${long.slice(0, LIMITS.exampleLength)}…`);
  for (const values of [
    ['USD', 'USD', 'USD', 'EUR', 'USD', 'GBP', 'JPY'],
    ['"USD"', 'USD', '"USD"', 'US', 'USD"'],
    ['a\\b', 'a\\b', 'a\nb', 'a\nb', 'ab'],
    [long, long, `${long}z`, 'x'],
    ['\ud800', '\ud800', 'é', 'é', '😀'],
    ['', '', '""', 'x'],
  ]) {
    const n = only(DictionaryBatch.of(values.map((v) => ev({ properties: { v } }))));
    const expected: string[] = [];
    for (const v of values) {
      const x = JSON.stringify(v.length > LIMITS.exampleLength ? `${v.slice(0, LIMITS.exampleLength)}…` : v);
      if (expected.length < LIMITS.examples && !expected.includes(x)) expected.push(x);
    }
    assert.deepEqual(n.paths.get('v')?.examples, expected, JSON.stringify(values));
  }
  assert.deepEqual(only(DictionaryBatch.of([ev({ properties: { v: long } })])).paths.get('v')?.examples, [
    cut,
  ]);
});
