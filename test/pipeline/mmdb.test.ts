// The MMDB file reader (src/pipeline/enrich/mmdb.ts) against `maxmind`'s reader, which reads the same files whole
// into memory: the same record for every address, whatever the page cache's size, and clear errors for files
// that are not MaxMind databases.
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import maxmind from 'maxmind';
import { bundledGeoDir, GEO_FILES, openGeoReader } from '../../src/pipeline/enrich/geo.ts';
import { hextets, v4Number } from '../../src/pipeline/enrich/ip.ts';
import { MmdbFile } from '../../src/pipeline/enrich/mmdb.ts';
import { tempDir } from '../helpers.ts';

const dir = bundledGeoDir();
type Lookup = { get(ip: string): unknown };
let reference4: Lookup;
let reference6: Lookup;
const opened: MmdbFile[] = [];
const open = (file: string, opts?: { pages?: number; records?: number }) => {
  const f = new MmdbFile(join(dir, file), opts);
  opened.push(f);
  return f;
};

before(async () => {
  reference4 = await maxmind.open(join(dir, GEO_FILES[4]));
  reference6 = await maxmind.open(join(dir, GEO_FILES[6]));
});
after(() => {
  for (const f of opened) f.close();
});

// Deterministic addresses: every part of the IPv4 space, and IPv6 in prefixes the database has networks in.
function addresses(n: number, seed0: number): { v4: string[]; v6: string[] } {
  let seed = seed0;
  const rand = (m: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
    return Math.floor((seed / 2 ** 31) * m);
  };
  const v4 = Array.from({ length: n }, () => `${rand(256)}.${rand(256)}.${rand(256)}.${rand(256)}`);
  v4.push('0.0.0.0', '255.255.255.255', '1.0.0.0', '8.8.8.8', '223.255.255.255');
  const tops = [0x2001, 0x2400, 0x2600, 0x2a00, 0x2a02, 0x2c0f, 0x3000, 0xfe80];
  const v6 = Array.from({ length: n / 2 }, () =>
    [tops[rand(tops.length)] as number, rand(65536), rand(65536), rand(65536), rand(65536), 0, 0, rand(65536)]
      .map((g) => g.toString(16))
      .join(':'),
  );
  v6.push('::', '::1', '2001:4860:4860::8888', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff');
  return { v4, v6 };
}

function compare(f4: MmdbFile, f6: MmdbFile, n: number, seed: number): { found4: number; found6: number } {
  const { v4, v6 } = addresses(n, seed);
  let found4 = 0;
  let found6 = 0;
  for (const ip of v4) {
    const got = f4.getV4(v4Number(ip));
    assert.deepEqual(got, reference4.get(ip), ip);
    if (got) found4++;
  }
  for (const ip of v6) {
    const got = f6.getV6(hextets(ip));
    assert.deepEqual(got, reference6.get(ip), ip);
    if (got) found6++;
  }
  return { found4, found6 };
}

test('the metadata of the bundled files', () => {
  const f4 = open(GEO_FILES[4]);
  const f6 = open(GEO_FILES[6]);
  assert.equal(f4.metadata.ipVersion, 4);
  assert.equal(f6.metadata.ipVersion, 6);
  assert.ok([24, 28, 32].includes(f4.metadata.recordSize));
  assert.ok(f4.metadata.nodeCount > 1_000_000, String(f4.metadata.nodeCount));
  assert.match(f4.metadata.databaseType, /city/i);
});

test("every address gets maxmind's record for it", () => {
  const { found4, found6 } = compare(open(GEO_FILES[4]), open(GEO_FILES[6]), 20_000, 11);
  // Most of the IPv4 space has a location; the IPv6 sample must hit some networks for the test to mean anything.
  assert.ok(found4 > 10_000, `found ${found4}`);
  assert.ok(found6 > 100, `found ${found6}`);
});

test('the same records through a cache of 4 pages, records decoded every time', () => {
  // Nearly every node read is a miss, and nodes and strings that cross a page boundary are copied.
  const small = { pages: 4, records: 1 };
  const { found4 } = compare(open(GEO_FILES[4], small), open(GEO_FILES[6], small), 3_000, 5);
  assert.ok(found4 > 1_000);
});

test('an IPv6 address in an IPv4 database has no record', () => {
  assert.equal(open(GEO_FILES[4]).getV6(hextets('2001:4860:4860::8888')), null);
});

test('the geo reader locates addresses as the database says', async () => {
  const geo = await openGeoReader();
  try {
    const rec = reference4.get('8.8.8.8') as { country_code: string; timezone: string };
    assert.equal(geo.lookup('8.8.8.8')?.country, rec.country_code);
    assert.equal(geo.lookup('::ffff:8.8.8.8')?.timezone, rec.timezone);
    assert.equal(geo.lookup('10.1.2.3'), null);
    assert.equal(geo.lookup('not an ip'), null);
  } finally {
    geo.close();
  }
});

test('files that are not MaxMind databases are refused with the reason', () => {
  const tmp = tempDir();
  const junk = join(tmp, 'junk.mmdb');
  writeFileSync(junk, Buffer.alloc(4096, 7));
  assert.throws(() => new MmdbFile(junk), /not a MaxMind DB file/);
  // The metadata of a real file behind a tree that is cut short: the tree no longer fits.
  const whole = readFileSync(join(dir, GEO_FILES[6]));
  const cut = join(tmp, 'cut.mmdb');
  writeFileSync(cut, whole.subarray(whole.length - 64 * 1024));
  assert.throws(() => new MmdbFile(cut), /search tree is larger than the file/);
});

test('openGeoReader names the file it cannot read', async () => {
  const tmp = tempDir();
  copyFileSync(join(dir, GEO_FILES[4]), join(tmp, GEO_FILES[4]));
  writeFileSync(join(tmp, GEO_FILES[6]), 'not a database');
  await assert.rejects(openGeoReader(tmp), (err: Error) => {
    assert.match(
      err.message,
      /cannot open the geolocation database .*geolite2-city-ipv6\.mmdb: not a MaxMind DB/,
    );
    return true;
  });
  // An IPv4 database where the IPv6 one belongs.
  copyFileSync(join(dir, GEO_FILES[4]), join(tmp, GEO_FILES[6]));
  await assert.rejects(openGeoReader(tmp), /geolite2-city-ipv6\.mmdb is an IPv4 database/);
});
