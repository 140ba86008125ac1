// The JSON-path filter of GET /events (README), as cases of the store contract. `properties.a.b=x` matches an
// event whose value at path a.b is a JSON string equal to x, or a number or boolean whose JSON text (as
// JSON.stringify writes it) equals x; null, objects, arrays and a missing path never match; path segments are
// object keys (no array index). Each case lists the messageIds it must find, in timestamp order.
import type { CanonicalEvent } from '../../../src/core/event.ts';
import type { EventQuery } from '../../../src/store/types.ts';
import { at, event } from '../../fixtures.ts';

type Filter = EventQuery['json'];
const p = (path: string[], value: string): Filter => [{ column: 'properties', path, value }];

export interface JsonFilterCase {
  name: string;
  events(ws: string): CanonicalEvent[];
  cases: Array<[Filter, string[]]>;
}

/** j1 holds typed values, j2 the same texts as strings, j3 look-alikes, j4 nothing. */
function events(ws: string): CanonicalEvent[] {
  return [
    event(ws, 'j1', {
      timestamp: at(1),
      properties: {
        s: 'x',
        e: '',
        u: 'héllo wörld',
        n: 42,
        f: 4.5,
        neg: -0.5,
        big: 1e21,
        b: true,
        z: null,
        o: { k: 1 },
        a: [1, 2],
        nested: { deep: { v: 'hit' } },
        'my key': { 'ünï cödé': 'ok' },
        'a.b': 'dotted',
      },
      traits: { plan: 'pro' },
      context: { locale: 'en' },
    }),
    event(ws, 'j2', {
      timestamp: at(2),
      properties: {
        s: 'X',
        n: '42',
        f: '4.5',
        big: '1e21',
        b: 'true',
        z: 'null',
        o: '{"k":1}',
        a: '[1,2]',
        nested: { deep: 'hit' },
        'my key': 'ok',
      },
      traits: { plan: 'pro' },
      context: { locale: 'de' },
    }),
    event(ws, 'j3', {
      timestamp: at(3),
      properties: { n: 42.5, big: '1e+21', b: false, a: { b: 'dotted', 0: 'zero' } },
      traits: { plan: 'free' },
      context: { locale: 'de' },
    }),
    event(ws, 'j4', { timestamp: at(4) }),
  ];
}

export function jsonFilterCases(): JsonFilterCase[] {
  return [
    {
      name: 'a string matches when equal, exactly (case, spaces, unicode, empty)',
      events,
      cases: [
        [p(['s'], 'x'), ['j1']],
        [p(['s'], 'X'), ['j2']],
        [p(['s'], ' x'), []],
        [p(['u'], 'héllo wörld'), ['j1']],
        [p(['e'], ''), ['j1']],
      ],
    },
    {
      name: 'a number or boolean matches by its JSON.stringify text (42, 4.5, -0.5, 1e+21, true)',
      events,
      cases: [
        [p(['n'], '42'), ['j1', 'j2']],
        [p(['n'], '42.0'), []],
        [p(['n'], '42.5'), ['j3']],
        [p(['f'], '4.5'), ['j1', 'j2']],
        [p(['f'], '4.50'), []],
        [p(['neg'], '-0.5'), ['j1']],
        [p(['big'], '1e+21'), ['j1', 'j3']],
        [p(['big'], '1e21'), ['j2']],
        [p(['big'], '1000000000000000000000'), []],
        [p(['b'], 'true'), ['j1', 'j2']],
        [p(['b'], 'false'), ['j3']],
        [p(['b'], '1'), []],
      ],
    },
    {
      name: 'null, objects, arrays and a missing path never match',
      events,
      cases: [
        [p(['z'], 'null'), ['j2']],
        [p(['z'], ''), []],
        [p(['o'], '{"k":1}'), ['j2']],
        [p(['o'], '{"k": 1}'), []],
        [p(['a'], '[1,2]'), ['j2']],
        [p(['nested'], '{"deep":{"v":"hit"}}'), []],
        [p(['missing'], 'x'), []],
        [p(['s', 'deeper'], 'x'), []],
      ],
    },
    {
      name: 'path segments are object keys: nested, with dots, spaces and unicode, no array index',
      events,
      cases: [
        [p(['nested', 'deep', 'v'], 'hit'), ['j1']],
        [p(['nested', 'deep'], 'hit'), ['j2']],
        [p(['my key', 'ünï cödé'], 'ok'), ['j1']],
        [p(['my key'], 'ok'), ['j2']],
        [p(['a.b'], 'dotted'), ['j1']],
        [p(['a', 'b'], 'dotted'), ['j3']],
        [p(['a', '0'], '1'), []],
        [p(['a', '0'], 'zero'), ['j3']],
      ],
    },
    {
      name: 'filters on properties, traits and context hold together',
      events,
      cases: [
        [[{ column: 'traits', path: ['plan'], value: 'pro' }], ['j1', 'j2']],
        [[{ column: 'context', path: ['locale'], value: 'de' }], ['j2', 'j3']],
        [
          [
            { column: 'traits', path: ['plan'], value: 'pro' },
            { column: 'context', path: ['locale'], value: 'de' },
          ],
          ['j2'],
        ],
        [[...p(['n'], '42'), { column: 'context', path: ['locale'], value: 'en' }], ['j1']],
        [[{ column: 'traits', path: ['locale'], value: 'de' }], []],
      ],
    },
  ];
}
