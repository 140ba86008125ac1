// Read-your-writes on an API node apart from the loaders (src/ingest/nats/acked-wait.ts), on real processes: an
// ingest node, a loader holding its messages 2 s before each load (--load-delay-ms 2000) and an API node, on a
// 3-node NATS cluster and a clickhouse-server. A client posts a batch to the ingest node and, right after the 2xx,
// reads from the API node: every event is there, every time (without the wait the first read answers 0: the
// loader has not loaded yet). Batches of one event leave three of the four partitions idle. With the loader
// down, a read answers 503 INTAKE_ERR_READ_TIMEOUT after the wait (not a hang), and 200 once it is back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { basic, bearer, KEYS, type ServerProcess } from '../helpers.ts';
import { roleNodes } from './nodes.ts';

const nodes = roleNodes('intake-cluster-ryw-');

test('an API node apart from the loaders reads every event acknowledged before the read', {
  skip: nodes.skip,
}, async () => {
  if (nodes.missing) throw new Error(nodes.missing); // under CI a missing engine fails
  const { start } = await nodes.cluster(2000);
  // The API node first: it makes the default workspace and its keys; the others find them in the store.
  const api = await start('api', 'api');
  const ingest = await start('ingest', 'ingest');
  let loader = await start('loader', 'loader');

  const total = async (node: ServerProcess, query = '') => {
    const res = await fetch(`${node.url}/events?limit=1${query}`, {
      headers: { authorization: bearer(KEYS.read) },
    });
    const body = (await res.json()) as { total: number; code?: string };
    return { status: res.status, total: body.total, code: body.code };
  };
  const post = async (batch: object[]) =>
    fetch(`${ingest.url}/v1/batch`, {
      method: 'POST',
      headers: { authorization: basic(KEYS.write), 'content-type': 'application/json' },
      body: JSON.stringify({ batch }),
    });

  // A read on a stream that never had a message answers at once (nothing to wait for).
  assert.deepEqual(await total(api), { status: 200, total: 0, code: undefined });

  // The ingest node needs the keys the API node made: it polls the store every second.
  for (let i = 0; i < 100; i++) {
    if ((await post([])).status !== 401) break;
    await new Promise((r) => setTimeout(r, 100));
  }

  let sent = 0;
  for (let round = 0; round < 8; round++) {
    // Odd rounds send one event: one partition gets a message, the three others stay idle.
    const size = round % 2 === 0 ? 40 : 1;
    const batch = Array.from({ length: size }, (_, i) => ({
      type: 'track',
      event: `Round ${round}`,
      userId: `u${i % 7}`,
      messageId: `r${round}-${i}`,
    }));
    const res = await post(batch);
    assert.equal(res.status, 200, await res.text());
    sent += size;
    // Three reads at once, right after the 2xx: each sees the batch and everything before it.
    const reads = await Promise.all([
      total(api),
      total(api, `&event=${encodeURIComponent(`Round ${round}`)}`),
      total(api),
    ]);
    assert.deepEqual(
      reads.map((r) => [r.status, r.total]),
      [
        [200, sent],
        [200, size],
        [200, sent],
      ],
      `round ${round}`,
    );
  }

  // The loader down: the stream keeps the batch; a read answers READ_TIMEOUT after the wait (an API node with
  // --read-wait-ms 1500), and reads answer again, with the batch, once a loader is back.
  loader.proc.kill('SIGKILL');
  await loader.exited;
  const shortWait = await start('api-short-wait', 'api', { INTAKE_READ_WAIT_MS: '1500' });
  const res = await post([{ type: 'track', event: 'Late', userId: 'u1', messageId: 'late' }]);
  assert.equal(res.status, 200);
  sent += 1;
  const began = Date.now();
  const timedOut = await total(shortWait);
  assert.equal(timedOut.status, 503);
  assert.equal(timedOut.code, 'INTAKE_ERR_READ_TIMEOUT');
  assert.ok(Date.now() - began >= 1400, 'answered after the wait, not at once');
  // A read waiting while the loader starts again: it answers once the loader loaded the batch.
  const waiting = total(api);
  loader = await start('loader', 'loader');
  assert.deepEqual(await waiting, { status: 200, total: sent, code: undefined });
  assert.equal((await total(shortWait)).total, sent);
});
