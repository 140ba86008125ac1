// The main thread's long tasks in a V8 CPU profile (bench/loop-probe.ts writes one with INTAKE_PROBE_PROFILE,
// `npm run bench -- --stall-prof DIR` one per Intake): every run of samples without an idle one that lasts over
// `overMs`, with the frames that took most of it (self time, and the outermost Intake function on the stack).
//   npx tsx bench/stalls.ts FILE.cpuprofile [overMs = 20]
import { readFileSync } from 'node:fs';

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

export function stalls(file: string, overMs = 20): Stall[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: Node[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const idle = (id: number) => byId.get(id)?.callFrame.functionName === '(idle)';
  const out: Stall[] = [];
  let run: Array<[number, number]> = [];
  const close = () => {
    const ms = run.reduce((a, [, dt]) => a + dt, 0);
    if (ms > overMs) {
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
      out.push({ ms, self: top(self), intake: top(intake) });
    }
    run = [];
  };
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i] as number;
    const dt = (p.timeDeltas[i + 1] ?? 0) / 1000;
    if (idle(id)) close();
    else run.push([id, dt]);
  }
  close();
  return out.sort((a, b) => b.ms - a.ms);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2] as string;
  const list = stalls(file, Number(process.argv[3] ?? 20));
  for (const s of list.slice(0, 15)) {
    process.stdout.write(`${s.ms.toFixed(1)} ms\n`);
    for (const [f, ms] of s.intake) process.stdout.write(`    in ${f}: ${ms.toFixed(1)}\n`);
    for (const [f, ms] of s.self.slice(0, 3)) process.stdout.write(`    self ${f}: ${ms.toFixed(1)}\n`);
  }
  process.stdout.write(`${list.length} runs over the threshold\n`);
}
