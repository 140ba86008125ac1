// Micro-benchmark of the geolocation database readers on the bundled GeoLite2 City files: the one Intake uses
// (src/pipeline/enrich/mmdb.ts, the files read in place through a page cache) and `maxmind`'s (each file read
// whole into a Buffer), each in a process of its own. For each: RSS after opening, then CPU per lookup of
// public addresses no cache has seen (IPv4, and IPv6 in allocated prefixes), and RSS after them. The records
// are decoded afresh for each address (neither reader's record cache can help), as for a server whose
// clients all have different addresses; the enricher's per-address cache is not used.
// Run: npx tsx bench/geo-micro.ts [--lookups 200000]
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import maxmind from 'maxmind';
import { bundledGeoDir, GEO_FILES } from '../src/pipeline/enrich/geo.ts';
import { hextets, v4Number } from '../src/pipeline/enrich/ip.ts';
import { MmdbFile } from '../src/pipeline/enrich/mmdb.ts';
import { ROOT } from './procs.ts';

const { values: args } = parseArgs({
  args: process.argv.slice(2),
  options: { lookups: { type: 'string', default: '200000' }, child: { type: 'string' } },
});
const LOOKUPS = Number(args.lookups);

const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) / 1024;
const cpu = () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};

/** Deterministic addresses: public IPv4, and IPv6 in prefixes the database holds many networks of. */
function addresses(n: number): { v4: string[]; v6: string[] } {
  let seed = 7;
  const rand = (m: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
    return Math.floor((seed / 2 ** 31) * m);
  };
  const v4: string[] = [];
  while (v4.length < n) {
    const a = 1 + rand(222);
    if (a === 10 || a === 127 || a === 100 || a === 172 || a === 192 || a === 169) continue;
    v4.push(`${a}.${rand(256)}.${rand(256)}.${1 + rand(254)}`);
  }
  const tops = [0x2001, 0x2400, 0x2600, 0x2603, 0x2800, 0x2a00, 0x2a02, 0x2a01, 0x2c0f];
  const v6 = Array.from({ length: n / 4 }, () =>
    [tops[rand(tops.length)] as number, rand(65536), rand(65536), rand(65536), 0, 0, 0, 1]
      .map((g) => g.toString(16))
      .join(':'),
  );
  return { v4, v6 };
}

interface Row {
  reader: string;
  rssOpen: number;
  v4Us: number;
  v6Us: number;
  found: number;
  rssAfter: number;
}

function child(reader: string): Row {
  const dir = bundledGeoDir();
  const { v4, v6 } = addresses(LOOKUPS);
  const base = rssMb();
  let get4: (ip: string) => unknown;
  let get6: (ip: string) => unknown;
  if (reader === 'intake') {
    const f4 = new MmdbFile(join(dir, GEO_FILES[4]), { records: 1 });
    const f6 = new MmdbFile(join(dir, GEO_FILES[6]), { records: 1 });
    get4 = (ip) => f4.getV4(v4Number(ip));
    get6 = (ip) => f6.getV6(hextets(ip));
  } else {
    const open = (file: string) =>
      // A cache that holds nothing, as `records: 1` above: every record decoded afresh.
      new maxmind.Reader(readFileSync(join(dir, file)), { cache: { get: () => undefined, set: () => {} } });
    const m4 = open(GEO_FILES[4]);
    const m6 = open(GEO_FILES[6]);
    get4 = (ip) => m4.get(ip);
    get6 = (ip) => m6.get(ip);
  }
  const rssOpen = rssMb() - base;
  let found = 0;
  // First half warms the readers (page cache, JIT), the second half is measured.
  const half = (xs: string[], get: (ip: string) => unknown, from: number, to: number) => {
    for (let i = from; i < to; i++) if (get(xs[i] as string)) found++;
  };
  half(v4, get4, 0, v4.length / 2);
  half(v6, get6, 0, v6.length / 2);
  let t = cpu();
  half(v4, get4, v4.length / 2, v4.length);
  const v4Us = (cpu() - t) / (v4.length / 2);
  t = cpu();
  half(v6, get6, v6.length / 2, v6.length);
  const v6Us = (cpu() - t) / (v6.length / 2);
  return { reader, rssOpen, v4Us, v6Us, found, rssAfter: rssMb() - base };
}

if (args.child) {
  process.stdout.write(JSON.stringify(child(args.child)));
} else {
  const rows: Row[] = [];
  for (const round of [1, 2]) {
    for (const reader of ['maxmind', 'intake']) {
      const out = execFileSync(
        process.execPath,
        [
          '--import',
          'tsx',
          join(ROOT, 'bench/geo-micro.ts'),
          '--child',
          reader,
          '--lookups',
          String(LOOKUPS),
        ],
        { cwd: ROOT, encoding: 'utf8' },
      );
      const row = JSON.parse(out) as Row;
      rows.push(row);
      console.log(
        `round ${round} ${reader.padEnd(8)} RSS at open +${row.rssOpen.toFixed(1)} MB, after ${LOOKUPS * 1.25} lookups +${row.rssAfter.toFixed(1)} MB; ` +
          `IPv4 ${row.v4Us.toFixed(2)} µs, IPv6 ${row.v6Us.toFixed(2)} µs per lookup (${row.found} found)`,
      );
    }
  }
  const found = new Set(rows.map((r) => r.found));
  if (found.size !== 1)
    throw new Error(`the readers found different numbers of records: ${[...found].join(', ')}`);
}
