// The longest step of a dedupe seal (src/ingest/file/dedupe.ts): keys added as ingest adds them (not the start's
// bulk rebuild), so each seal runs in steps with the event loop free between them; a 1 ms timer's longest gap
// during each seal is the longest the seal held the loop, next to the seal's whole wall and CPU time.
//   npx tsx bench/seal-steps.ts [--seals 8] [--keys 1048576]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { dedupeKey } from '../src/core/dedupe.ts';
import { DedupeMemory } from '../src/ingest/file/dedupe.ts';

const { values: args } = parseArgs({
  options: { seals: { type: 'string', default: '8' }, keys: { type: 'string', default: String(1 << 20) } },
});
const perSeal = Number(args.keys);
// The main thread's own CPU time (ns): a gap's wall time on a busy machine includes time given to others.
const stat = `/proc/self/task/${process.pid}/schedstat`;
const threadMs = () => Number(readFileSync(stat, 'utf8').split(' ')[0]) / 1e6;
const dir = mkdtempSync(join(tmpdir(), 'intake-seal-'));
const dm = new DedupeMemory({ dir: join(dir, 'dedupe'), sealKeys: perSeal });
const now = new Date();
let k = 0;
try {
  for (let s = 0; s < Number(args.seals); s++) {
    // Up to one key short of the seal, then the key that queues it.
    for (let i = 0; i < perSeal - 1; i++) dm.add(dedupeKey('w', `m-${k++}`), now);
    let last = performance.now();
    let lastCpu = threadMs();
    let longest = 0;
    let longestCpu = 0;
    const timer = setInterval(() => {
      const t = performance.now();
      const c = threadMs();
      longest = Math.max(longest, t - last);
      longestCpu = Math.max(longestCpu, c - lastCpu);
      last = t;
      lastCpu = c;
    }, 1);
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (let i = 0; i < 512; i++) dm.add(dedupeKey('w', `m-${k++}`), now); // a check is due every 256 adds
    await new Promise((r) => setTimeout(r, 0));
    last = performance.now();
    lastCpu = threadMs();
    await dm.idle();
    const c = process.cpuUsage(c0);
    clearInterval(timer);
    process.stdout.write(
      `seal ${s + 1} (${dm.size.sealed.toLocaleString('en')} keys sealed): ${(performance.now() - t0).toFixed(0)} ms wall, ` +
        `${((c.user + c.system) / 1000).toFixed(0)} ms CPU, longest step ${longest.toFixed(1)} ms (${longestCpu.toFixed(1)} ms of CPU)\n`,
    );
  }
} finally {
  await dm.close();
  rmSync(dir, { recursive: true, force: true });
}
