// The processes a benchmark drives: Intake (the real `intake start`), the reference server and the load
// generator, plus what is measured from outside them (RSS from /proc, data directory size).
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { LoadJob, LoadResult } from './load.ts';

export const ROOT = new URL('..', import.meta.url).pathname;
export const KEYS = { write: 'bench-write-key', read: 'bench-read-key', admin: 'bench-admin-key' } as const;
/**
 * Runs one of the bench's scripts in a child process (node --import tsx, in the repository) and resolves with
 * the last line it printed: the in-process benches run each variant in a process of its own this way.
 */
export function lastLineOf(script: string, args: string[]): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', `${ROOT}${script}`, ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: process.env,
    });
    let s = '';
    p.stdout?.on('data', (d) => {
      s += d;
    });
    p.on('exit', (code) =>
      code === 0 ? resolve(s.trim().split('\n').at(-1) ?? '') : reject(new Error(`${script} exited ${code}`)),
    );
  });
}

export const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/**
 * CPU time a process (or one of its threads, `tid`; the main thread's is the pid) has used (user + system), in
 * µs, from /proc/<pid>/stat (clock ticks, 10 ms at 100 Hz); 0 when it is gone. A share of the machine that other work cannot take: on a busy machine a server's CPU time
 * per event moves far less than its events/s.
 */
export function cpuMicros(pid: number, tid?: number | string): number {
  try {
    const stat = readFileSync(
      tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`,
      'utf8',
    );
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command name.
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / TICKS;
  } catch {
    return 0;
  }
}
const TICKS = 100;

/** Peak and current resident memory of a process, in bytes, sampled from /proc/<pid>/status. */
export class RssSampler {
  peak = 0;
  hwm = 0;
  samples: Array<{ t: number; rss: number }> = [];
  private timer: NodeJS.Timeout;

  constructor(
    readonly pid: number,
    everyMs = 500,
    private readonly keep = false,
  ) {
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }

  sample(): number {
    let status: string;
    try {
      status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    } catch {
      return 0; // the process is gone
    }
    const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
    const rss = kb('VmRSS');
    this.hwm = Math.max(this.hwm, kb('VmHWM'));
    this.peak = Math.max(this.peak, rss, this.hwm);
    if (this.keep) this.samples.push({ t: Date.now(), rss });
    return rss;
  }

  stop(): void {
    this.sample();
    clearInterval(this.timer);
  }
}

export interface Server {
  name: string;
  proc: ChildProcess;
  url: string;
  rss: RssSampler;
  output(): string;
  /** SIGTERM, then waits for the exit; resolves with the exit code or signal. */
  stop(): Promise<number | string>;
  /**
   * With IntakeOptions.probe: ends the probe's window (bench/loop-probe.ts: event-loop stalls and GC since the
   * previous call, memory over the process's life) and returns it.
   */
  probe?(): Promise<ProbeWindow>;
}

/** What bench/loop-probe.ts writes for a window. */
export interface ProbeWindow {
  seq: number;
  delayMaxMs: number;
  delayP99Ms: number;
  stallsOver20: number;
  cpuStallsOver20: number;
  cpuMaxMs: number;
  cpuStalls: Array<{ ms: number; gcMs: number; gc: Record<string, number> }>;
  gcMs: number;
  gcCount: number;
  gcMaxMs: number;
  gcByKind: Record<string, number>;
  memory: { atPeak: Record<string, number>; max: Record<string, number> };
}

/** Signals the probe of process `pid` and waits (up to 10 s) for the window it writes to `file`. */
async function readProbe(pid: number, file: string, seq: number): Promise<ProbeWindow> {
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 200; i++) {
    await new Promise((r) => setTimeout(r, 50));
    if (!existsSync(file)) continue;
    try {
      const w = JSON.parse(readFileSync(file, 'utf8')) as ProbeWindow;
      if (w.seq >= seq) return w;
    } catch {
      // being written
    }
  }
  throw new Error(`no probe window ${seq} in ${file}`);
}

function track(name: string, proc: ChildProcess, url: string, keepRss: boolean): Server {
  let out = '';
  proc.stdout?.on('data', (d) => {
    out += d;
  });
  proc.stderr?.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | string>((resolve) =>
    proc.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const rss = new RssSampler(proc.pid as number, keepRss ? 5000 : 500, keepRss);
  return {
    name,
    proc,
    url,
    rss,
    output: () => out,
    async stop() {
      rss.stop();
      proc.kill('SIGTERM');
      const killer = setTimeout(() => proc.kill('SIGKILL'), 120_000);
      const code = await exited;
      clearTimeout(killer);
      return code;
    },
  };
}

async function waitUntilUp(s: Server, path: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (s.proc.exitCode !== null) throw new Error(`${s.name} exited early:\n${s.output()}`);
    try {
      const r = await fetch(`${s.url}${path}`);
      await r.arrayBuffer();
      if (r.status < 500) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      s.proc.kill('SIGKILL');
      throw new Error(`${s.name} did not start within 60 s:\n${s.output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface IntakeOptions {
  /** Write a V8 CPU profile of the server into this directory (node --cpu-prof). */
  cpuProfDir?: string;
  keepRss?: boolean;
  /** More environment for the server: its configuration (INTAKE_DUCKDB_THREADS=1, ...), over the bench's own. */
  env?: Record<string, string>;
  /** Preload bench/loop-probe.ts (Server.probe()). */
  probe?: boolean;
  /** More node flags (--max-semi-space-size=...), before the script. */
  nodeFlags?: string[];
}

/**
 * `NODE_FLAGS` in a --compare or --intake-env environment: node flags for that Intake (space-separated), not
 * an environment variable of it.
 */
export function splitNodeFlags(env: Record<string, string>): {
  env: Record<string, string>;
  nodeFlags: string[];
} {
  const { NODE_FLAGS, ...rest } = env;
  return { env: rest, nodeFlags: (NODE_FLAGS ?? '').split(' ').filter(Boolean) };
}

/** `K=V,K=V` (a bench flag) as an environment; throws on a part without `=`. */
export function parseEnv(spec: string | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const part of (spec ?? '').split(',').filter(Boolean)) {
    const i = part.indexOf('=');
    if (i <= 0) throw new Error(`expected K=V, got "${part}"`);
    env[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return env;
}

/** The environment of a benchmarked `intake start`: this process's, on `port` of 127.0.0.1, the bench's keys. */
export function serverEnv(port: number): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    INTAKE_WRITE_KEY: KEYS.write,
    INTAKE_READ_KEY: KEYS.read,
    INTAKE_ADMIN_KEY: KEYS.admin,
    LOG_LEVEL: 'warn',
  };
}

/** --intake-env of bench/run.ts: the environment every Intake of the run starts with. */
export const intakeEnv: Record<string, string> = {};

/** The real `intake start` process on a fresh port, keys from the environment, warn-level logs. */
export async function startIntake(dataDir: string, opts: IntakeOptions = {}): Promise<Server> {
  const port = await freePort();
  const prof = opts.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`] : [];
  const probeFile = `${dataDir}.probe.json`;
  const probe = opts.probe ? ['--import', join(ROOT, 'bench/loop-probe.ts')] : [];
  const { env, nodeFlags } = splitNodeFlags({ ...intakeEnv, ...opts.env });
  const proc = spawn(
    process.execPath,
    [
      ...prof,
      ...nodeFlags,
      ...(opts.nodeFlags ?? []),
      '--import',
      'tsx',
      ...probe,
      join(ROOT, 'src/cli/main.ts'),
      'start',
      '--data-dir',
      dataDir,
    ],
    {
      cwd: ROOT,
      env: {
        ...serverEnv(port),
        ...(opts.probe ? { INTAKE_PROBE_FILE: probeFile } : {}),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const s = track('intake', proc, `http://127.0.0.1:${port}`, opts.keepRss ?? false);
  await waitUntilUp(s, '/health');
  if (!opts.probe) return s;
  let seq = 0;
  const stop = s.stop;
  return {
    ...s,
    probe: () => readProbe(proc.pid as number, probeFile, ++seq),
    async stop() {
      const code = await stop();
      rmSync(probeFile, { force: true });
      return code;
    },
  };
}

export async function startReference(): Promise<Server> {
  const port = await freePort();
  const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/reference.ts')], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const s = track('reference', proc, `http://127.0.0.1:${port}`, false);
  await waitUntilUp(s, '/');
  return s;
}

/** The load generator process; run() sends it one job at a time. */
export class LoadGenerator {
  private constructor(private readonly proc: ChildProcess) {}

  static async start(): Promise<LoadGenerator> {
    const proc = fork(join(ROOT, 'bench/load.ts'), [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await new Promise<void>((resolve, reject) => {
      proc.once('message', () => resolve());
      proc.once('exit', (code) => reject(new Error(`load generator exited with ${code}`)));
    });
    return new LoadGenerator(proc);
  }

  run(job: LoadJob): Promise<LoadResult> {
    return new Promise((resolve, reject) => {
      this.proc.once('message', (m: { result?: LoadResult; error?: string }) => {
        if (m.result) resolve(m.result);
        else reject(new Error(`load generator: ${m.error}`));
      });
      this.proc.send({ job });
    });
  }

  close(): void {
    this.proc.kill('SIGTERM');
  }
}

/** Bytes a directory takes: allocated blocks (what the disk holds) and apparent size. */
export function dirSize(dir: string): { disk: number; apparent: number } {
  let disk = 0;
  let apparent = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      const s = dirSize(p);
      disk += s.disk;
      apparent += s.apparent;
    } else {
      const st = statSync(p);
      disk += st.blocks * 512;
      apparent += st.size;
    }
  }
  return { disk, apparent };
}
