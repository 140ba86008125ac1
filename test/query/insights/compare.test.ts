// Randomized comparison of the engine's insights with the plain TypeScript reference: generated data sets go in
// through the real ingest path (so the identity graph is the engine's own), generated requests are parsed as the
// API parses them, and every answer must equal the reference's computed from the same events and identities.
// Seeded: INTAKE_TEST_SEED=<n> replays a run, INTAKE_TEST_RUNS=<n> makes it longer.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { parseFunnels, parseRetention, parseTrends } from '../../../src/query/insights/parse.ts';
import type { RefData } from '../../../src/query/insights/reference/common.ts';
import { referenceFunnels } from '../../../src/query/insights/reference/funnels.ts';
import { referenceRetention } from '../../../src/query/insights/reference/retention.ts';
import { referenceTrends } from '../../../src/query/insights/reference/trends.ts';
import type { FunnelsBody, RetentionBody, TrendsBody } from '../../../src/query/insights/schemas.ts';
import { basic, startTestApp, TEST_ENGINE, type TestApp } from '../../helpers.ts';
import { dataset, funnelsBody, type Item, NOW, retentionBody, trendsBody } from './gen.ts';

const SEED = Number(process.env.INTAKE_TEST_SEED ?? 20260310);
// Fewer data sets on other engines by default: ClickHouse 18.16 spends 100-200 ms planning each nested
// statement, so 12 took 6-9 min there (40 s embedded); the whole suite runs this file on it too.
const RUNS = Number(process.env.INTAKE_TEST_RUNS ?? (TEST_ENGINE === 'embedded' ? 12 : 3));
const QUERIES = 8;
const OPTS = { timeoutMs: 30_000 };

let t: TestApp;
let n = 0;

before(async () => {
  t = await startTestApp({ now: () => NOW, loadDelayMs: 5 });
});
after(() => t.close());

/** A fresh workspace holding `items`; its id and what the reference needs, read back from the engine. */
async function load(items: Item[]): Promise<{ ws: string; data: RefData }> {
  const ws = await t.keys.createWorkspace(`cmp-${n++}`);
  const write = (await t.keys.createKey(ws.id, 'write')).secret;
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/batch',
    headers: { authorization: basic(write) },
    payload: { batch: items },
  });
  assert.equal(res.statusCode, 200, res.body);
  // Read back through the store contract (every engine has it; ClickHouse has no POST /query yet).
  const page = await t.store.events.listEvents(ws.id, {
    json: [],
    orderBy: 'timestamp',
    direction: 'ASC',
    limit: 10_000,
    offset: 0,
  });
  const events = page.results.map((e) => ({
    id: e.id,
    type: e.type,
    event: e.event,
    userId: e.userId,
    anonymousId: e.anonymousId,
    timestamp: e.timestamp,
    properties: e.properties,
    context: e.context,
  }));
  assert.equal(events.length, items.length);
  // Every id of every person, and the persons' traits (those with none are absent, as in the users table).
  const users = await t.store.profiles.listUsers(ws.id, { traits: [], limit: 10_000, offset: 0 });
  const persons = new Map<string, string>();
  const traits = new Map<string, Record<string, unknown>>();
  for (const u of users.results) {
    for (const id of [...u.userIds, ...u.anonymousIds]) persons.set(id, u.id);
    traits.set(u.id, u.traits);
  }
  return { ws: ws.id, data: { events, persons, traits } };
}

/** Deep equality where numbers may differ by float rounding (sums and averages add in another order). */
function close(actual: unknown, expected: unknown, path = '$'): void {
  if (typeof expected === 'number' && typeof actual === 'number') {
    const ok = Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected));
    assert.ok(ok, `${path}: ${actual} != ${expected}`);
    return;
  }
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path}: not an array`);
    assert.equal(actual.length, expected.length, `${path}: length ${actual.length} != ${expected.length}`);
    for (const [i, x] of expected.entries()) close(actual[i], x, `${path}[${i}]`);
    return;
  }
  if (expected && typeof expected === 'object') {
    assert.ok(actual && typeof actual === 'object', `${path}: not an object`);
    assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), `${path}: keys`);
    for (const [k, v] of Object.entries(expected))
      close((actual as Record<string, unknown>)[k], v, `${path}.${k}`);
    return;
  }
  assert.deepEqual(actual, expected, path);
}

/** Unordered funnels take steps of one event only when identical (parse.ts): make them so. */
function sameStepsPerEvent(b: FunnelsBody): FunnelsBody {
  if (b.order !== 'unordered') return b;
  return { ...b, steps: b.steps.map((s) => b.steps.find((x) => x.event === s.event) ?? s) };
}

test('trends, funnels and retention equal the reference on generated data', {
  // A bound, not a measure: ~40 s embedded; ClickHouse 18.16 spends 100-200 ms planning each of the 288
  // statements (6-7 min on a loaded 2-core machine), so it gets more room.
  timeout: TEST_ENGINE === 'embedded' ? 600_000 : 1_800_000,
}, async () => {
  let compared = 0;
  await fc.assert(
    fc.asyncProperty(
      dataset,
      fc.array(trendsBody, { minLength: QUERIES, maxLength: QUERIES }),
      fc.array(funnelsBody, { minLength: QUERIES, maxLength: QUERIES }),
      fc.array(retentionBody, { minLength: QUERIES, maxLength: QUERIES }),
      async (items, trends, funnels, retention) => {
        const { ws, data } = await load(items);
        const check = (what: string, body: unknown, actual: unknown, expected: unknown) => {
          try {
            close(actual, expected, `${what} ${JSON.stringify(body)}`);
          } catch (err) {
            // INTAKE_TEST_DUMP=<file>: the failing case, to replay it by hand.
            if (process.env.INTAKE_TEST_DUMP) {
              writeFileSync(
                process.env.INTAKE_TEST_DUMP,
                JSON.stringify({ items, what, body, actual, expected }, null, 1),
              );
            }
            throw err;
          }
        };
        for (const body of trends) {
          const q = parseTrends(body as TrendsBody, 'UTC', NOW);
          const got = await t.store.insights.trends(ws, q, OPTS);
          check('trends', body, got.result, referenceTrends(data, q));
          compared++;
        }
        for (const raw of funnels) {
          const body = sameStepsPerEvent(raw as FunnelsBody);
          const q = parseFunnels(body, 'UTC', NOW);
          const got = await t.store.insights.funnels(ws, q, OPTS);
          check('funnels', body, got.result, referenceFunnels(data, q));
          compared++;
        }
        for (const body of retention) {
          const q = parseRetention(body as RetentionBody, 'UTC', NOW);
          const got = await t.store.insights.retention(ws, q, OPTS);
          check('retention', body, got.result, referenceRetention(data, q));
          compared++;
        }
      },
    ),
    { seed: SEED, numRuns: RUNS, endOnFailure: true },
  );
  assert.ok(compared >= RUNS * QUERIES * 3);
});
