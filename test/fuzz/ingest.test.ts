// Property-based fuzzing of every dialect's ingest routes: generated hostile bodies (wrong types in every
// field, huge and tiny numbers, NUL and lone surrogates, __proto__ keys, deep and wide nesting, huge batches,
// valid and invalid items mixed, every content encoding, wrong keys, over-limit bodies), most through
// app.inject() and a sample over a real socket. Each request must get a documented, coded answer (never a 5xx,
// never a reset); every valid item is stored once (GET /events), and the events stored and the items kept at
// /rejected (GET /rejected) add up to what the answer said.
//
// Seeded and time-boxed: FUZZ_SEED (default below) seeds family i with FUZZ_SEED + i; FUZZ_RUNS caps the runs
// of each family, FUZZ_BUDGET_MS the time each may take. A failure prints the line that replays it
// (FUZZ_SEED, FUZZ_ONLY=<family>, FUZZ_PATH=<fast-check path>).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { allEvents, bearer, KEYS, startTestApp, type TestApp, testGeoReader } from '../helpers.ts';
import { type Answer, type Expect, FAMILIES, type Family } from './routes.ts';
import {
  hostileBodyText,
  hostileKey,
  hostileNumber,
  hostileString,
  hostileValue,
  KEYWORDS,
  render,
} from './values.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_130);
const RUNS = Number(process.env.FUZZ_RUNS ?? 60);
const BUDGET_MS = Number(process.env.FUZZ_BUDGET_MS ?? 2500);
const ONLY = process.env.FUZZ_ONLY;
const PATH = process.env.FUZZ_PATH;
const LIMIT = 1024 * 1024;

let t: TestApp;
let url: string;
before(async () => {
  // The geo database on, so hostile context.ip values reach the lookup too.
  t = await startTestApp({ bodyLimit: LIMIT, geo: await testGeoReader() });
  url = await t.listen();
});
after(() => t.close());

const DELETE = '~~DELETE~~';
type ItemT =
  | { k: 'valid' }
  | { k: 'mutated'; edits: [string, unknown][] }
  | { k: 'any'; value: unknown }
  | { k: 'many'; n: number };
type Encoding = 'identity' | 'gzip' | 'deflate' | 'br' | 'compress' | 'gzip-corrupt' | 'gzip-js';

interface Case {
  path: string;
  items: ItemT[];
  shape: number;
  /** Edits of the body around the items (batch-level fields, extra keys). */
  envelope: [string, unknown][];
  /** A whole body instead of the generated one. */
  body: string | null;
  encoding: Encoding;
  type: 'application/json' | 'text/plain' | 'none' | 'form';
  key: 'write' | 'none' | 'read' | 'bogus';
  query: string;
  socket: boolean;
  oversize: boolean;
}

const weighted = <T>(...xs: [number, fc.Arbitrary<T>][]) =>
  fc.oneof(...xs.map(([weight, arbitrary]) => ({ weight, arbitrary })));

/** Percent-encodes the UTF-8 bytes (encodeURIComponent throws on lone surrogates). */
const pct = (s: string) => [...Buffer.from(s)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');

function caseOf(fam: Family): fc.Arbitrary<Case> {
  const edit = (names: string[]) =>
    fc.tuple(
      weighted<string>([3, fc.constantFrom(...names)], [1, hostileKey]),
      weighted<unknown>(
        [5, hostileValue],
        [2, fc.constantFrom(...KEYWORDS)],
        [2, hostileNumber],
        [1, fc.constant(DELETE)],
      ),
    );
  const item: fc.Arbitrary<ItemT> = weighted<ItemT>(
    [4, fc.constant({ k: 'valid' as const })],
    [
      4,
      fc
        .array(edit(fam.fields), { minLength: 1, maxLength: 3 })
        .map((edits) => ({ k: 'mutated' as const, edits })),
    ],
    [1, hostileValue.map((value) => ({ k: 'any' as const, value }))],
  );
  const single = fam.envelope.length === 0 && fam.name !== 'biteral';
  const items = single
    ? item.map((i) => [i])
    : weighted<ItemT[]>(
        [12, fc.array(item, { maxLength: 6 })],
        // Around each dialect's batch limits (UserFlux 50, Biteral 100, Bento 1000), and a large Segment batch.
        [1, fc.constantFrom(49, 51, 100, 101, 1000, 1001, 2000).map((n) => [{ k: 'many' as const, n }])],
      );
  return fc.record({
    path: fc.constantFrom(...fam.paths),
    items,
    shape: fc.integer({ min: 0, max: 2 }),
    envelope:
      fam.envelope.length === 0
        ? fc.constant([])
        : weighted<[string, unknown][]>(
            [3, fc.constant([])],
            [1, fc.array(edit(fam.envelope), { maxLength: 2 })],
          ),
    body: weighted<string | null>([12, fc.constant(null)], [1, hostileBodyText]),
    encoding: weighted<Encoding>(
      [12, fc.constant('identity')],
      [2, fc.constant('gzip')],
      [1, fc.constantFrom('deflate', 'br', 'compress', 'gzip-corrupt', 'gzip-js')],
    ),
    type: weighted<Case['type']>(
      [8, fc.constant('application/json')],
      [1, fc.constantFrom('text/plain', 'none', 'form')],
    ),
    key: weighted<Case['key']>([20, fc.constant('write')], [1, fc.constantFrom('none', 'read', 'bogus')]),
    query: weighted<string>(
      [10, fc.constant('')],
      [
        1,
        fc
          .tuple(fc.constantFrom('_', 'locationEnrichment', 'compression', 'token', 'api_key'), hostileString)
          .map(([k, v]) => `?${k}=${pct(v)}`),
      ],
      [1, fc.constantFrom('?_=%zz&token=%ff', '?locationEnrichment=true', '?compression=lz64', '?a&a&a')],
    ),
    socket: weighted<boolean>([5, fc.constant(false)], [1, fc.constant(true)]),
    oversize: weighted<boolean>([40, fc.constant(false)], [1, fc.constant(true)]),
  });
}

/** Sets (or with DELETE removes) `path` in a copy of `o`; a dot reaches into an object, made if absent. */
function edited(o: unknown, path: string, v: unknown): unknown {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return o;
  const out: Record<string, unknown> = { ...o };
  const dot = path.indexOf('.');
  if (dot > 0) {
    const head = path.slice(0, dot);
    out[head] = edited(
      typeof out[head] === 'object' && out[head] !== null ? out[head] : {},
      path.slice(dot + 1),
      v,
    );
  } else if (v === DELETE) delete out[path];
  else out[path] = v;
  return out;
}

let serial = 0;
/** Hostile items' ids made unique, so the test can say every change was a store or a rejection. */
function unique(item: unknown): unknown {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return item;
  const out: Record<string, unknown> = { ...item };
  for (const k of ['messageId', 'uuid']) {
    if (typeof out[k] === 'string' || typeof out[k] === 'number') out[k] = `${String(out[k])}~${++serial}`;
  }
  if (typeof out.email === 'string' && out.email.includes('@')) out.email = `${++serial}.${out.email}`;
  return out;
}

interface Built {
  text: string;
  /** The value sent, as the server parses it (undefined when the text is not JSON). */
  sent: unknown;
  /** The valid items' messageIds; none when something around them was made hostile (they may be refused). */
  validIds: string[];
}

function build(fam: Family, c: Case, tag: string): Built {
  const validIds: string[] = [];
  const items: unknown[] = [];
  const valid = () => {
    const id = `${tag}-${validIds.length}`;
    validIds.push(id);
    items.push(fam.valid(tag, id, validIds.length - 1));
  };
  for (const it of c.items) {
    if (it.k === 'valid') valid();
    else if (it.k === 'many') for (let i = 0; i < it.n; i++) valid();
    else if (it.k === 'any') items.push(unique(it.value));
    else {
      const base = `${tag}-h${items.length}`;
      let v: unknown = fam.valid(base, base, items.length);
      for (const [path, value] of it.edits) v = edited(v, path, value);
      items.push(unique(v));
    }
  }
  const key = c.key === 'write' ? KEYS.write : c.key === 'read' ? KEYS.read : c.key === 'bogus' ? 'nope' : '';
  let body = fam.wrap(items, c.shape, key);
  for (const [path, value] of c.envelope) body = edited(body, path, value);
  let text = c.body ?? render(body);
  let sent: unknown;
  try {
    sent = JSON.parse(text);
  } catch {
    sent = undefined;
  }
  if (c.type === 'form') text = `data=${Buffer.from(text).toString('base64')}`;
  if (c.oversize) text += ' '.repeat(LIMIT);
  const clean =
    c.body === null &&
    !c.oversize &&
    !c.query.startsWith('?_=') &&
    c.envelope.every(([path]) => !fam.envelope.includes(path.split('.')[0] as string));
  return { text, sent, validIds: clean ? validIds : [] };
}

function encode(text: string, enc: Encoding): { payload: Buffer; header?: string } {
  const raw = Buffer.from(text);
  switch (enc) {
    case 'gzip':
      return { payload: gzipSync(raw), header: 'gzip' };
    case 'deflate':
      return { payload: deflateSync(raw), header: 'deflate' };
    case 'br':
      return { payload: brotliCompressSync(raw), header: 'br' };
    case 'compress':
      return { payload: raw, header: 'compress' };
    case 'gzip-corrupt':
      return { payload: raw, header: 'gzip' };
    case 'gzip-js':
      // posthog-js: a gzip body as text/plain with no Content-Encoding, `?compression=gzip-js`.
      return { payload: gzipSync(raw) };
    default:
      return { payload: raw };
  }
}

async function send(c: Case, b: Built): Promise<Answer> {
  const { payload, header } = encode(b.text, c.encoding);
  const headers: Record<string, string> = {};
  if (c.key !== 'none')
    headers.authorization = bearer(c.key === 'write' ? KEYS.write : c.key === 'read' ? KEYS.read : 'nope');
  if (header) headers['content-encoding'] = header;
  if (c.type === 'form') headers['content-type'] = 'application/x-www-form-urlencoded';
  else if (c.type !== 'none') headers['content-type'] = c.type;
  const query = c.encoding === 'gzip-js' && c.query === '' ? '?compression=gzip-js' : c.query;
  let status: number;
  let text: string;
  if (c.socket) {
    try {
      const r = await fetch(`${url}${c.path}${query}`, { method: 'POST', headers, body: payload });
      status = r.status;
      text = await r.text();
    } catch (err) {
      throw new Error(
        `the connection failed instead of answering (a reset?): ${(err as Error).message} ${String((err as { cause?: unknown }).cause)}`,
      );
    }
  } else {
    const r = await t.app.inject({ method: 'POST', url: `${c.path}${query}`, headers, payload });
    status = r.statusCode;
    text = r.body;
  }
  assert.ok(status < 500, `never a 5xx: ${status} ${text.slice(0, 300)}`);
  let body: unknown = null;
  if (status !== 204) {
    try {
      body = JSON.parse(text);
    } catch {
      assert.fail(`the answer is JSON: ${status} ${text.slice(0, 300)}`);
    }
  }
  return { status, body };
}

const read = { authorization: bearer(KEYS.read) };
async function totals(): Promise<{ events: number; rejected: number }> {
  const [e, r] = await Promise.all([
    t.app.inject({ method: 'GET', url: '/events?limit=1', headers: read }),
    t.app.inject({ method: 'GET', url: '/rejected?limit=1', headers: read }),
  ]);
  assert.equal(e.statusCode, 200, e.body.slice(0, 300));
  assert.equal(r.statusCode, 200, r.body.slice(0, 300));
  return { events: e.json().total, rejected: r.json().total };
}

const within = (n: number, want: number | [number, number], what: string) => {
  const [lo, hi] = typeof want === 'number' ? [want, want] : want;
  assert.ok(n >= lo && n <= hi, `${what}: ${n}, expected ${lo === hi ? lo : `${lo}..${hi}`}`);
};

let last: { events: number; rejected: number } | undefined;
/**
 * The run in flight. fast-check's time limit races an async run rather than waiting for it: the next run
 * (or family) starts only after it, or its requests would be counted in the next one's numbers.
 */
let inflight: Promise<unknown> = Promise.resolve();
async function run(fam: Family, c: Case): Promise<void> {
  const tag = `fz${++serial}`;
  const b = build(fam, c, tag);
  last ??= await totals();
  const before = last;
  let answer: Answer;
  let expect: Expect;
  try {
    answer = await send(c, b);
    expect = fam.account(b.sent, answer);
  } finally {
    last = undefined; // whatever happened, the next run counts afresh
  }
  const now = await totals();
  last = now;
  const stored = now.events - before.events;
  const rejected = now.rejected - before.rejected;
  const what = `${answer.status} ${JSON.stringify(answer.body)?.slice(0, 300)}`;
  within(stored, expect.stored, `events stored (${what})`);
  within(rejected, expect.rejected, `items kept at /rejected (${what})`);
  if (!expect.accepted) return;
  if (expect.total !== undefined)
    assert.equal(stored + rejected, expect.total, `every item stored or kept (${what})`);
  if (b.validIds.length === 0) return;
  const found = await allEvents(t.app, KEYS.read, `userId=${encodeURIComponent(fam.userOf(tag))}`);
  assert.equal(found.length, b.validIds.length, `each valid item stored once (${what})`);
  if (fam.byMessageId) assert.deepEqual(found.map((e) => String(e.messageId)).sort(), [...b.validIds].sort());
}

for (const [i, fam] of FAMILIES.entries()) {
  test(`fuzz ${fam.name}: ${fam.paths.join(' ')}`, {
    skip: ONLY !== undefined && ONLY !== fam.name,
  }, async (ctx) => {
    const seed = SEED + i;
    const out = await fc.check(
      fc.asyncProperty(caseOf(fam), (c) => {
        const p = inflight.then(() => run(fam, c));
        inflight = p.catch(() => undefined);
        return p;
      }),
      {
        seed,
        numRuns: RUNS,
        interruptAfterTimeLimit: BUDGET_MS,
        markInterruptAsFailure: false,
        ...(PATH && ONLY === fam.name ? { path: PATH } : {}),
      },
    );
    await inflight;
    ctx.diagnostic(`${out.numRuns} runs, seed ${seed}`);
    if (out.failed) {
      assert.fail(
        `replay: FUZZ_SEED=${SEED} FUZZ_ONLY='${fam.name}' FUZZ_PATH='${out.counterexamplePath}'\n${fc.defaultReportMessage(out)}\n${String(out.errorInstance)}`,
      );
    }
  });
}
