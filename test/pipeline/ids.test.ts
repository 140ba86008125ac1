// Server-assigned ids: RFC 9562 layout, the time in the first 48 bits, order within a millisecond.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { uuidv4, uuidv7 } from '../../src/core/ids.ts';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const msOf = (id: string): number => Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
const seqOf = (id: string): number => Number.parseInt(id.slice(15, 18), 16);

test('uuidv7 holds its millisecond in the first 48 bits, version 7 and the RFC 9562 variant', () => {
  for (const ms of [0, 1, 255, 256, 1704067200000, 1763892000123, 2 ** 40 + 5]) {
    const id = uuidv7(ms);
    assert.match(id, V7);
    // Ids never go back in time in this process: a smaller ms than the last one continues its millisecond.
    assert.ok(msOf(id) >= ms, `${id} for ${ms}`);
  }
  const later = Date.now() + 10 ** 9;
  const id = uuidv7(later);
  assert.equal(msOf(id), later);
  assert.equal(seqOf(id), 0);
});

test('uuidv7 ids of one millisecond are in order, and the counter carries into the next millisecond', () => {
  const ms = Date.now() + 2 * 10 ** 9;
  const ids = Array.from({ length: 5000 }, () => uuidv7(ms));
  for (const id of ids) assert.match(id, V7);
  assert.deepEqual([...ids].sort(), ids);
  assert.equal(new Set(ids).size, ids.length);
  assert.equal(msOf(ids[0] as string), ms);
  assert.equal(seqOf(ids[4095] as string), 4095);
  assert.equal(msOf(ids[4096] as string), ms + 1);
  assert.equal(seqOf(ids[4096] as string), 0);
  // The next real millisecond after that starts a new counter.
  const next = uuidv7(ms + 2);
  assert.equal(msOf(next), ms + 2);
  assert.equal(seqOf(next), 0);
});

test('uuidv7 random bits vary and cover all four variant digits', () => {
  const ms = Date.now() + 3 * 10 ** 9;
  const tails = new Set<string>();
  const variants = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const id = uuidv7(ms + i);
    tails.add(id.slice(19));
    variants.add(id.charAt(19));
  }
  assert.equal(tails.size, 2000);
  assert.deepEqual([...variants].sort(), ['8', '9', 'a', 'b']);
});

test('uuidv4 is a version 4 UUID', () => {
  const ids = new Set(Array.from({ length: 1000 }, uuidv4));
  assert.equal(ids.size, 1000);
  for (const id of ids) assert.match(id, V4);
});
