// The real posthog-node client against a listening server: gzip batches to /batch/, every event stored exactly
// once by its uuid, with its type, ids, properties and traits intact.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { after, before, test } from 'node:test';
import { PostHog } from 'posthog-node';
import { allEvents, KEYS, startTestApp, type TestApp } from '../helpers.ts';

let t: TestApp;
const requests: { url: string; encoding: string | undefined; type: string | undefined }[] = [];
before(async () => {
  t = await startTestApp();
  await t.listen();
  // Observe what the client really sends (an extra listener on the server only watches).
  t.app.server.on('request', (req: IncomingMessage) => {
    requests.push({
      url: req.url ?? '',
      encoding: req.headers['content-encoding'],
      type: req.headers['content-type'],
    });
  });
});
after(() => t.close());

test('posthog-node: captures, identify, alias and groupIdentify arrive gzip-batched and are stored once each', async () => {
  const errors: unknown[] = [];
  const client = new PostHog(KEYS.write, {
    host: t.url,
    flushAt: 10,
    maxBatchSize: 10,
    flushInterval: 50,
    fetchRetryCount: 1,
  });
  client.on('error', (e) => errors.push(e));

  const uuids = Array.from({ length: 25 }, () => randomUUID());
  const ts = new Date('2026-03-04T05:06:07.089Z');
  for (const [i, uuid] of uuids.entries()) {
    client.capture({
      distinctId: 'phn-user',
      event: 'item viewed',
      uuid,
      timestamp: ts,
      properties: { i, nested: { tags: ['a', 'b'], ok: true } },
    });
  }
  client.identify({
    distinctId: 'phn-user',
    properties: { email: 'p@example.com', $set_once: { signup: 'web' } },
  });
  client.alias({ distinctId: 'phn-user', alias: 'phn-old' });
  client.groupIdentify({ groupType: 'company', groupKey: 'acme', properties: { seats: 12 } });
  await client.shutdown(10_000);
  assert.deepEqual(errors, []);

  const batches = requests.filter((r) => r.url.startsWith('/batch'));
  assert.ok(batches.length >= 3, `batches of at most 10, got ${batches.length}`);
  for (const r of batches) {
    assert.equal(r.encoding, 'gzip');
    assert.equal(r.type, 'application/json');
  }

  const events = [
    ...(await allEvents(t.app, KEYS.read, 'userId=phn-user')),
    ...(await allEvents(t.app, KEYS.read, 'userId=%24company_acme')),
  ];
  assert.equal(events.length, 28);
  assert.equal(new Set(events.map((e) => e.messageId)).size, 28, 'each event once');

  const captures = events.filter((e) => e.type === 'track');
  assert.deepEqual(captures.map((e) => e.messageId).sort(), [...uuids].sort());
  for (const e of captures) {
    assert.equal(e.event, 'item viewed');
    assert.equal(e.source, 'posthog');
    const p = e.properties as { i: number; nested: unknown; $lib: string };
    assert.equal(e.messageId, uuids[p.i]);
    assert.deepEqual(p.nested, { tags: ['a', 'b'], ok: true });
    assert.equal(p.$lib, 'posthog-node');
    assert.equal((e.context as { library: { name: string } }).library.name, 'posthog-node');
    // The time as sent is kept; the event time is skew-corrected with sent_at, and the client's clock is
    // the server's here, so it stays within the time between sending and arrival of the original.
    assert.equal(e.originalTimestamp, ts.toISOString());
    assert.ok(Math.abs(Date.parse(String(e.timestamp)) - ts.getTime()) < 2000, String(e.timestamp));
  }

  const identify = events.find((e) => e.type === 'identify');
  assert.deepEqual(identify?.traits, { email: 'p@example.com', signup: 'web' });
  const alias = events.find((e) => e.type === 'alias');
  assert.equal(alias?.userId, 'phn-user');
  assert.equal(alias?.previousId, 'phn-old');
  const group = events.find((e) => e.type === 'group');
  assert.equal(group?.groupId, 'acme');
  assert.deepEqual(group?.traits, { seats: 12 });
});
