// The log's dedupe step per accepted event, two ways on two DedupeMemory instances alternated round by round:
// has() then add() (each parses the key and probes the exact table), and addNew() (one of each, what the log
// does). New keys only, 1M keys a seal, so rounds cross seals. CPU µs per key, every round and the median.
//   npx tsx bench/dedupe-addnew-micro.ts [--keys 200000] [--rounds 12]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { dedupeKey } from '../src/core/dedupe.ts';
import { DedupeMemory } from '../src/ingest/file/dedupe.ts';

const { values: args } = parseArgs({
  options: { keys: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '12' } },
});
const N = Number(args.keys);
const rounds = Number(args.rounds);
const dir = mkdtempSync(join(tmpdir(), 'intake-addnew-'));
const now = new Date();
const twoLookups = new DedupeMemory({ dir: join(dir, 'a'), sealKeys: 1 << 20 });
const oneLookup = new DedupeMemory({ dir: join(dir, 'b'), sealKeys: 1 << 20 });
const res: Record<string, number[]> = { 'has + add': [], addNew: [] };
let k = 0;
try {
  for (let r = 0; r < rounds; r++) {
    const keys: string[] = [];
    for (let i = 0; i < N; i++) keys.push(dedupeKey('w', `m-${k++}`));
    for (const name of r % 2 === 0 ? ['has + add', 'addNew'] : ['addNew', 'has + add']) {
      const c0 = process.cpuUsage();
      if (name === 'addNew') for (const key of keys) oneLookup.addNew(key, now);
      else
        for (const key of keys) {
          if (!twoLookups.has(key)) twoLookups.add(key, now);
        }
      const c = process.cpuUsage(c0);
      res[name]?.push((c.user + c.system) / N);
    }
    await Promise.all([twoLookups.idle(), oneLookup.idle()]);
  }
  for (const [name, v] of Object.entries(res)) {
    const median = [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? 0;
    console.log(`${name}: ${v.map((x) => x.toFixed(3)).join(' ')} µs/key, median ${median.toFixed(3)}`);
  }
} finally {
  await Promise.all([twoLookups.close(), oneLookup.close()]);
  rmSync(dir, { recursive: true, force: true });
}
