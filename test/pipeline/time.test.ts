// The timestamp parser's fast path against Date.parse, which time() used for every string before it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseIsoFast, time } from '../../src/pipeline/validate.ts';

const MAX_TIME = Date.UTC(9999, 11, 31);

/** time() as it was before the fast path: the reference every result must match. */
function reference(v: unknown): number | string | null {
  if (v === undefined || v === null || v === '') return null;
  let ms: number;
  if (typeof v === 'string') ms = Date.parse(v);
  else if (typeof v === 'number') ms = v;
  else return 'not a string';
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_TIME) return 'invalid';
  return new Date(ms).getTime();
}

function actual(v: unknown): number | string | null {
  try {
    return time(v, 'timestamp')?.getTime() ?? null;
  } catch (err) {
    const m = (err as Error).message;
    return m.includes('must be an ISO-8601') ? 'not a string' : m.includes('not a valid') ? 'invalid' : m;
  }
}

const same = (v: unknown): void => assert.equal(actual(v), reference(v), JSON.stringify(v));

describe('timestamp parsing', () => {
  test('the forms SDKs send take the fast path and give what Date.parse gives', () => {
    for (const s of [
      '2024-01-01T00:00:00Z',
      '2024-01-01T00:00:00.000Z',
      '2026-11-23T10:00:00.123Z',
      '2024-06-30T23:59:59.999Z',
      '2024-02-29T12:00:00Z',
      '2000-02-29T00:00:00Z',
      '1970-01-01T00:00:00Z',
      '9999-12-30T23:59:59Z',
      '2024-01-01T00:00:00.1Z',
      '2024-01-01T00:00:00.12Z',
      '2024-01-01T00:00:00.1239Z',
      '2024-01-01T00:00:00.12345Z',
      '2024-01-01T00:00:00.123456Z',
      '2024-01-01T00:00:00.999999999Z',
      '2024-01-01T00:00:00+02:00',
      '2024-01-01T00:00:00.5-12:00',
      '2024-01-01T00:00:00.5+02:00',
      '2024-03-10T01:30:00-05:30',
      '2024-01-01T00:00:00+23:59',
      '2024-01-01T00:00:00-00:00',
      '1970-01-01T00:30:00+01:00',
    ]) {
      assert.equal(parseIsoFast(s), Date.parse(s), s);
      same(s);
    }
  });

  test('everything else goes to Date.parse and keeps its result, rollovers and rejections included', () => {
    for (const s of [
      '2024-02-30T00:00:00Z',
      '2023-02-29T00:00:00Z',
      '2024-04-31T00:00:00Z',
      '1900-02-29T00:00:00Z',
      '2024-13-01T00:00:00Z',
      '2024-00-01T00:00:00Z',
      '2024-01-32T00:00:00Z',
      '2024-01-00T00:00:00Z',
      '2024-01-01T24:00:00Z',
      '2024-01-01T23:60:00Z',
      '2024-01-01T23:59:60Z',
      '2024-01-01T00:00:00+24:00',
      '2024-01-01T00:00:00+02:60',
      '2024-01-01T00:00:00+0200',
      '2024-01-01T00:00:00+02',
      '2024-01-01T00:00:00.Z',
      '2024-01-01T00:00:00,123Z',
      '2024-01-01t00:00:00z',
      '2024-01-01 00:00:00Z',
      '2024-01-01T00:00:00',
      '2024-01-01T00:00:00.123',
      '2024-01-01T00:00Z',
      '2024-01-01',
      '2024-01',
      '+002024-01-01T00:00:00Z',
      ' 2024-01-01T00:00:00Z',
      '2024-01-01T00:00:00Z ',
      '2024-01-01T00:00:00ZZ',
      '2024-01-01T00:00:00+02:00Z',
      '0050-01-01T00:00:00Z',
      '1969-12-31T23:59:59.999Z',
      '9999-12-31T00:00:01Z',
      '2O24-01-01T00:00:00Z',
      '２０２４-01-01T00:00:00Z',
      'Mon, 01 Jan 2024 00:00:00 GMT',
      'Jan 1 2024',
      '1704067200000',
      '1704067200',
      'yesterday',
      'x'.repeat(30),
    ]) {
      const fast = parseIsoFast(s);
      assert.ok(Number.isNaN(fast) || fast === Date.parse(s), s);
      same(s);
    }
  });

  test('numbers, empty values and other types are unchanged', () => {
    for (const v of [
      0,
      1704067200000,
      -1,
      MAX_TIME,
      MAX_TIME + 1,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      1.5,
      '',
      null,
      undefined,
      true,
      {},
      [],
    ]) {
      same(v);
    }
  });

  test('random strings near the ISO form agree with Date.parse', () => {
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return Math.floor((seed / 2 ** 31) * n);
    };
    const pad = (n: number, w: number): string => String(n).padStart(w, '0');
    const zones = ['Z', 'z', '', '+00:00', '-00:00', '+0530', '+05:3', 'ZZ', ' Z'];
    for (let k = 0; k < 50_000; k++) {
      const fraction =
        rand(3) === 0 ? '' : `.${'0123456789876543210'.slice(rand(9), 10 + rand(9)).slice(0, rand(10))}`;
      const zone =
        rand(2) === 0
          ? (zones[rand(zones.length)] as string)
          : `${rand(2) ? '+' : '-'}${pad(rand(26), 2)}:${pad(rand(62), 2)}`;
      const s = `${pad(1960 + rand(80), 4)}-${pad(rand(14), 2)}-${pad(rand(33), 2)}T${pad(rand(26), 2)}:${pad(
        rand(62),
        2,
      )}:${pad(rand(62), 2)}${fraction}${zone}`;
      const fast = parseIsoFast(s);
      if (!Number.isNaN(fast)) assert.equal(fast, Date.parse(s), s);
      same(s);
    }
    // Every day of a 400-year cycle and beyond, at a time with an offset.
    for (let day = 0; day < 146_097 + 800; day += 1) {
      const iso = new Date(day * 86_400_000 + 45_296_789).toISOString();
      const s = `${iso.slice(0, 23)}-03:30`;
      assert.equal(parseIsoFast(iso), Date.parse(iso), iso);
      assert.equal(parseIsoFast(s), Date.parse(s), s);
    }
  });
});
