// The log contract (src/ingest/types.ts) as tests: written once, run on every engine of test/engines.ts, each
// log over its own engine's store (contract.test.ts). What a log must do is seen through its answers and
// through the store it loads: durability (a crash after the answer loses nothing), duplicates by (workspace,
// messageId) across batches and restarts, deletions' tombstones, the purge, backpressure and read-your-writes.
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dedupeKey } from '../../src/core/dedupe.ts';
import { type ErrorCode, IntakeError } from '../../src/core/errors.ts';
import type { CanonicalEvent } from '../../src/core/event.ts';
import type { IngestBatch, IngestLog } from '../../src/ingest/types.ts';
import type { Store } from '../../src/store/types.ts';
import { crashChild } from '../engine-child.ts';
import type { ContractTest, LogOptions, TestEngine } from '../engines.ts';
import { at, event, rejection, toRecord } from '../fixtures.ts';
import { tempDir } from '../helpers.ts';
import { finished, query } from '../store/contract.ts';

/** An event received now (inside every dedupe window), with an old timestamp: the window goes by receipt. */
const fresh = (ws: string, messageId: string, fields: Partial<CanonicalEvent> = {}) =>
  event(ws, messageId, { userId: 'u', timestamp: at(0), receivedAt: new Date(), ...fields });

const batch = (events: CanonicalEvent[], rejected = [] as ReturnType<typeof rejection>[]): IngestBatch => ({
  events: events.map(toRecord),
  rejected,
});

/** The messageIds stored in a workspace, sorted, each as often as it is stored. */
async function stored(store: Store, ws = 'w'): Promise<string[]> {
  const page = await store.events.listEvents(ws, query({ limit: 1000 }));
  return page.results.map((e) => e.messageId).sort();
}

/** `p` rejects with the IntakeError `code`; a function that throws instead of rejecting fails here. */
async function rejectsWith(p: () => Promise<unknown>, code: ErrorCode): Promise<IntakeError> {
  let promise: Promise<unknown> | undefined;
  assert.doesNotThrow(() => {
    promise = p();
  }, 'it answers with a rejected promise, not a synchronous throw');
  let caught: unknown;
  await assert.rejects(promise as Promise<unknown>, (err) => {
    caught = err;
    return err instanceof IntakeError && err.code === code;
  });
  return caught as IntakeError;
}

/** The store with its sink's loads failing while `failing()` says so. */
function failingLoads(store: Store, failing: () => boolean): Store {
  return {
    sink: {
      ...store.sink,
      load: (b) => (failing() ? Promise.reject(new Error('disk on fire')) : store.sink.load(b)),
    },
    events: store.events,
    sql: store.sql,
    insights: store.insights,
    profiles: store.profiles,
    erasure: store.erasure,
    admin: store.admin,
    schema: store.schema,
    plans: store.plans,
    onTombstones: (l) => store.onTombstones(l),
    close: () => store.close(),
  };
}

export function logContract(engine: TestEngine, test: ContractTest): void {
  interface Opened {
    store: Store;
    log: IngestLog;
    close(): Promise<void>;
  }

  /** The engine's store and log on `dir`, wired as the runtime wires them (tombstones go to the log). */
  async function open(dir: string, opts: LogOptions = {}, wrap = (s: Store) => s): Promise<Opened> {
    const store = await engine.openStore(dir);
    const log = await engine.openLog(wrap(store), dir, opts);
    store.onTombstones((keys) => log.forbid(keys));
    return {
      store,
      log,
      async close() {
        await log.close();
        await store.close();
      },
    };
  }

  /** Runs `fn` with a fresh directory, removed afterwards; `fn` opens (and reopens) what it needs. */
  async function inDir(fn: (dir: string) => Promise<void>): Promise<void> {
    const dir = tempDir('intake-log-contract-');
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  async function withLog(
    fn: (o: Opened, dir: string) => Promise<void>,
    opts: LogOptions = {},
  ): Promise<void> {
    await inDir(async (dir) => {
      const o = await open(dir, opts);
      try {
        await fn(o, dir);
      } finally {
        await o.close();
      }
    });
  }

  test('submit answers only once durable: a crash right after the answers loses none of them', () =>
    inDir(async (dir) => {
      const batches = [
        batch([fresh('w', 'c1'), fresh('w', 'c2'), fresh('w', 'c1')], [rejection('w', 'r1')]),
        batch([fresh('w', 'c2'), fresh('w', 'c3'), fresh('w2', 'c1')]),
      ];
      const file = join(dir, 'batches.json');
      writeFileSync(file, JSON.stringify(batches));
      // The child submits both, prints each answer, and is killed: nothing closed, nothing loaded on purpose.
      const answers = await crashChild(['submit', engine.name, dir, file]);
      assert.deepEqual(answers, [{ duplicate: [false, false, true] }, { duplicate: [true, false, false] }]);

      const o = await open(dir);
      try {
        await o.log.settled();
        assert.deepEqual(await stored(o.store), ['c1', 'c2', 'c3'], 'every acknowledged event, once');
        assert.deepEqual(await stored(o.store, 'w2'), ['c1']);
        assert.deepEqual(
          (await o.store.events.listRejected('w', { limit: 10, offset: 0 })).results.map((r) => r.id),
          ['r1'],
        );
        const again = await o.log.submit(batch([fresh('w', 'c1'), fresh('w', 'c3'), fresh('w', 'c4')]));
        assert.deepEqual(again.duplicate, [true, true, false], 'and remembered');
      } finally {
        await o.close();
      }
    }));

  test('duplicates inside a batch and across batches are reported in order, and stored once', () =>
    withLog(async ({ store, log }) => {
      const first = fresh('w', 'a', { event: 'first' });
      const r1 = await log.submit(batch([first, fresh('w', 'b'), fresh('w', 'a', { event: 'second' })]));
      assert.deepEqual(r1.duplicate, [false, false, true]);
      const r2 = await log.submit(
        batch(
          [fresh('w', 'b'), fresh('other', 'a'), fresh('w', 'A')],
          [rejection('w', 'ra', { messageId: 'a' })],
        ),
      );
      assert.deepEqual(r2.duplicate, [true, false, false], 'per workspace, case-sensitive');
      assert.deepEqual(await log.submit({ events: [], rejected: [] }), { duplicate: [] });
      await log.settled();
      assert.deepEqual(await stored(store), ['A', 'a', 'b']);
      assert.deepEqual(
        (await store.events.listEvents('w', query({ messageId: 'a' }))).results.map((e) => e.event),
        ['first'],
        'the copy kept is the first one',
      );
      assert.deepEqual(await stored(store, 'other'), ['a']);
      assert.equal(
        (await store.events.listRejected('w', { limit: 10, offset: 0 })).total,
        1,
        'rejections are kept',
      );
    }));

  test('duplicates are remembered across a restart, once the store has loaded them', () =>
    inDir(async (dir) => {
      let o = await open(dir);
      try {
        assert.deepEqual((await o.log.submit(batch([fresh('w', 'a'), fresh('w', 'b')]))).duplicate, [
          false,
          false,
        ]);
        await o.log.settled();
      } finally {
        await o.close();
      }
      // The log starts again from what the store gives back (its dedupe keys).
      o = await open(dir);
      try {
        const r = await o.log.submit(
          batch([fresh('w', 'a'), fresh('w', 'c'), fresh('w', 'b'), fresh('x', 'a')]),
        );
        assert.deepEqual(r.duplicate, [true, false, true, false]);
        await o.log.settled();
        assert.deepEqual(await stored(o.store), ['a', 'b', 'c']);
      } finally {
        await o.close();
      }
    }));

  test('forbidden keys are refused, even after a purge of everything', () =>
    withLog(async ({ store, log }) => {
      log.forbid([dedupeKey('w', 'f1'), dedupeKey('w', 'f2')]);
      assert.deepEqual(
        (await log.submit(batch([fresh('w', 'f1'), fresh('w', 'ok'), fresh('x', 'f2')]))).duplicate,
        [true, false, false],
      );
      await log.purge(new Date(Date.UTC(9000, 0, 1)));
      assert.deepEqual((await log.submit(batch([fresh('w', 'f2'), fresh('w', 'ok')]))).duplicate, [
        true,
        false,
      ]);
      await log.settled();
      assert.deepEqual(await stored(store), ['ok', 'ok'], 'the purge forgot ok, which was stored again');
    }));

  test("a deleted person's batch replayed is refused, after a purge and after a restart", () =>
    inDir(async (dir) => {
      const victim = () => [
        fresh('w', 'v1', { type: 'identify', userId: 'v', anonymousId: 'va', traits: { n: 1 } }),
        fresh('w', 'v2', { userId: null, anonymousId: 'va' }),
      ];
      let o = await open(dir);
      try {
        await o.log.submit(batch([...victim(), fresh('w', 'k1', { userId: 'k' })]));
        await o.log.settled();
        const job = await o.store.erasure.requestDeletion('w', 'v');
        assert.equal((await finished(o.store, 'w', job.id)).status, 'done');
        assert.deepEqual((await o.log.submit(batch([...victim(), fresh('w', 'n1')]))).duplicate, [
          true,
          true,
          false,
        ]);
        await o.log.purge(new Date(Date.UTC(9000, 0, 1)));
        assert.deepEqual(
          (await o.log.submit(batch(victim()))).duplicate,
          [true, true],
          'the purge kept them',
        );
      } finally {
        await o.close();
      }
      o = await open(dir);
      try {
        assert.deepEqual(
          (await o.log.submit(batch(victim()))).duplicate,
          [true, true],
          'the restart kept them',
        );
        await o.log.settled();
        assert.deepEqual(await stored(o.store), ['k1', 'n1']);
        assert.equal(await o.store.profiles.getUser('w', 'va'), null);
      } finally {
        await o.close();
      }
    }));

  test('purge forgets only the keys first seen before its date, and says how many', () =>
    withLog(async ({ store, log }) => {
      const now = Date.now();
      const old = (m: string) => fresh('w', m, { receivedAt: at(0) });
      await log.submit(batch([old('o1'), old('o2'), fresh('w', 'n1')]));
      await log.settled();
      assert.equal(await log.purge(new Date(now - 3_600_000)), 2);
      assert.deepEqual((await log.submit(batch([old('o1'), fresh('w', 'n1'), old('o2')]))).duplicate, [
        false,
        true,
        false,
      ]);
      await log.settled();
      assert.deepEqual(await stored(store), ['n1', 'o1', 'o1', 'o2', 'o2']);
    }));

  test('pending counts the entries accepted and not yet loaded, and drains', () =>
    withLog(
      async ({ log }) => {
        assert.equal(log.pending, 0);
        await log.submit(
          batch([fresh('w', 'p1'), fresh('w', 'p2'), fresh('w', 'p3')], [rejection('w', 'r')]),
        );
        assert.equal(log.pending, 4, 'three events and a rejection');
        await log.submit(batch([fresh('w', 'p1'), fresh('w', 'p2')]));
        assert.equal(log.pending, 4, 'duplicates add nothing');
        await log.settled();
        assert.equal(log.pending, 0);
      },
      { loadDelayMs: 60_000 },
    ));

  test('settled resolves once everything acknowledged before it is loaded', () =>
    withLog(
      async ({ store, log }) => {
        await log.settled(); // nothing to wait for
        await log.submit(batch([fresh('w', 's1')]));
        await log.submit(batch([fresh('w', 's2')], [rejection('w', 'r')]));
        // Loads wait a minute unless asked: only settled() can have loaded these.
        await log.settled();
        assert.deepEqual(await stored(store), ['s1', 's2']);
        assert.equal((await store.events.listRejected('w', { limit: 10, offset: 0 })).total, 1);
      },
      { loadDelayMs: 60_000 },
    ));

  test('settled rejects with STORE_UNAVAILABLE while loads fail, and nothing acknowledged is lost', () =>
    inDir(async (dir) => {
      let failing = true;
      const o = await open(dir, { loadDelayMs: 60_000 }, (s) => failingLoads(s, () => failing));
      try {
        assert.deepEqual((await o.log.submit(batch([fresh('w', 'l1'), fresh('w', 'l2')]))).duplicate, [
          false,
          false,
        ]);
        await rejectsWith(() => o.log.settled(), 'INTAKE_ERR_STORE_UNAVAILABLE');
        await rejectsWith(() => o.log.settled(), 'INTAKE_ERR_STORE_UNAVAILABLE');
        assert.equal(o.log.pending, 2);
        failing = false;
        await o.log.settled();
        assert.deepEqual(await stored(o.store), ['l1', 'l2']);
        assert.equal(o.log.pending, 0);
      } finally {
        failing = false;
        await o.close();
      }
    }));

  test('past its queue limit submit answers OVERLOADED with a retry-after, and accepts again once loaded', () =>
    withLog(
      async ({ store, log }) => {
        await log.submit(batch([fresh('w', 'q1'), fresh('w', 'q2'), fresh('w', 'q3')]));
        const err = await rejectsWith(() => log.submit(batch([fresh('w', 'q4')])), 'INTAKE_ERR_OVERLOADED');
        assert.match(err.headers?.['retry-after'] ?? '', /^[1-9][0-9]*$/, 'Retry-After in whole seconds');
        await log.settled();
        assert.deepEqual((await log.submit(batch([fresh('w', 'q4')]))).duplicate, [false], 'q4 was not kept');
        await log.settled();
        assert.deepEqual(await stored(store), ['q1', 'q2', 'q3', 'q4']);
      },
      { queueLimit: 3, loadDelayMs: 60_000 },
    ));

  test('close loads everything it accepted, then submit answers SHUTTING_DOWN', () =>
    inDir(async (dir) => {
      const o = await open(dir, { loadDelayMs: 60_000 });
      try {
        await o.log.submit(batch([fresh('w', 'z1'), fresh('w', 'z2')], [rejection('w', 'r')]));
        await o.log.close();
        assert.deepEqual(await stored(o.store), ['z1', 'z2'], 'loaded by close, not by a read');
        assert.equal((await o.store.events.listRejected('w', { limit: 10, offset: 0 })).total, 1);
        await rejectsWith(() => o.log.submit(batch([fresh('w', 'z3')])), 'INTAKE_ERR_SHUTTING_DOWN');
      } finally {
        await o.store.close();
      }
      const again = await open(dir);
      try {
        await again.log.settled();
        assert.deepEqual(await stored(again.store), ['z1', 'z2'], 'nothing loaded twice after the restart');
      } finally {
        await again.close();
      }
    }));
}
