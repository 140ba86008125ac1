// Summarizes a V8 CPU profile (node --cpu-prof): the functions with the most self time, and the share of
// time by area (our code, fastify, DuckDB bindings, JSON, GC, idle). Also a script: tsx bench/profile.ts FILE.
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileLine {
  fn: string;
  where: string;
  selfMs: number;
  pct: number;
}

export interface ProfileSummary {
  totalMs: number;
  top: ProfileLine[];
  byArea: Array<{ area: string; ms: number; pct: number }>;
}

function area(url: string, fn: string): string {
  if (fn === '(idle)' || fn === '(program)' || fn === '(garbage collector)') return fn;
  if (url.includes('/src/')) return `intake ${url.slice(url.indexOf('/src/') + 5).split('/')[0]}/`;
  if (url.includes('node_modules/')) {
    const rest = url.slice(url.lastIndexOf('node_modules/') + 13).split('/');
    return (rest[0] ?? '').startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? '?');
  }
  if (url.startsWith('node:')) return url.split('/')[0] ?? url;
  return url === '' ? `(native) ${fn}` : 'other';
}

export function summarize(file: string, top = 25): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  // Each sample's time is the delta to the next one.
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i] as number;
    const dt = (p.timeDeltas[i + 1] ?? 0) / 1000;
    self.set(id, (self.get(id) ?? 0) + dt);
  }
  const totalMs = [...self.values()].reduce((a, b) => a + b, 0);
  const fns = new Map<string, ProfileLine>();
  const areas = new Map<string, number>();
  for (const [id, t] of self) {
    const n = byId.get(id);
    if (!n) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    const fn = functionName || '(anonymous)';
    const short = url.replace(/^file:\/\//, '').replace(/^.*\/(node_modules|src)\//, '$1/');
    const key = `${fn} ${short}:${lineNumber + 1}`;
    const line = fns.get(key) ?? { fn, where: `${short}:${lineNumber + 1}`, selfMs: 0, pct: 0 };
    line.selfMs += t;
    fns.set(key, line);
    const a = area(url, fn);
    areas.set(a, (areas.get(a) ?? 0) + t);
  }
  const pct = (x: number) => Math.round((x / totalMs) * 1000) / 10;
  return {
    totalMs: Math.round(totalMs),
    top: [...fns.values()]
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, top)
      .map((l) => ({ ...l, selfMs: Math.round(l.selfMs), pct: pct(l.selfMs) })),
    byArea: [...areas.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([a, ms]) => ({ area: a, ms: Math.round(ms), pct: pct(ms) })),
  };
}

export function formatSummary(s: ProfileSummary): string {
  const lines = [`total sampled: ${s.totalMs} ms`, '', 'self time by area:'];
  for (const a of s.byArea.slice(0, 15)) lines.push(`  ${String(a.pct).padStart(5)}%  ${a.area}`);
  lines.push('', 'top functions by self time:');
  for (const l of s.top)
    lines.push(`  ${String(l.pct).padStart(5)}%  ${String(l.selfMs).padStart(6)} ms  ${l.fn}  ${l.where}`);
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, '/'))) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: tsx bench/profile.ts FILE.cpuprofile\n');
    process.exit(2);
  }
  process.stdout.write(`${formatSummary(summarize(file))}\n`);
}
