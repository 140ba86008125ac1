// Inclusive time of chosen frames in a V8 CPU profile, per acknowledged event when given their count:
//   npx tsx bench/profile-tree.ts FILE [EVENTS]
// A sample counts for every distinct frame on its stack (a frame is function name + file:line), so nested
// frames overlap; the self-time areas of bench/profile.ts partition the time instead.
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
const file = process.argv[2] as string;
const events = Number(process.argv[3] ?? 0);
const p = JSON.parse(readFileSync(file, 'utf8')) as {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
};
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const name = (n: Node) => {
  const u = n.callFrame.url.replace(/^file:\/\//, '').replace(/^.*\/(node_modules|src)\//, '$1/');
  return `${n.callFrame.functionName || '(anonymous)'} ${u}:${n.callFrame.lineNumber + 1}`;
};
const incl = new Map<string, number>();
let total = 0;
let idle = 0;
for (let i = 0; i < p.samples.length; i++) {
  const dt = (p.timeDeltas[i + 1] ?? 0) / 1000;
  let id: number | undefined = p.samples[i];
  const first = byId.get(id as number);
  total += dt;
  if (first?.callFrame.functionName === '(idle)') {
    idle += dt;
    continue;
  }
  const seen = new Set<string>();
  while (id !== undefined) {
    const n = byId.get(id) as Node;
    const k = name(n);
    if (!seen.has(k)) {
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + dt);
    }
    id = parent.get(id);
  }
}
const busy = total - idle;
process.stdout.write(
  `total ${total.toFixed(0)} ms, busy ${busy.toFixed(0)} ms${events ? `, ${((busy * 1000) / events).toFixed(2)} µs/event` : ''}\n`,
);
const rows = [...incl.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 80));
for (const [k, ms] of rows) {
  const per = events ? `${((ms * 1000) / events).toFixed(2).padStart(7)} µs` : '';
  process.stdout.write(
    `${((ms / busy) * 100).toFixed(1).padStart(5)}% ${ms.toFixed(0).padStart(6)} ms ${per}  ${k}\n`,
  );
}
