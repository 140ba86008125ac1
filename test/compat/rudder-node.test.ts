// The real @rudderstack/rudder-sdk-node client against a listening server: gzip bodies sent as
// application/x-www-form-urlencoded to /v1/batch, and per-event sentAt/originalTimestamp used to correct
// the client's clock skew.
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { after, before, test } from 'node:test';
import Analytics from '@rudderstack/rudder-sdk-node';
import { allEvents, KEYS, startTestApp, type TestApp } from '../helpers.ts';

/** The server's clock runs 10 minutes ahead of this process's: as if the client's clock were 10 minutes slow. */
const SKEW_MS = 10 * 60_000;

let t: TestApp;
const requests: { url: string; encoding?: string; type?: string }[] = [];
before(async () => {
  t = await startTestApp({ now: () => new Date(Date.now() + SKEW_MS) });
  await t.listen();
  t.app.server.on('request', (req: IncomingMessage) => {
    requests.push({
      url: req.url ?? '',
      encoding: req.headers['content-encoding'],
      type: req.headers['content-type'],
    });
  });
});
after(() => t.close());

type TrackParams = Parameters<Analytics['track']>[0];

test('rudder-sdk-node: gzip batches are stored once each, and the event time is corrected for clock skew', async () => {
  const errors: unknown[] = [];
  const client = new Analytics(KEYS.write, {
    dataPlaneUrl: t.url,
    flushAt: 5,
    flushInterval: 50,
    logLevel: 'error',
    retryCount: 0,
    errorHandler: (e) => errors.push(e),
  });
  const hourAgo = new Date(Date.now() - 3_600_000);
  // originalTimestamp is when the event happened by the client's clock; the SDK stamps sentAt at flush.
  client.track({
    userId: 'rudder-1',
    event: 'Skewed',
    properties: { n: 1 },
    originalTimestamp: hourAgo,
  } as TrackParams);
  for (let i = 0; i < 7; i++) {
    client.track({ userId: 'rudder-1', event: 'Counted', properties: { i, deep: { list: [i] } } });
  }
  client.identify({ userId: 'rudder-1', traits: { email: 'r@example.com' } });
  await client.flush();
  await new Promise<void>((resolve, reject) => client.flush((err) => (err ? reject(err) : resolve())));
  // flush() settles for its own request; a batch the SDK sent by itself (flushAt) may still be in flight.
  let events = await allEvents(t.app, KEYS.read, 'userId=rudder-1');
  for (const end = Date.now() + 10_000; events.length < 9 && Date.now() < end; ) {
    await new Promise((r) => setTimeout(r, 50));
    events = await allEvents(t.app, KEYS.read, 'userId=rudder-1');
  }
  assert.deepEqual(errors, []);

  const batches = requests.filter((r) => r.url === '/v1/batch');
  assert.ok(batches.length >= 2, `several batches, got ${batches.length}`);
  for (const r of batches) {
    assert.equal(r.encoding, 'gzip');
    assert.match(String(r.type), /x-www-form-urlencoded/);
  }

  assert.equal(events.length, 9);
  assert.equal(new Set(events.map((e) => e.messageId)).size, 9, 'each stored once');
  const counted = events.filter((e) => e.event === 'Counted');
  assert.deepEqual(counted.map((e) => (e.properties as { i: number }).i).sort(), [0, 1, 2, 3, 4, 5, 6]);
  for (const e of counted) {
    const p = e.properties as { i: number; deep: unknown };
    assert.deepEqual(p.deep, { list: [p.i] });
  }
  const identify = events.find((e) => e.type === 'identify');
  assert.deepEqual(identify?.traits, { email: 'r@example.com' });

  const skewed = events.find((e) => e.event === 'Skewed') as Record<string, string>;
  assert.equal(skewed.originalTimestamp, hourAgo.toISOString(), 'the client time is kept as sent');
  assert.ok(skewed.sentAt, 'the per-event sentAt is stored');
  const receivedAt = Date.parse(skewed.receivedAt as string);
  const timestamp = Date.parse(skewed.timestamp as string);
  // Corrected: an hour before arrival by the server's clock, not an hour before the client's reading.
  assert.ok(
    Math.abs(timestamp - (receivedAt - 3_600_000)) < 2_000,
    `timestamp ${skewed.timestamp} ≈ receivedAt ${skewed.receivedAt} - 1 h`,
  );
  assert.ok(timestamp - hourAgo.getTime() > SKEW_MS - 2_000, 'not the uncorrected client time');
});
