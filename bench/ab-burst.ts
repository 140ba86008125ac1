// Paired short bursts against builds started once: for noisy machines, where a round of bench/main-thread.ts
// (a fresh server per round, seconds apart) sees a different machine load per build. Every server is started
// once and warmed; then bursts of --seconds go to each in turn (order rotated every burst), for --bursts rounds,
// each reading its server's main-thread and process CPU from /proc over the burst. Prints each burst and, per
// build, the median µs per request and its median ratio to the first build in the same round.
//   npx tsx bench/ab-burst.ts --root A --root B [--events 1] [--connections 32] [--seconds 2] [--bursts 12]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { job, requestScenario } from './ingest.ts';
import { cpuMicros, freePort, LoadGenerator, serverEnv } from './procs.ts';

const { values: args } = parseArgs({
  args: process.argv.slice(2),
  options: {
    root: { type: 'string', multiple: true },
    events: { type: 'string', default: '1' },
    connections: { type: 'string', default: '32' },
    seconds: { type: 'string', default: '2' },
    bursts: { type: 'string', default: '12' },
  },
});
const roots = (args.root ?? []).map((r) => resolve(r));
const events = Number(args.events);
const scenario = requestScenario('ab', events, Number(args.connections));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

const servers: Array<{ root: string; pid: number; url: string; dir: string; kill(): Promise<void> }> = [];
for (const root of roots) {
  const dir = mkdtempSync(join(tmpdir(), 'intake-ab-'));
  const port = await freePort();
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'start', '--data-dir', join(dir, 'data')],
    {
      cwd: root,
      env: serverEnv(port),
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${url}/health`)).status < 500) break;
    } catch {}
    if (i > 600) throw new Error('server did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  servers.push({
    root,
    pid: proc.pid as number,
    url,
    dir,
    kill: async () => {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  });
}
const load = await LoadGenerator.start();
try {
  for (const s of servers) await load.run(job(scenario, s.url, 3000, 'warm'));
  const main: number[][] = servers.map(() => []);
  const proc: number[][] = servers.map(() => []);
  const rate: number[][] = servers.map(() => []);
  for (let b = 0; b < Number(args.bursts); b++) {
    const order = servers.map((_, i) => (i + b) % servers.length);
    for (const i of order) {
      const s = servers[i] as (typeof servers)[number];
      const m0 = cpuMicros(s.pid, s.pid);
      const p0 = cpuMicros(s.pid);
      const r = await load.run(job(scenario, s.url, Number(args.seconds) * 1000, `b${b}`));
      const acked = r.ok * events;
      const m = (cpuMicros(s.pid, s.pid) - m0) / acked;
      const p = (cpuMicros(s.pid) - p0) / acked;
      main[i]?.push(m);
      proc[i]?.push(p);
      rate[i]?.push(acked / (r.elapsedMs / 1000));
      process.stdout.write(
        `burst ${b} ${s.root}: ${Math.round(acked / (r.elapsedMs / 1000))} events/s, main ${m.toFixed(1)} µs/event, process ${p.toFixed(1)}, failed ${r.failed}\n`,
      );
    }
  }
  process.stdout.write(
    '\nmedians (ratio: median over bursts of this build / the first build, same burst):\n',
  );
  servers.forEach((s, i) => {
    const ratio = (xs: number[][]) =>
      median((xs[i] as number[]).map((x, b) => x / ((xs[0] as number[])[b] as number)));
    process.stdout.write(
      `  ${s.root}: ${Math.round(median(rate[i] as number[]))} events/s (×${ratio(rate).toFixed(3)}), main ${median(main[i] as number[]).toFixed(1)} µs/event (×${ratio(main).toFixed(3)}), process ${median(proc[i] as number[]).toFixed(1)} (×${ratio(proc).toFixed(3)})\n`,
    );
  });
} finally {
  load.close();
  for (const s of servers) await s.kill();
}
