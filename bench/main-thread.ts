// The main thread's CPU per event under load, for one or more builds alternated in the same run:
//   npx tsx bench/main-thread.ts [--root DIR]... [--events 100] [--connections 8] [--seconds 8] [--rounds 3]
//     [--cpu-prof DIR]
// Each round starts the real `intake start` of each root (a fresh data directory), warms it, drives it from the
// load generator process for --seconds, and reads from /proc the CPU time of its main thread (task = pid) and of
// the whole process, per acknowledged event; bench/loop-probe.ts (preloaded) reports the event-loop delay, the
// stalls over 20 ms and GC time of the same window. --cpu-prof writes a V8 profile of each server's main thread.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { job, requestScenario } from './ingest.ts';
import { cpuMicros, freePort, LoadGenerator, ROOT, serverEnv } from './procs.ts';
import { formatSummary, summarize } from './profile.ts';

const { values: args } = parseArgs({
  args: process.argv.slice(2),
  options: {
    root: { type: 'string', multiple: true },
    events: { type: 'string', default: '100' },
    connections: { type: 'string', default: '8' },
    seconds: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '3' },
    'cpu-prof': { type: 'string' },
    /** Profile the measured window only (bench/loop-probe.ts), into this directory. */
    'window-prof': { type: 'string' },
    'trace-gc': { type: 'boolean', default: false },
  },
});
// A root may carry environment for its server after a % and node flags after an @:
// `--root .%INTAKE_LOAD_MAX_EVENTS=50000,INTAKE_DUCKDB_THREADS=1@--max-semi-space-size=64`.
const roots = args.root ?? [ROOT];
const rootDir = (r: string) => resolve(r.split(/[@%]/)[0] as string);
const rootFlags = (r: string) => (r.includes('@') ? (r.split('@')[1] as string).split(' ') : []);
const rootEnv = (r: string): Record<string, string> =>
  r.includes('%')
    ? Object.fromEntries(
        (r.split('%')[1] as string)
          .split('@')[0]
          ?.split(',')
          .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]) ?? [],
      )
    : {};
const events = Number(args.events);
const scenario = requestScenario('mt', events, Number(args.connections));

/** CPU µs of every thread of a process, keyed by thread id, with its name (comm, digits dropped). */
function threads(pid: number): Map<string, { name: string; us: number }> {
  const out = new Map<string, { name: string; us: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/[0-9]+/g, '#');
      out.set(tid, { name: tid === String(pid) ? 'main' : name, us: cpuMicros(pid, tid) });
    } catch {} // the thread ended
  }
  return out;
}

/** CPU µs per event of each kind of thread between two samples. */
function byThread(a: ReturnType<typeof threads>, b: ReturnType<typeof threads>, acked: number) {
  const sums = new Map<string, number>();
  for (const [tid, t] of b) sums.set(t.name, (sums.get(t.name) ?? 0) + t.us - (a.get(tid)?.us ?? 0));
  return [...sums].sort((x, y) => y[1] - x[1]).map(([name, us]) => `${name} ${(us / acked).toFixed(1)}`);
}

interface Probe {
  seq: number;
  delayMaxMs: number;
  delayP99Ms: number;
  stallsOver20: number;
  cpuStallsOver20: number;
  cpuMaxMs: number;
  /** Each on-CPU stall over 15 ms, with the GC pause time (wall) that overlaps it. */
  cpuStalls: Array<{ ms: number; gcMs: number }>;
  gcMs: number;
  gcCount: number;
  gcMaxMs: number;
  /** The probe's sample at the highest RSS it saw (MB: rss, heapUsed, heapTotal, external, duckdb, other, ...). */
  memory: { atPeak: Record<string, number> };
}

async function probe(pid: number, file: string, seq: number): Promise<Probe> {
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 200; i++) {
    await new Promise((r) => setTimeout(r, 25));
    if (existsSync(file)) {
      const p = JSON.parse(readFileSync(file, 'utf8')) as Probe;
      if (p.seq === seq) return p;
    }
  }
  throw new Error('the probe did not answer');
}

async function once(root: string, load: LoadGenerator, round: number) {
  const dir = mkdtempSync(join(tmpdir(), 'intake-mt-'));
  const probeFile = join(dir, 'probe.json');
  const port = await freePort();
  const prof = args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${args['cpu-prof']}`] : [];
  const gc = args['trace-gc'] ? ['--trace-gc'] : [];
  const proc = spawn(
    process.execPath,
    [
      ...prof,
      ...gc,
      ...rootFlags(root),
      '--import',
      'tsx',
      '--import',
      join(ROOT, 'bench/loop-probe.ts'),
      join(rootDir(root), 'src/cli/main.ts'),
      'start',
      '--data-dir',
      join(dir, 'data'),
    ],
    {
      cwd: rootDir(root),
      env: {
        ...serverEnv(port),
        INTAKE_PROBE_FILE: probeFile,
        ...rootEnv(root),
        ...(args['window-prof']
          ? { INTAKE_PROBE_PROFILE: join(args['window-prof'], `${round}-${roots.indexOf(root)}.cpuprofile`) }
          : {}),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let gcLog = '';
  proc.stdout?.on('data', (d: Buffer) => {
    if (args['trace-gc']) gcLog += d.toString();
  });
  const pid = proc.pid as number;
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${url}/health`)).status < 500) break;
    } catch {}
    if (i > 600) throw new Error('server did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  await load.run(job(scenario, url, 2000, `warm${round}`));
  await probe(pid, probeFile, 1);
  const main0 = cpuMicros(pid, pid);
  const all0 = cpuMicros(pid);
  const t0 = threads(pid);
  const r = await load.run(job(scenario, url, Number(args.seconds) * 1000, `run${round}`));
  const main1 = cpuMicros(pid, pid);
  const all1 = cpuMicros(pid);
  const t1 = threads(pid);
  const p = await probe(pid, probeFile, 2);
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  const peakMB = Math.round(Number(hwm?.[1] ?? 0) / 1024);
  proc.kill('SIGTERM');
  await new Promise((r) => proc.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
  const acked = r.ok * events;
  return {
    root,
    eventsPerSec: Math.round(acked / (r.elapsedMs / 1000)),
    peakMB,
    failed: r.failed,
    mainUs: (main1 - main0) / acked,
    allUs: (all1 - all0) / acked,
    threads: byThread(t0, t1, acked),
    gcUs: (p.gcMs * 1000) / acked,
    gcCount: p.gcCount,
    gcMaxMs: p.gcMaxMs,
    delayMaxMs: p.delayMaxMs,
    delayP99Ms: p.delayP99Ms,
    stalls: p.stallsOver20,
    cpuStalls: p.cpuStallsOver20,
    cpuMaxMs: p.cpuMaxMs,
    stallList: p.cpuStalls,
    atPeak: p.memory.atPeak,
    gcLog,
  };
}

/** The probe's memory sample: RSS, JS heap used / total, Buffers, DuckDB's buffer manager (its largest tags), rest. */
function atPeak(m: Record<string, number>): string {
  const tags = Object.entries(m)
    .filter(([k, v]) => k.startsWith('duckdb.') && v >= 5)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k.slice(7, -2)} ${v}`);
  return (
    `RSS ${m.rssMB}, heap ${m.heapUsedMB} / ${m.heapTotalMB}, external ${m.externalMB}, ` +
    `DuckDB ${m.duckdbMB}${tags.length > 0 ? ` (${tags.join(', ')})` : ''}, lines waiting ${m.linesWaiting}, ` +
    `other ${m.otherMB}`
  );
}

const load = await LoadGenerator.start();
const results: Array<Awaited<ReturnType<typeof once>>> = [];
try {
  for (let round = 0; round < Number(args.rounds); round++) {
    const order = roots.map((_, i) => roots[(i + round) % roots.length] as string);
    for (const root of order) {
      const x = await once(root, load, round);
      results.push(x);
      if (x.stallList.length > 0)
        process.stdout.write(
          `  on-CPU stalls over 15 ms: ${x.stallList.map((s) => `${s.ms} ms (GC ${s.gcMs})`).join(', ')}\n`,
        );
      if (args['trace-gc']) process.stdout.write(x.gcLog.split('\n').slice(-60).join('\n'));
      process.stdout.write(
        `round ${round + 1} ${root}: ${x.eventsPerSec} events/s, main ${x.mainUs.toFixed(1)} µs/event, process ` +
          `${x.allUs.toFixed(1)}, GC ${x.gcUs.toFixed(2)} µs/event (${x.gcCount}, max ${x.gcMaxMs} ms), loop delay ` +
          `max ${x.delayMaxMs} ms p99 ${x.delayP99Ms} ms, stalls >20 ms ${x.stalls} (on the CPU: ${x.cpuStalls}, longest ${x.cpuMaxMs} ms), failed ${x.failed}, peak RSS ${x.peakMB} MB\n` +
          `  threads, µs/event: ${x.threads.join(', ')}\n` +
          `  at the probe's highest RSS, MB: ${atPeak(x.atPeak)}\n`,
      );
    }
  }
} finally {
  load.close();
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
process.stdout.write('\nmedian per root:\n');
for (const root of roots) {
  const xs = results.filter((x) => x.root === root);
  process.stdout.write(
    `  ${root}: ${median(xs.map((x) => x.eventsPerSec))} events/s, main ${median(xs.map((x) => x.mainUs)).toFixed(1)} µs/event, ` +
      `process ${median(xs.map((x) => x.allUs)).toFixed(1)}, GC ${median(xs.map((x) => x.gcUs)).toFixed(2)}, ` +
      `peak RSS ${xs.map((x) => x.peakMB).join('/')} MB, ` +
      `max loop delay ${Math.max(...xs.map((x) => x.delayMaxMs))} ms, stalls >20 ms ${xs.map((x) => x.stalls).join('/')}, ` +
      `on the CPU ${xs.map((x) => x.cpuStalls).join('/')} (longest ${Math.max(...xs.map((x) => x.cpuMaxMs))} ms)\n`,
  );
}
const profDir = args['cpu-prof'];
if (profDir) {
  for (const f of readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'))) {
    const s = summarize(join(profDir, f), 40);
    const busy = s.totalMs - (s.byArea.find((a) => a.area === '(idle)')?.ms ?? 0);
    if (busy < 1000) continue;
    process.stdout.write(`\n## ${f}\n${formatSummary(s)}\n`);
  }
}
