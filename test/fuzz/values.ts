// Hostile JSON for the ingest fuzzer: values built by fast-check, and the body text they become. What JSON
// can say but a JS value built here cannot (numbers past a double, a `__proto__` key, 100,000 levels) is
// written as a placeholder string and spliced into the text by `render`.
import fc from 'fast-check';

/** Numbers JSON.parse turns into Infinity, 0, -0 or a rounded double. */
const RAW_NUMBERS = ['1e400', '-1e400', '1e-400', '-0.0e0', '123456789012345678901234567890', '0.1e1'];
const raw = (text: string) => `~~RAW:${text}~~`;
/** A key that becomes `"__proto__"` in the text: JSON.parse makes it an own property, as clients can. */
export const PROTO_KEY = '~~PROTO~~';
/** `levels` nested objects or arrays; `n` numbers in an array, `n` keys in an object. */
export const deepObject = (levels: number) => `~~DEEPO:${levels}~~`;
export const deepArray = (levels: number) => `~~DEEPA:${levels}~~`;
const wideArray = (n: number) => `~~WIDEA:${n}~~`;
const wideObject = (n: number) => `~~WIDEO:${n}~~`;

/** The JSON text of a generated value, with its placeholders spliced in. */
export function render(v: unknown): string {
  return (JSON.stringify(v) ?? 'null')
    .replaceAll(`"${PROTO_KEY}"`, '"__proto__"')
    .replace(/"~~(RAW|DEEPO|DEEPA|WIDEA|WIDEO):([^~"]*)~~"/g, (_m, kind: string, arg: string) => {
      const n = Number(arg);
      switch (kind) {
        case 'RAW':
          return arg;
        case 'DEEPO':
          return `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
        case 'DEEPA':
          return `${'['.repeat(n)}${']'.repeat(n)}`;
        case 'WIDEA':
          return `[${Array.from({ length: n }, (_, i) => i).join(',')}]`;
        default:
          return `{${Array.from({ length: n }, (_, i) => `"k${i}":${i}`).join(',')}}`;
      }
    });
}

/** Any UTF-16 code unit: lone surrogates and NUL included. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));

/** Words the dialects give a meaning to (event types, field names, dates), and names every object inherits. */
export const KEYWORDS = [
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'track',
  'identify',
  'page',
  'screen',
  'group',
  'alias',
  '$identify',
  '$pageview',
  '$create_alias',
  '$groupidentify',
  '$screen',
  '$purchase',
  '$tag',
  '$remove_tag',
  '$update_fields',
  '$subscribe',
  '$unsubscribe',
  'EventSale',
  'EventSearch',
  'EventAddedToCart',
  'EventOrderApplied',
  'EventReviewWritten',
  'EventCouponApplied',
  'asc',
  'a@b.c',
  '2026-01-01T00:00:00.000Z',
];

export const hostileString = fc.oneof(
  fc.constantFrom(...KEYWORDS),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    'a\u0000b',
    '\ud800',
    '\udfff',
    'x\ud83d',
    '\ud83d\ude00',
    '\u2028\u2029',
    '__proto__',
    'constructor',
    'toString',
    'prototype',
    'hasOwnProperty',
    'valueOf',
    'null',
    '2026-13-45T99:99:99Z',
    '9999-12-31T23:59:59.999Z',
    '0000-01-01T00:00:00Z',
    '+275760-09-13T00:00:00.000Z',
    '1970-01-01T00:00:00Z',
    '2026-02-30T10:00:00.000+25:00',
    'track',
    'identify',
    'alias',
    'group',
    '$identify',
    '$pageview',
    '$create_alias',
    '$groupidentify',
    '$screen',
    '$purchase',
    '$tag',
    '$update_fields',
    '$subscribe',
    'EventSale',
    'EventSearch',
    'EventOrderApplied',
    'a@b.c',
    'x'.repeat(600),
  ),
  fc.string({ unit: codeUnit, maxLength: 24 }),
  fc.string({ maxLength: 24 }),
);

export const hostileNumber = fc.oneof(
  fc.constantFrom(
    0,
    -0,
    1,
    -1,
    1.5,
    2 ** 53,
    2 ** 53 + 2,
    -(2 ** 53),
    Number.MAX_VALUE,
    -Number.MAX_VALUE,
    Number.MIN_VALUE,
    1e21,
    8.64e15,
    8.64e15 + 1,
    253402300800000,
    -62198755200000,
  ),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.constantFrom(...RAW_NUMBERS.map(raw)),
);

/** Deep and wide values, kept rare: each is hundreds of kilobytes of text. */
export const hostileBulk = fc.constantFrom(
  deepObject(65),
  deepArray(1000),
  deepArray(100_000),
  deepObject(100_000),
  wideArray(20_000),
  wideObject(3000),
);

const scalar = fc.oneof(hostileString, hostileNumber, fc.boolean(), fc.constant(null));
export const hostileKey = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 8 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(PROTO_KEY, 'constructor', 'prototype', 'toString', 'hasOwnProperty', ''),
  },
);

export const { value: hostileValue } = fc.letrec<{ value: unknown; array: unknown[]; object: unknown }>(
  (tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      { weight: 8, arbitrary: scalar },
      { weight: 2, arbitrary: tie('array') },
      { weight: 2, arbitrary: tie('object') },
      { weight: 1, arbitrary: hostileBulk },
    ),
    array: fc.array(tie('value'), { maxLength: 4 }),
    object: fc.dictionary(hostileKey, tie('value'), { maxKeys: 4 }),
  }),
);

/** A body that is not the JSON a route expects: any JSON value, or text that is not JSON at all. */
export const hostileBodyText = fc.oneof(
  hostileValue.map(render),
  fc.constantFrom(
    '',
    '{',
    '{"batch": [}',
    'null',
    '[]',
    '{}',
    '\u0000',
    'undefined',
    '{"a":1}{"b":2}',
    '\ufeff{}',
  ),
  fc.string({ unit: codeUnit, maxLength: 40 }),
);
