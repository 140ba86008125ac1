// The main thread's time by ingest stage, from a V8 CPU profile of a server under load (bench/main-thread.ts
// --window-prof): each sample goes to the first stage, from its leaf frame up, whose rule matches a frame.
//   npx tsx bench/profile-stages.ts FILE [MAIN_US_PER_EVENT]
// With the main thread's measured CPU µs per event, each stage's share is also given in µs per event (the
// profiler's own overhead is spread evenly that way).
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** Stage rules, in priority order: [stage, test of one frame (function name, file)]; a sample goes to the first
 * rule that matches any frame of its stack. */
const RULES: Array<[string, (fn: string, url: string) => boolean]> = [
  ['GC', (fn) => fn === '(garbage collector)'],
  ['loader: profile step', (_fn, url) => url.includes('/src/profiles/') || url.includes('profile-port.ts')],
  ['loader: dictionary merge', (_fn, url) => url.includes('store/duckdb/dictionary.ts')],
  [
    'loader: other (DuckDB calls, load)',
    (_fn, url) => url.includes('/src/store/') || url.includes('ingest/file/loader.ts'),
  ],
  ['log: dictionary walk', (_fn, url) => url.includes('pipeline/dictionary/')],
  ['log: line', (_fn, url) => url.endsWith('ingest/file/lines.ts')],
  [
    'log: dedupe key + memory',
    (fn, url) => url.endsWith('core/dedupe.ts') || url.endsWith('ingest/file/keyset.ts') || fn === 'hash',
  ],
  [
    'log: write, fdatasync, resolve',
    (fn, url) => url.endsWith('ingest/file/segments.ts') && (fn === 'flush' || fn === 'run'),
  ],
  ['log: submit (rest)', (_fn, url) => url.includes('ingest/file/')],
  ['enrich', (_fn, url) => url.includes('pipeline/enrich/')],
  ['normalize', (_fn, url) => url.endsWith('pipeline/normalize.ts')],
  [
    'validate (+ plan)',
    (_fn, url) =>
      url.endsWith('pipeline/validate.ts') ||
      url.includes('pipeline/plan/') ||
      url.endsWith('pipeline/json.ts'),
  ],
  ['ingest + dialect', (_fn, url) => url.includes('/src/ingest/') || url.includes('/src/dialects/')],
  [
    'reply: serialize + write',
    (fn, url) => fn === 'Reply.send' || (fn === 'onSendEnd' && url.includes('fastify')),
  ],
  [
    'fastify (routing, hooks, body read)',
    (_fn, url) =>
      url.includes('node_modules/fastify') ||
      url.includes('node_modules/@fastify') ||
      url.includes('find-my-way') ||
      url.includes('src/http/'),
  ],
  ['DuckDB bindings', (_fn, url) => url.includes('@duckdb')],
  // After fastify: node's parser calls fastify's routing and onRequest hooks synchronously.
  [
    'HTTP parse (node:http)',
    (fn) => fn.startsWith('parserOn') || fn === 'onStreamRead' || fn === 'connectionListenerInternal',
  ],
];

/**
 * Stages told by the frame of Intake or fastify nearest the leaf, not by any frame on the stack: the body
 * parser's callback and the key checks' hooks call the next step synchronously (the hooks, the handler, the
 * ingest path), so a sample with body.ts or auth.ts on its stack is not necessarily their work.
 */
function nearest(stack: Node[]): string | null {
  if (stack[0]?.callFrame.functionName === '(garbage collector)') return null;
  for (const n of stack) {
    const { url, functionName } = n.callFrame;
    if (url.endsWith('src/http/body.ts')) return functionName === 'decode' ? null : 'JSON.parse of the body';
    if (url.endsWith('src/http/auth.ts') || url.includes('/src/auth/')) return 'auth + limits';
    if (url.includes('/src/') || url.includes('node_modules/')) return null;
  }
  return null;
}

const file = process.argv[2] as string;
const mainUs = Number(process.argv[3] ?? 0);
const p = JSON.parse(readFileSync(file, 'utf8')) as {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
};
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const ms = new Map<string, number>();
let busy = 0;
for (let i = 0; i < p.samples.length; i++) {
  const dt = (p.timeDeltas[i + 1] ?? 0) / 1000;
  let id: number | undefined = p.samples[i];
  const leaf = byId.get(id as number) as Node;
  if (leaf.callFrame.functionName === '(idle)') continue;
  busy += dt;
  const stack: Node[] = [];
  for (; id !== undefined; id = parent.get(id)) stack.push(byId.get(id) as Node);
  let stage = nearest(stack) ?? 'other';
  for (const [name, test] of stage === 'other' ? RULES : []) {
    if (stack.some((n) => test(n.callFrame.functionName, n.callFrame.url))) {
      stage = name;
      break;
    }
  }
  if (stage === 'other' && leaf.callFrame.url === '') stage = `other: ${leaf.callFrame.functionName}`;
  ms.set(stage, (ms.get(stage) ?? 0) + dt);
}
process.stdout.write(`busy ${busy.toFixed(0)} ms\n`);
for (const [stage, t] of [...ms.entries()].sort((a, b) => b[1] - a[1])) {
  const share = t / busy;
  process.stdout.write(
    `${(share * 100).toFixed(1).padStart(5)}%  ${mainUs ? `${(share * mainUs).toFixed(2).padStart(6)} µs  ` : ''}${stage}\n`,
  );
}
