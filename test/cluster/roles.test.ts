// The cluster as it runs in production, each role its own `intake start` process: two ingest nodes, a loader
// and an API node, on a real 3-node NATS cluster (R3) and a real clickhouse-server. A client sends batches to
// either ingest node and retries on the other when one fails; an ingest node and then the loader are SIGKILLed
// under load (the loader started again). Every acknowledged event is read back from the API node exactly once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { basic, bearer, KEYS } from '../helpers.ts';
import { roleNodes } from './nodes.ts';

const nodes = roleNodes('intake-cluster-roles-');

test('ingest, loader and api nodes: every acknowledged event stored once through an ingest node kill and a loader kill', {
  skip: nodes.skip,
}, async () => {
  if (nodes.missing) throw new Error(nodes.missing); // under CI a missing engine fails
  const { start } = await nodes.cluster(200);
  // The API node first: it makes the default workspace and its keys; the others find them in the store.
  const api = await start('api', 'api');
  const ingest = [await start('ingest-1', 'ingest'), await start('ingest-2', 'ingest')];
  let loader = await start('loader', 'loader');
  const alive = [true, true];

  // The roles hold: an ingest node does not answer reads, the API node takes no events.
  const read = await fetch(`${ingest[0]?.url}/events`, { headers: { authorization: bearer(KEYS.read) } });
  assert.equal(read.status, 404);
  const sendToApi = await fetch(`${api.url}/v1/batch`, {
    method: 'POST',
    headers: { authorization: basic(KEYS.write), 'content-type': 'application/json' },
    body: JSON.stringify({ batch: [{ type: 'track', event: 'x', userId: 'u' }] }),
  });
  assert.equal(sendToApi.status, 404);

  const acked = new Set<string>();
  let refused = 0;
  const send = async (b: number) => {
    const batch = Array.from({ length: 50 }, (_, i) => ({
      type: 'track',
      event: 'Clicked',
      userId: `u${i % 9}`,
      messageId: `m${b}-${i}`,
    }));
    // A client sends to one node and retries the same batch on the other, as SDKs behind a balancer do.
    for (let attempt = 0; attempt < 40; attempt++) {
      const n = (b + attempt) % 2;
      if (!alive[n]) continue;
      try {
        const res = await fetch(`${ingest[n]?.url}/v1/batch`, {
          method: 'POST',
          headers: { authorization: basic(KEYS.write), 'content-type': 'application/json' },
          body: JSON.stringify({ batch }),
        });
        if (res.status === 200) {
          for (const e of batch) acked.add(e.messageId);
          return;
        }
        refused++;
      } catch {
        refused++;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`batch ${b} was never acknowledged`);
  };

  // The ingest nodes need the keys the API node made: they poll the store every second.
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${ingest[0]?.url}/v1/batch`, {
      method: 'POST',
      headers: { authorization: basic(KEYS.write), 'content-type': 'application/json' },
      body: JSON.stringify({ batch: [] }),
    });
    if (res.status !== 401) break;
    await new Promise((r) => setTimeout(r, 100));
  }

  for (let b = 0; b < 60; b++) {
    if (b === 20) {
      ingest[0]?.proc.kill('SIGKILL');
      alive[0] = false;
    }
    if (b === 40) {
      loader.proc.kill('SIGKILL');
      await loader.exited;
      loader = await start('loader', 'loader');
    }
    await send(b);
  }
  assert.equal(acked.size, 60 * 50);

  // The API node reads what the loader loaded: wait until it has everything, then check nothing is doubled.
  let total = 0;
  for (let i = 0; i < 300 && total < acked.size; i++) {
    const res = await fetch(`${api.url}/events?limit=1`, { headers: { authorization: bearer(KEYS.read) } });
    total = ((await res.json()) as { total: number }).total;
    if (total < acked.size) await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(
    total,
    acked.size,
    `stored ${total} of ${acked.size} acknowledged (${refused} attempts refused)`,
  );
  const ids = new Set<string>();
  type Page = { results: Array<{ messageId: string }>; next: string | null };
  for (let after: string | null = null, pages = 0; pages < 100; pages++) {
    const url: string = `${api.url}/events?limit=1000&orderByField=receivedAt&orderByDirection=ASC${after ? `&after=${after}` : ''}`;
    const page = (await (await fetch(url, { headers: { authorization: bearer(KEYS.read) } })).json()) as Page;
    for (const e of page.results) {
      assert.ok(!ids.has(e.messageId), `${e.messageId} twice`);
      ids.add(e.messageId);
    }
    after = page.next;
    if (!after) break;
  }
  assert.deepEqual([...ids].sort(), [...acked].sort(), 'exactly the acknowledged events');
});
