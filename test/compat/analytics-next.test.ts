// analytics.js (@segment/analytics-next) in a real Chromium: a page on one origin loads the library with
// `cdnURL` pointing at Intake on another, fetches its settings from Intake, and every call is stored once.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { allEvents, KEYS, startTestApp, type TestApp } from '../helpers.ts';
import { launchChromium, pageServer as servePages, skipWithoutChromium, watchedTab } from './browser.ts';

const DIST = join(
  dirname(createRequire(import.meta.url).resolve('@segment/analytics-next/package.json')),
  'dist/umd',
);
// The library's two browser builds: index.js is window.AnalyticsNext.AnalyticsBrowser (load with cdnURL);
// standalone.js is what Segment's snippet loads (it reads the key and CDN from the snippet's stub).
const BUNDLE = join(DIST, 'index.js');
const STANDALONE = join(DIST, 'standalone.js');

let t: TestApp;
before(async () => {
  t = await startTestApp();
  await t.listen();
});
after(() => t.close());

describe('GET /v1/projects/:writeKey/settings', () => {
  const get = (key: string, headers: Record<string, string> = {}) =>
    t.app.inject({ method: 'GET', url: `/v1/projects/${key}/settings`, headers });

  test('a write key gets the settings that send analytics.js events here, and nothing to Segment', async () => {
    const res = await get(KEYS.write, { host: 'intake.example:8080', origin: 'http://shop.example' });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.deepEqual(body.integrations, {
      'Segment.io': {
        apiKey: KEYS.write,
        apiHost: 'intake.example:8080/v1',
        protocol: 'http',
        addBundledMetadata: false,
      },
    });
    assert.deepEqual(body.metrics, { sampleRate: 0 });
    assert.deepEqual(body.remotePlugins, []);
    assert.equal(res.headers['access-control-allow-origin'], 'http://shop.example');
  });

  test('unknown keys, and read or admin keys, are 404 alike', async () => {
    for (const key of ['no-such-key', KEYS.read, KEYS.admin]) {
      const res = await get(key);
      assert.equal(res.statusCode, 404, key);
      assert.equal(res.json().code, 'INTAKE_ERR_NOT_FOUND');
      assert.equal(res.json().message, 'no such write key');
    }
  });

  test('CORS preflight admits the request analytics.js sends (POST with Authorization)', async () => {
    const res = await t.app.inject({
      method: 'OPTIONS',
      url: '/v1/t',
      headers: {
        origin: 'http://shop.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type,x-retry-count',
      },
    });
    assert.equal(res.statusCode, 204);
    assert.equal(res.headers['access-control-allow-origin'], 'http://shop.example');
    assert.match(String(res.headers['access-control-allow-methods']), /POST/);
    assert.match(String(res.headers['access-control-allow-headers']), /authorization/i);
  });
});

/** A page on its own origin that loads analytics.js from itself and points its cdnURL at Intake. */
function pageServer(intakeUrl: string) {
  const pricing = `<!doctype html><html><head><title>Pricing</title>
<script src="/analytics-next.js"></script>
<script>
  window.run = async () => {
    const [analytics] = await AnalyticsNext.AnalyticsBrowser.load({
      writeKey: ${JSON.stringify(KEYS.write)},
      cdnURL: ${JSON.stringify(intakeUrl)},
    });
    const calls = [
      await analytics.identify('u-1', { email: 'a@example.com', plan: 'pro' }),
      await analytics.track('Order Completed', { total: 42.5, items: [{ sku: 'x' }] }),
      await analytics.page('Docs', 'Pricing', { plan: 'team' }),
      await analytics.group('g-1', { name: 'Acme' }),
      await analytics.alias('u-1', 'anon-1'),
    ];
    return {
      userAgent: navigator.userAgent,
      sent: calls.map((ctx) => ({
        messageId: ctx.event.messageId,
        type: ctx.event.type,
        failed: ctx.failedDelivery() ? String(ctx.failedDelivery().reason) : null,
      })),
    };
  };
</script></head><body>shop</body></html>`;
  // Segment's snippet with its CDN (`_cdn`) set to Intake and the library hosted by the site itself. The
  // calls are buffered by the stub and replayed once the library has loaded its settings.
  const snippet = `<!doctype html><html><head><title>Signup</title>
<script>
  !function(){var analytics=window.analytics=window.analytics||[];if(analytics.initialize)return;
  analytics.methods=["identify","track","page","group","alias","ready","reset","on","off","once","screen"];
  analytics.factory=function(m){return function(){var a=Array.prototype.slice.call(arguments);a.unshift(m);
  analytics.push(a);return analytics}};for(var i=0;i<analytics.methods.length;i++){var k=analytics.methods[i];
  analytics[k]=analytics.factory(k)}analytics._writeKey=${JSON.stringify(KEYS.write)};
  analytics._cdn=${JSON.stringify(intakeUrl)};analytics.SNIPPET_VERSION="5.2.0"}();
  analytics.identify('u-2', { email: 'b@example.com' });
  analytics.track('Signed Up', { plan: 'free' });
  analytics.page('Signup');
  analytics.group('g-2', { name: 'Initech' });
  analytics.alias('u-2', 'anon-2');
</script>
<script src="/standalone.js"></script></head><body>signup</body></html>`;
  const html = 'text/html; charset=utf-8';
  return servePages({
    '/analytics-next.js': ['text/javascript', readFileSync(BUNDLE)],
    '/standalone.js': ['text/javascript', readFileSync(STANDALONE)],
    '/signup': [html, snippet],
    '/pricing': [html, pricing],
  });
}

/** The user's events once there are `n` of them (or the timeout passed). */
async function eventsWhen(userId: string, n: number, timeoutMs: number): Promise<Record<string, unknown>[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const events = await allEvents(t.app, KEYS.read, `userId=${userId}`);
    if (events.length >= n || Date.now() > deadline) return events;
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('analytics-next in Chromium: identify, track, page, group and alias are each stored once, intact', {
  skip: skipWithoutChromium,
  timeout: 60_000,
}, async () => {
  const page = await pageServer(t.url as string);
  const browser = await launchChromium();
  try {
    // Anything not for the two local servers (Segment's CDN, api.segment.io metrics) is recorded and refused.
    const { tab, errors, elsewhere } = await watchedTab(browser, [page.url, t.url as string]);

    await tab.goto(`${page.url}/pricing?ref=ad`);
    const { userAgent, sent } = (await tab.evaluate('window.run()')) as {
      userAgent: string;
      sent: Array<{ messageId: string; type: string; failed: string | null }>;
    };
    assert.deepEqual(
      sent.map((s) => [s.type, s.failed]),
      [
        ['identify', null],
        ['track', null],
        ['page', null],
        ['group', null],
        ['alias', null],
      ],
    );

    const events = await eventsWhen('u-1', 5, 10_000);
    // Exactly once each: the browser's own messageIds, no more, no fewer.
    assert.deepEqual(events.map((e) => e.messageId).sort(), sent.map((s) => s.messageId).sort());
    const byType = new Map(events.map((e) => [e.type, e]));

    const identify = byType.get('identify');
    assert.equal(identify?.userId, 'u-1');
    assert.deepEqual(identify?.traits, { email: 'a@example.com', plan: 'pro' });
    assert.equal(identify?.source, 'segment');

    const track = byType.get('track');
    assert.equal(track?.event, 'Order Completed');
    assert.equal(track?.userId, 'u-1');
    assert.deepEqual(track?.properties, { total: 42.5, items: [{ sku: 'x' }] });

    const pageview = byType.get('page');
    assert.equal(pageview?.name, 'Pricing');
    assert.equal(pageview?.category, 'Docs');
    const props = pageview?.properties as Record<string, unknown>;
    assert.equal(props.plan, 'team');
    assert.equal(props.url, `${page.url}/pricing?ref=ad`);
    assert.equal(props.title, 'Pricing');

    const group = byType.get('group');
    assert.equal(group?.groupId, 'g-1');
    assert.deepEqual(group?.traits, { name: 'Acme' });

    const alias = byType.get('alias');
    assert.equal(alias?.userId, 'u-1');
    assert.equal(alias?.previousId, 'anon-1');

    for (const e of events) {
      const ctx = e.context as Record<string, Record<string, unknown> | string>;
      assert.equal(ctx.userAgent, userAgent, `${e.type} context.userAgent`);
      assert.deepEqual(
        ctx.page,
        {
          path: '/pricing',
          referrer: '',
          search: '?ref=ad',
          title: 'Pricing',
          url: `${page.url}/pricing?ref=ad`,
        },
        `${e.type} context.page`,
      );
      assert.equal((ctx.library as Record<string, unknown>).name, 'analytics.js');
      assert.equal(ctx.ip, '127.0.0.1');
      // Enriched from the user agent; a loopback address has no location.
      assert.match(String((ctx.browser as Record<string, unknown>)?.name), /Chrom/);
      assert.deepEqual(ctx.device, { type: 'desktop' });
      assert.equal(ctx.location, undefined);
    }
    assert.deepEqual(elsewhere, [], 'requests that left the two local servers');
    assert.deepEqual(errors, [], 'browser console errors');
  } finally {
    await browser.close();
    page.server.close();
  }
});

test("analytics.js through Segment's snippet (standalone build, _cdn at Intake): every call stored once", {
  skip: skipWithoutChromium,
  timeout: 60_000,
}, async () => {
  const page = await pageServer(t.url as string);
  const browser = await launchChromium();
  try {
    const { tab, errors, elsewhere } = await watchedTab(browser, [page.url, t.url as string]);
    await tab.goto(`${page.url}/signup`);

    const events = await eventsWhen('u-2', 5, 15_000);
    // Give a duplicate (a retry after a lost answer) time to arrive before counting.
    await new Promise((r) => setTimeout(r, 500));
    const again = await allEvents(t.app, KEYS.read, 'userId=u-2');
    assert.equal(again.length, 5, JSON.stringify(again.map((e) => e.type)));
    assert.deepEqual(events.map((e) => e.type).sort(), ['alias', 'group', 'identify', 'page', 'track']);
    const byType = new Map(events.map((e) => [e.type, e]));
    assert.deepEqual(byType.get('identify')?.traits, { email: 'b@example.com' });
    assert.equal(byType.get('track')?.event, 'Signed Up');
    assert.deepEqual(byType.get('track')?.properties, { plan: 'free' });
    assert.equal(byType.get('page')?.name, 'Signup');
    assert.equal(byType.get('group')?.groupId, 'g-2');
    assert.equal(byType.get('alias')?.previousId, 'anon-2');
    const userAgent = (await tab.evaluate('navigator.userAgent')) as string;
    for (const e of events) {
      const ctx = e.context as Record<string, Record<string, unknown> | string>;
      assert.equal(ctx.userAgent, userAgent);
      assert.equal((ctx.page as Record<string, unknown>).url, `${page.url}/signup`);
      assert.equal((ctx.library as Record<string, unknown>).name, 'analytics.js');
    }
    assert.deepEqual(elsewhere, [], 'requests that left the two local servers');
    assert.deepEqual(errors, [], 'browser console errors');
  } finally {
    await browser.close();
    page.server.close();
  }
});
