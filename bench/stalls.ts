// The main thread's long tasks in a V8 CPU profile (bench/loop-probe.ts writes one with INTAKE_PROBE_PROFILE,
// `npm run bench -- --stall-prof DIR` one per Intake): every run of samples without an idle one that lasts over
// `overMs`, with the frames that took most of it (self time, and the outermost Intake function on the stack).
// Under load the main thread is rarely idle, so such a run spans many tasks; when the probe wrote the stalls it
// measured next to the profile (FILE.stalls.json: each on-CPU gap of its timer over 15 ms, on the profile's
// clock), the samples inside each of those are shown first: what held the loop in that one stall.
//   npx tsx bench/stalls.ts FILE.cpuprofile [overMs = 20]
import { existsSync, readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export interface Stall {
  ms: number;
  /** Self time by frame, most first. */
  self: Array<[string, number]>;
  /** Time by the outermost frame of Intake's own code on the stack (src/), most first. */
  intake: Array<[string, number]>;
}

const name = (n: Node) => {
  const { functionName, url, lineNumber } = n.callFrame;
  const file = url.includes('/src/')
    ? url.slice(url.indexOf('/src/') + 1)
    : url.split('/').slice(-2).join('/');
  return `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`;
};

interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
}

/** A profile's samples: node id, ms it stands for, and its time on the monotonic clock in µs. */
function load(file: string) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const samples: Array<{ id: number; ms: number; atUs: number }> = [];
  let at = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    at += p.timeDeltas[i] ?? 0;
    samples.push({ id: p.samples[i] as number, ms: (p.timeDeltas[i + 1] ?? 0) / 1000, atUs: at });
  }
  /** What a list of samples spent its time on. */
  const summarize = (run: Array<[number, number]>): Stall => {
    const self = new Map<string, number>();
    const intake = new Map<string, number>();
    for (const [id, dt] of run) {
      const n = byId.get(id) as Node;
      self.set(name(n), (self.get(name(n)) ?? 0) + dt);
      let outer = '(none of src/)';
      for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
        const f = byId.get(x) as Node;
        if (f.callFrame.url.includes('/src/')) outer = name(f);
      }
      intake.set(outer, (intake.get(outer) ?? 0) + dt);
    }
    const top = (m: Map<string, number>) =>
      [...m].sort((a, b) => b[1] - a[1]).slice(0, 5) as Array<[string, number]>;
    return { ms: run.reduce((a, [, dt]) => a + dt, 0), self: top(self), intake: top(intake) };
  };
  const idle = (id: number) => byId.get(id)?.callFrame.functionName === '(idle)';
  return { samples, summarize, idle };
}

export function stalls(file: string, overMs = 20): Stall[] {
  const { samples, summarize, idle } = load(file);
  const out: Stall[] = [];
  let run: Array<[number, number]> = [];
  const close = () => {
    if (run.reduce((a, [, dt]) => a + dt, 0) > overMs) out.push(summarize(run));
    run = [];
  };
  for (const { id, ms } of samples) {
    if (idle(id)) close();
    else run.push([id, ms]);
  }
  close();
  return out.sort((a, b) => b.ms - a.ms);
}

/** The samples inside each stall the probe measured (FILE.stalls.json), longest stall first. */
export function probedStalls(file: string): Array<Stall & { probeMs: number }> {
  const windows = JSON.parse(readFileSync(`${file}.stalls.json`, 'utf8')) as Array<{
    fromUs: number;
    toUs: number;
    ms: number;
  }>;
  const { samples, summarize, idle } = load(file);
  return windows
    .map((w) => {
      const inside = samples.filter((x) => x.atUs > w.fromUs && x.atUs <= w.toUs && !idle(x.id));
      return { ...summarize(inside.map((x) => [x.id, x.ms])), probeMs: w.ms };
    })
    .sort((a, b) => b.probeMs - a.probeMs);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2] as string;
  const show = (s: Stall) => {
    for (const [f, ms] of s.intake) process.stdout.write(`    in ${f}: ${ms.toFixed(1)}\n`);
    for (const [f, ms] of s.self.slice(0, 3)) process.stdout.write(`    self ${f}: ${ms.toFixed(1)}\n`);
  };
  if (existsSync(`${file}.stalls.json`)) {
    const probed = probedStalls(file);
    for (const s of probed) {
      process.stdout.write(
        `stall of ${s.probeMs} ms on the CPU (the probe's); ${s.ms.toFixed(1)} ms of samples in it\n`,
      );
      show(s);
    }
    process.stdout.write(`${probed.length} stalls over 15 ms measured by the probe\n\n`);
  }
  const list = stalls(file, Number(process.argv[3] ?? 20));
  for (const s of list.slice(0, 15)) {
    process.stdout.write(`${s.ms.toFixed(1)} ms without an idle sample\n`);
    show(s);
  }
  process.stdout.write(`${list.length} runs over the threshold\n`);
}
