// The real @segment/analytics-node client against a listening server: every call is stored once, intact.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Analytics } from '@segment/analytics-node';
import { allEvents, KEYS, startTestApp, type TestApp } from '../helpers.ts';

let t: TestApp;
before(async () => {
  t = await startTestApp();
  await t.listen();
});
after(() => t.close());

test('analytics-node: identify, track, page, screen, group and alias are each stored exactly once', async () => {
  const errors: unknown[] = [];
  const analytics = new Analytics({
    writeKey: KEYS.write,
    host: t.url,
    flushAt: 3,
    flushInterval: 50,
    maxRetries: 1,
  });
  analytics.on('error', (e) => errors.push(e));
  const ts = new Date('2026-01-02T03:04:05.678Z');
  analytics.identify({ userId: 'u-1', traits: { email: 'a@example.com', plan: 'pro' }, timestamp: ts });
  analytics.track({
    userId: 'u-1',
    event: 'Order Completed',
    properties: { total: 42.5, items: [{ sku: 'x' }] },
  });
  analytics.page({
    anonymousId: 'anon-1',
    name: 'Pricing',
    category: 'Docs',
    properties: { path: '/pricing' },
  });
  analytics.screen({ userId: 'u-1', name: 'Home', properties: { tab: 1 } });
  analytics.group({ userId: 'u-1', groupId: 'g-1', traits: { name: 'Acme' } });
  analytics.alias({ userId: 'u-1', previousId: 'anon-1' });
  await analytics.closeAndFlush({ timeout: 10_000 });
  assert.deepEqual(errors, []);

  const events = await allEvents(t.app);
  assert.equal(events.length, 6);
  const byType = new Map(events.map((e) => [e.type, e]));
  assert.equal(new Set(events.map((e) => e.messageId)).size, 6, 'distinct messageIds');

  const identify = byType.get('identify');
  assert.ok(identify);
  assert.deepEqual(identify?.traits, { email: 'a@example.com', plan: 'pro' });
  assert.equal(identify?.originalTimestamp, ts.toISOString());
  assert.equal(identify?.source, 'segment');
  assert.equal(
    (identify.context as { library?: { name?: string } }).library?.name,
    '@segment/analytics-node',
  );
  assert.equal((identify.context as { ip?: string }).ip, '127.0.0.1');

  const track = byType.get('track');
  assert.equal(track?.event, 'Order Completed');
  assert.deepEqual(track?.properties, { total: 42.5, items: [{ sku: 'x' }] });
  assert.equal(track?.userId, 'u-1');

  const page = byType.get('page');
  assert.equal(page?.name, 'Pricing');
  assert.equal(page?.category, 'Docs');
  assert.equal(page?.anonymousId, 'anon-1');
  assert.equal((page?.properties as { path?: string } | undefined)?.path, '/pricing');

  assert.equal(byType.get('screen')?.name, 'Home');
  assert.equal(byType.get('group')?.groupId, 'g-1');
  assert.deepEqual(byType.get('group')?.traits, { name: 'Acme' });
  assert.equal(byType.get('alias')?.previousId, 'anon-1');

  // The SDK's own messageIds are kept, so its retries dedupe.
  for (const e of events) assert.match(String(e.messageId), /^[\w-]{10,}$/);
});
