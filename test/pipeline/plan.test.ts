// A tracking plan's compilation and check on their own (pipeline/plan/): naming styles, the common schema
// merged into each event's, closed schemas, and what `omit` removes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CompiledPlan, MAX_VIOLATIONS } from '../../src/pipeline/plan/check.ts';
import { closeSchema, mergeSchemas } from '../../src/pipeline/plan/compile.ts';
import { type ValidItem, validateItem } from '../../src/pipeline/validate.ts';

const item = (o: Record<string, unknown>): ValidItem => {
  const v = validateItem({ type: 'track', userId: 'u', ...o });
  assert.ok(v.ok);
  return v.value;
};
const kinds = (plan: CompiledPlan, o: Record<string, unknown>) => {
  const r = plan.check(item(o));
  if (!r.ok) return ['rejected', ...r.violations.map((v) => v.kind)];
  return ((r.value.context?.violationErrors as Array<{ kind: string }> | undefined) ?? []).map((v) => v.kind);
};

test('naming: each case style and a pattern', () => {
  const cases: Array<[string, string[], string[]]> = [
    [
      'Title Case',
      ['Order Completed', 'Signed Up 2FA', 'A'],
      ['order completed', 'Order completed', 'Order  Done'],
    ],
    ['Sentence case', ['Order completed', 'Signed up'], ['Order Completed', 'order completed']],
    ['lower case', ['order completed', '$pageview'.slice(1)], ['Order completed', 'order_completed']],
    ['snake_case', ['order_completed', 'a1_b2'], ['Order_completed', 'order__completed', 'orderCompleted']],
    ['camelCase', ['orderCompleted', 'order'], ['OrderCompleted', 'order_completed']],
    ['PascalCase', ['OrderCompleted'], ['orderCompleted', 'Order Completed']],
    ['kebab-case', ['order-completed'], ['order_completed', 'Order-Completed']],
  ];
  for (const [style, good, bad] of cases) {
    const plan = CompiledPlan.of({ naming: { case: style } }, 1);
    for (const name of good) assert.deepEqual(kinds(plan, { event: name }), [], `${style}: ${name}`);
    for (const name of bad) assert.deepEqual(kinds(plan, { event: name }), ['naming'], `${style}: ${name}`);
  }
  const pattern = CompiledPlan.of({ naming: { pattern: '^[a-z]+:[a-z_]+$' } }, 1);
  assert.deepEqual(kinds(pattern, { event: 'checkout:started' }), []);
  assert.deepEqual(kinds(pattern, { event: 'Checkout Started' }), ['naming']);
});

test('the common schema joins each event schema; only an event schema is closed', () => {
  const merged = mergeSchemas(
    { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] },
    { type: 'object', properties: { b: { type: 'number' }, a: { type: 'integer' } }, required: ['b'] },
  );
  assert.deepEqual(merged, {
    type: 'object',
    properties: { a: { type: 'integer' }, b: { type: 'number' } },
    required: ['a', 'b'],
  });
  assert.deepEqual(
    closeSchema({
      type: 'object',
      properties: {
        o: { type: 'object', properties: { x: {} } },
        open: { type: 'object', properties: {}, additionalProperties: true },
      },
      anyOf: [{ properties: { y: {} } }],
    }),
    {
      type: 'object',
      properties: {
        o: { type: 'object', properties: { x: {} }, additionalProperties: false },
        open: { type: 'object', properties: {}, additionalProperties: true },
      },
      anyOf: [{ properties: { y: {} } }],
      additionalProperties: false,
    },
  );
  const plan = CompiledPlan.of(
    {
      common: { properties: { type: 'object', properties: { source: { type: 'string' } } } },
      events: { Listed: { properties: { type: 'object', properties: { n: { type: 'number' } } } }, Bare: {} },
    },
    1,
  );
  assert.deepEqual(
    kinds(plan, { event: 'Listed', properties: { n: 1, source: 's' } }),
    [],
    'common properties are planned',
  );
  assert.deepEqual(kinds(plan, { event: 'Listed', properties: { n: 1, other: 1 } }), ['unplannedProperty']);
  assert.deepEqual(
    kinds(plan, { event: 'Bare', properties: { anything: 1 } }),
    [],
    'no schema of its own: open',
  );
  assert.deepEqual(kinds(plan, { event: 'Nope', properties: { anything: 1, source: 2 } }), [
    'unplannedEvent',
    'wrongType',
  ]);
});

test('omit removes what broke the plan, array elements from the last back, and keeps the rest', () => {
  const plan = CompiledPlan.of(
    {
      modes: { wrongType: 'omit', unplannedProperty: 'omit' },
      events: {
        E: {
          properties: {
            type: 'object',
            properties: {
              tags: { type: 'array', items: { type: 'string' } },
              o: { type: 'object', properties: { k: { type: 'string' } } },
            },
          },
        },
      },
    },
    1,
  );
  const input = { tags: ['a', 1, 'b', 2, 'c'], o: { k: 5, z: 1 }, x: 1 };
  const r = plan.check(item({ event: 'E', properties: input }));
  assert.ok(r.ok);
  assert.deepEqual(r.value.properties, { tags: ['a', 'b', 'c'], o: {} });
  assert.deepEqual(
    input,
    { tags: ['a', 1, 'b', 2, 'c'], o: { k: 5, z: 1 }, x: 1 },
    'the input is not changed',
  );
  const marks = r.value.context?.violationErrors as Array<{
    meta: { instancePath: string };
    omitted?: boolean;
  }>;
  assert.deepEqual(
    marks.map((m) => [m.meta.instancePath, m.omitted]),
    [
      ['/properties/x', true],
      ['/properties/tags/1', true],
      ['/properties/tags/3', true],
      ['/properties/o/z', true],
      ['/properties/o/k', true],
    ],
  );
});

test('an event keeps at most MAX_VIOLATIONS marks, and omit removes every offending value', () => {
  const plan = CompiledPlan.of(
    {
      modes: { unplannedProperty: 'omit' },
      events: { E: { properties: { type: 'object', properties: { a: {} } } } },
    },
    1,
  );
  const props = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`p${i}`, i]));
  const r = plan.check(item({ event: 'E', properties: { a: 1, ...props } }));
  assert.ok(r.ok);
  assert.deepEqual(r.value.properties, { a: 1 });
  assert.equal((r.value.context?.violationErrors as unknown[] | undefined)?.length, MAX_VIOLATIONS);
});

test('no plan: an event passes as it is, without a copy', () => {
  const i = item({ event: 'E', properties: { a: 1 } });
  const r = CompiledPlan.NONE.check(i);
  assert.ok(r.ok);
  assert.equal(r.value, i);
});
