// The dedupe memory with sealed runs (src/ingest/file/dedupe.ts): exact answers against a plain Map across
// seals, purges and restarts; tombstones kept forever; old keys at most 2 bytes each in memory.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { dedupeKey } from '../../src/core/dedupe.ts';
import { CuckooShard } from '../../src/ingest/file/cuckoo.ts';
import { DedupeMemory } from '../../src/ingest/file/dedupe.ts';
import { FOREVER } from '../../src/ingest/file/keyset.ts';

const scratch = () => mkdtempSync(join(tmpdir(), 'intake-dedupe-'));

/** A small deterministic generator (mulberry32), so a failure replays. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

test('answers as a plain Map does, across seals, purges, restarts and tombstones', async () => {
  for (const seed of [1, 2, 3]) {
    const dir = scratch();
    const next = random(seed);
    /** key -> second first seen (FOREVER: tombstone), as the log and the store hold them. */
    const ref = new Map<string, number>();
    let cut = 0;
    let now = 1_000_000;
    const open = () => new DedupeMemory({ dir, sealKeys: 40 + Math.floor(next() * 80) });
    let mem = open();
    const expect = (key: string) => {
      const sec = ref.get(key);
      return sec !== undefined && (sec === FOREVER || sec >= cut);
    };
    let n = 0;
    for (let step = 0; step < 6000; step++) {
      const r = next();
      if (r < 0.55) {
        // A request's event: known (maybe forgotten), or new. The log adds it only when it is not a duplicate
        // (addNew, one lookup), as the log does.
        const key =
          next() < 0.4 && n > 0 ? dedupeKey('ws', `m${Math.floor(next() * n)}`) : dedupeKey('ws', `m${n++}`);
        const known = expect(key);
        assert.equal(mem.addNew(key, new Date(now * 1000)), !known, `seed ${seed} step ${step}: addNew`);
        if (!known) ref.set(key, now);
        assert.equal(mem.has(key), true, `seed ${seed} step ${step}: held once added`);
      } else if (r < 0.8) {
        // A lookup alone, of any key ever made or never made.
        const key = dedupeKey(next() < 0.8 ? 'ws' : 'other', `m${Math.floor(next() * (n + 50))}`);
        assert.equal(mem.has(key), expect(key), `seed ${seed} step ${step}: lookup`);
      } else if (r < 0.9) {
        now += Math.floor(next() * 60);
      } else if (r < 0.94) {
        await mem.seal();
      } else if (r < 0.97) {
        cut = Math.max(cut, now - Math.floor(next() * 600));
        await mem.purge(new Date(cut * 1000));
      } else if (r < 0.985) {
        const key = dedupeKey('ws', `m${Math.floor(next() * (n + 5))}`);
        mem.add(key, FOREVER);
        ref.set(key, FOREVER);
      } else {
        // A restart: the store gives back the window's keys and the tombstones, in its own order.
        await mem.close();
        mem = open();
        const kept = [...ref].filter(([, sec]) => sec === FOREVER || sec >= cut);
        kept.sort(() => next() - 0.5);
        await mem.rebuild(() => {
          for (const [key, sec] of kept) mem.addSeconds(key, sec);
        });
        // The log's window starts where the last purge cut, as the store's rebuild did.
        if (cut > 0) await mem.purge(new Date(cut * 1000));
      }
    }
    for (const [key] of ref) assert.equal(mem.has(key), expect(key), `seed ${seed}: final ${key}`);
    assert.ok(mem.size.sealed > 0, 'runs were sealed');
    await mem.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sealed keys cost at most 2 bytes each in memory; absent keys rarely read the disk', async () => {
  const dir = scratch();
  const mem = new DedupeMemory({ dir, sealKeys: 1 << 17 });
  await mem.rebuild(() => {
    for (let i = 0; i < 1_000_000; i++) mem.addSeconds(dedupeKey('ws', `k${i}`), 1_000_000 + (i >> 10));
  });
  await mem.seal();
  assert.equal(mem.size.sealed, 1_000_000);
  assert.equal(mem.size.exact, 0);
  const perKey = mem.bytes.sealed / mem.size.sealed;
  assert.ok(perKey <= 2, `${perKey.toFixed(2)} bytes a sealed key`);
  for (let i = 0; i < 1_000_000; i += 97) assert.ok(mem.has(dedupeKey('ws', `k${i}`)), `k${i}`);
  const reads = mem.falseHits;
  for (let i = 0; i < 100_000; i++) assert.ok(!mem.has(dedupeKey('ws', `absent${i}`)));
  const rate = (mem.falseHits - reads) / 100_000;
  assert.ok(rate < 0.005, `${(rate * 100).toFixed(2)}% of absent keys were looked up on disk`);
  await mem.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a purge drops the runs past the window with their files and gives the filter memory back', async () => {
  const dir = scratch();
  const mem = new DedupeMemory({ dir, sealKeys: 1000 });
  for (let h = 0; h < 4; h++) {
    for (let i = 0; i < 50_000; i++) mem.addSeconds(dedupeKey('ws', `h${h}-${i}`), 3600 * (h + 1));
    await mem.seal();
  }
  await mem.idle();
  const full = mem.bytes.sealed;
  const files = readdirSync(dir).length;
  assert.ok(files >= 4, `${files} run files`);
  mem.add(dedupeKey('ws', 'deleted'), FOREVER);
  await mem.purge(new Date(3600 * 3 * 1000)); // hours 1 and 2 are past
  assert.equal(mem.size.sealed, 100_000);
  assert.ok(mem.bytes.sealed < full * 0.7, `${mem.bytes.sealed} of ${full} bytes kept`);
  assert.ok(readdirSync(dir).length < files, 'the dropped runs left the disk');
  assert.ok(!mem.has(dedupeKey('ws', 'h0-5')));
  assert.ok(!mem.has(dedupeKey('ws', 'h1-5')));
  assert.ok(mem.has(dedupeKey('ws', 'h2-5')));
  assert.ok(mem.has(dedupeKey('ws', 'h3-49999')));
  await mem.purge(new Date(3600 * 1000 * 1000));
  assert.equal(mem.size.sealed, 0);
  assert.ok(mem.has(dedupeKey('ws', 'deleted')), 'a tombstone outlives any window');
  await mem.close();
  assert.ok(!existsSync(dir) || readdirSync(dir).length === 0);
  rmSync(dir, { recursive: true, force: true });
});

test('the cuckoo filter never loses a key it kept: deletes take one copy of a fingerprint, failures are told', () => {
  const next = random(7);
  const keys = Array.from({ length: 60_000 }, () => [
    Math.floor(next() * 2 ** 32) & 0xff000fff, // one shard, 4096 fingerprints: many keys share one
    Math.floor(next() * 2 ** 32),
  ]) as Array<[number, number]>;
  const shard = new CuckooShard(keys.length);
  for (const [hi, lo] of keys) assert.ok(shard.add(hi, lo), 'fits at the fill it was sized for');
  for (const [hi, lo] of keys) assert.ok(shard.has(hi, lo));
  for (const [hi, lo] of keys.slice(0, 30_000)) assert.ok(shard.delete(hi, lo));
  for (const [hi, lo] of keys.slice(30_000)) assert.ok(shard.has(hi, lo), 'a kept key survives the deletes');
  assert.equal(shard.count, 30_000);
  const small = new CuckooShard(1000);
  let failed = false;
  for (const [hi, lo] of keys) {
    if (small.add(hi, lo)) continue;
    failed = true;
    break;
  }
  assert.ok(failed, 'an overfull shard says so, and its owner rebuilds it from the runs');
});
