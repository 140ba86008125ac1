// Every read answers in bounded time: one waiting for a load that does not finish (a stuck or very slow store,
// a large backlog) answers 503 READ_TIMEOUT with Retry-After after --read-wait-ms, and the load goes on.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { allEvents, basic, bearer, KEYS, startTestApp, type TestApp } from '../helpers.ts';

let t: TestApp;
before(async () => {
  t = await startTestApp({ readWaitMs: 300 });
});
after(() => t.close());

/**
 * The events, read as a client reads them: again after a 503 (these reads are bounded at 300 ms too, and a
 * busy machine's load, or its retry after a failure, may take longer than that). At most ~40 s.
 */
async function eventsOnceLoaded(query = ''): Promise<Record<string, unknown>[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await allEvents(t.app, KEYS.read, query);
    } catch (err) {
      if (attempt >= 100 || !String(err).includes('GET /events: 503 ')) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Fails instead of hanging: on the code before the bound this read never answered. */
function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

test('a read waiting on a load that does not finish answers 503 READ_TIMEOUT + Retry-After, then sees everything', async () => {
  const original = t.store.sink.load;
  let release: () => void = () => {};
  const stuck = new Promise<void>((r) => {
    release = r;
  });
  t.store.sink.load = async (seg) => {
    await stuck;
    return original(seg);
  };
  try {
    const w = await t.app.inject({
      method: 'POST',
      url: '/v1/track',
      headers: { authorization: basic(KEYS.write) },
      payload: { userId: 'u', event: 'Stuck', messageId: 'stuck-1' },
    });
    assert.equal(w.statusCode, 200);
    const started = Date.now();
    // The load is stuck until released: a 503 READ_TIMEOUT is the bound at work, whatever the machine's speed.
    const r = await within(
      60_000,
      t.app.inject({ method: 'GET', url: '/events', headers: { authorization: bearer(KEYS.read) } }),
    );
    const took = Date.now() - started;
    assert.equal(r.statusCode, 503);
    assert.equal(r.headers['retry-after'], '1');
    assert.equal(r.json().code, 'INTAKE_ERR_READ_TIMEOUT');
    assert.ok(took >= 250, `answered after ${took} ms: it waited for --read-wait-ms 300`);
  } finally {
    t.store.sink.load = original;
    release();
  }
  // The load was not abandoned: once the store answers, the event is there.
  const ids = (await eventsOnceLoaded()).map((e) => e.messageId);
  assert.deepEqual(ids, ['stuck-1']);
});

test('a read whose load fails answers 503 STORE_UNAVAILABLE with Retry-After too', async () => {
  const original = t.store.sink.load;
  t.store.sink.load = () => Promise.reject(new Error('disk on fire'));
  try {
    const w = await t.app.inject({
      method: 'POST',
      url: '/v1/track',
      headers: { authorization: basic(KEYS.write) },
      payload: { userId: 'u', event: 'Failing', messageId: 'failing-1' },
    });
    assert.equal(w.statusCode, 200);
    const r = await t.app.inject({
      method: 'GET',
      url: '/events',
      headers: { authorization: bearer(KEYS.read) },
    });
    assert.equal(r.statusCode, 503);
    assert.equal(r.json().code, 'INTAKE_ERR_STORE_UNAVAILABLE');
    assert.equal(r.headers['retry-after'], '1');
  } finally {
    t.store.sink.load = original;
  }
  assert.equal((await eventsOnceLoaded('event=Failing')).length, 1);
});
