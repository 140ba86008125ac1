// Group commit: many requests share one transaction, and a full queue answers 503 with Retry-After.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { basic, KEYS, startTestApp, type TestApp } from '../helpers.ts';

let t: TestApp;
before(async () => {
  t = await startTestApp({ queueLimit: 50, commitMaxEvents: 20 });
});
after(() => t.close());

const batch = (tag: string, n: number) => ({
  batch: Array.from({ length: n }, (_, i) => ({
    type: 'track',
    event: 'E',
    userId: 'q',
    messageId: `${tag}-${i}`,
  })),
});

test('concurrent requests are gathered into fewer transactions than requests', async () => {
  let writes = 0;
  const original = t.store.writeEvents;
  t.store.writeEvents = (b) => {
    writes++;
    return original(b);
  };
  try {
    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        t.app.inject({
          method: 'POST',
          url: '/v1/batch',
          headers: { authorization: basic(KEYS.write) },
          payload: batch(`g${i}`, 2),
        }),
      ),
    );
    for (const r of responses) assert.equal(r.statusCode, 200);
    assert.ok(writes < 10, `${writes} transactions for 10 requests`);
  } finally {
    t.store.writeEvents = original;
  }
});

test('over the queue bound the server answers 503 with Retry-After instead of growing memory', async () => {
  const responses = await Promise.all(
    Array.from({ length: 12 }, (_, i) =>
      t.app.inject({
        method: 'POST',
        url: '/v1/batch',
        headers: { authorization: basic(KEYS.write) },
        payload: batch(`o${i}`, 10),
      }),
    ),
  );
  const busy = responses.filter((r) => r.statusCode === 503);
  const ok = responses.filter((r) => r.statusCode === 200);
  assert.ok(busy.length > 0, 'some requests were refused');
  assert.ok(ok.length > 0, 'the queue still took what fits');
  assert.equal(ok.length + busy.length, 12);
  for (const r of busy) {
    assert.equal(r.headers['retry-after'], '1');
    assert.equal(r.json().code, 'INTAKE_ERR_OVERLOADED');
  }
  assert.equal(t.committer.pending, 0, 'the queue drained');
});

test('a failing write answers 503 and acknowledges nothing; the next write works', async () => {
  const original = t.store.writeEvents;
  t.store.writeEvents = () => Promise.reject(new Error('disk on fire'));
  try {
    const r = await t.app.inject({
      method: 'POST',
      url: '/v1/batch',
      headers: { authorization: basic(KEYS.write) },
      payload: batch('fail', 1),
    });
    assert.equal(r.statusCode, 503);
    assert.equal(r.json().code, 'INTAKE_ERR_STORE_UNAVAILABLE');
  } finally {
    t.store.writeEvents = original;
  }
  const r = await t.app.inject({
    method: 'POST',
    url: '/v1/batch',
    headers: { authorization: basic(KEYS.write) },
    payload: batch('fail', 1),
  });
  assert.equal(r.statusCode, 200);
  assert.equal(r.json().accepted, 1, 'the failed attempt stored nothing, so the retry is not a duplicate');
});
