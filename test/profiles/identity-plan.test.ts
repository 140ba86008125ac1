// The identity plan on its own: canonical ids, merges across stored persons, and the cap.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type KnownId, type Link, planIdentities } from '../../src/profiles/identity.ts';

const link = (a: string, b: string, t = 0): Link => ({ a, b, t, messageId: `${a}>${b}` });

test('new ids linked in one batch become one person named by the smallest userId', () => {
  const plan = planIdentities({
    ids: new Map([
      ['anon-1', false],
      ['zed', true],
      ['amy', true],
    ]),
    links: [link('anon-1', 'zed'), link('zed', 'amy')],
    known: new Map(),
    sizes: new Map(),
    cap: 100,
  });
  assert.deepEqual([...plan.personOf.values()], ['amy', 'amy', 'amy']);
  assert.equal(plan.remap.size, 0);
});

test('linking two stored persons remaps the one whose id is not canonical', () => {
  const known = new Map<string, KnownId>([
    ['anon-1', { person: 'anon-1', isUser: false, personIsUser: false }],
    ['user-9', { person: 'user-9', isUser: true, personIsUser: true }],
  ]);
  const plan = planIdentities({
    ids: new Map([
      ['anon-1', false],
      ['user-9', true],
    ]),
    links: [link('anon-1', 'user-9')],
    known,
    sizes: new Map([
      ['anon-1', 3],
      ['user-9', 2],
    ]),
    cap: 100,
  });
  assert.deepEqual([...plan.remap], [['anon-1', 'user-9']]);
  assert.equal(plan.personOf.get('anon-1'), 'user-9');
});

test('an anonymous id first seen as a userId becomes its person id', () => {
  const plan = planIdentities({
    ids: new Map([['b-anon', true]]),
    links: [],
    known: new Map([['b-anon', { person: 'a-anon', isUser: false, personIsUser: false }]]),
    sizes: new Map([['a-anon', 2]]),
    cap: 100,
  });
  assert.deepEqual([...plan.remap], [['a-anon', 'b-anon']]);
});

test('a link past the cap is refused and reported; the others still apply', () => {
  const plan = planIdentities({
    ids: new Map([
      ['device', false],
      ['u1', true],
      ['u2', true],
    ]),
    links: [link('device', 'u1', 1), link('device', 'u2', 2)],
    known: new Map(),
    sizes: new Map(),
    cap: 2,
  });
  assert.equal(plan.personOf.get('device'), 'u1');
  assert.equal(plan.personOf.get('u2'), 'u2');
  assert.equal(plan.refused.length, 1);
  assert.match(plan.refused[0]?.reason ?? '', /3 ids, over the cap of 2/);
});

test('a batch of known ids with nothing to merge moves nothing', () => {
  const known = new Map<string, KnownId>([
    ['anon-1', { person: 'user-1', isUser: false }],
    ['user-1', { person: 'user-1', isUser: true }],
  ]);
  const plan = planIdentities({
    ids: new Map([
      ['anon-1', false],
      ['user-1', true],
    ]),
    links: [link('anon-1', 'user-1')],
    known,
    sizes: new Map(),
    cap: 100,
  });
  assert.deepEqual(
    [...plan.personOf],
    [
      ['anon-1', 'user-1'],
      ['user-1', 'user-1'],
    ],
  );
  assert.equal(plan.remap.size, 0);
});
