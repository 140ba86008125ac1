// posthog-js in a real Chromium: a site loads the SDK from itself with `api_host` at Intake. The page must see
// no error answer (remote config, flags, capture), the SDK must report no flag errors, and the anonymous
// part of the visit must join the identified user.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { allEvents, bearer, KEYS, startTestApp, type TestApp } from '../helpers.ts';
import { launchChromium, pageServer, skipWithoutChromium, watchedTab } from './browser.ts';

const DIST = join(dirname(createRequire(import.meta.url).resolve('posthog-js/package.json')), 'dist');

/**
 * The site: loads a posthog-js browser build and records what its flag callbacks were told. `array.js` is
 * the build PostHog's snippet loads (it fetches /array/<token>/config.js); `array.no-external.js` cannot load
 * scripts, so it fetches the JSON /array/<token>/config instead.
 */
function site(intakeUrl: string) {
  const page = (bundle: string, extra = '') => `<!doctype html><html><head><title>Shop</title>
<script src="/${bundle}"></script>
<script>
  window.flagLoads = [];
  posthog.init(${JSON.stringify(KEYS.write)}, {
    api_host: ${JSON.stringify(intakeUrl)},
    // The SDK logs its errors (a failed config or flags load) only in debug mode; the test fails on them.
    debug: true,
    // Send each event within 100 ms instead of every 3 s; no $pageleave when the test closes the tab.
    request_queue_config: { flush_interval_ms: 100 },
    capture_pageleave: false,
    // Headless Chromium says so in its user agent, and posthog-js drops bots' events unless told not to.
    opt_out_useragent_filter: true,${extra}
  });
  posthog.onFeatureFlags((flags, variants, ctx) => window.flagLoads.push({ flags, errorsLoading: ctx.errorsLoading }));
  window.run = () => {
    const anonymousId = posthog.get_distinct_id();
    posthog.capture('clicked buy', { plan: 'pro' });
    posthog.identify('real-user', { email: 'real@example.com' });
    posthog.capture('purchased', { total: 42 });
    return { anonymousId, deviceId: posthog.get_property('$device_id') };
  };
</script></head><body>shop</body></html>`;
  const js = 'text/javascript';
  const html = 'text/html; charset=utf-8';
  return pageServer({
    '/array.js': [js, readFileSync(join(DIST, 'array.js'))],
    '/array.no-external.js': [js, readFileSync(join(DIST, 'array.no-external.js'))],
    '/shop': [html, page('array.js')],
    // This build has no surveys code and, unless told, logs an error for that on every load, whatever the
    // server answers.
    '/shop-no-external': [html, page('array.no-external.js', ' disable_surveys: true,')],
    '/favicon.ico': ['image/x-icon', ''],
  });
}

const props = (e: Record<string, unknown> | undefined) => (e?.properties ?? {}) as Record<string, unknown>;

async function user(t: TestApp, id: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await t.app.inject({
    method: 'GET',
    url: `/users/${encodeURIComponent(id)}`,
    headers: { authorization: bearer(KEYS.read) },
  });
  return { status: res.statusCode, body: res.json() };
}

/** The person's events (every linked id) once there are `n` of them, or the timeout passed. */
async function journey(
  t: TestApp,
  userId: string,
  n: number,
  timeoutMs: number,
): Promise<Record<string, unknown>[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await t.app.inject({
      method: 'GET',
      url: `/users/${encodeURIComponent(userId)}/events?limit=100`,
      headers: { authorization: bearer(KEYS.read) },
    });
    const events = res.statusCode === 200 ? (res.json().results as Record<string, unknown>[]) : [];
    if (events.length >= n || Date.now() > deadline) return events;
    await new Promise((r) => setTimeout(r, 100));
  }
}

for (const [bundle, path, configUrl] of [
  ['array.js', '/shop', `/array/${KEYS.write}/config.js`],
  ['array.no-external.js', '/shop-no-external', `/array/${KEYS.write}/config`],
] as const) {
  test(`posthog-js (${bundle}) in Chromium: no error answers, no flag errors, one person from anonymous to identified`, {
    skip: skipWithoutChromium,
    timeout: 60_000,
  }, async () => {
    const t = await startTestApp();
    await t.listen();
    const pages = await site(t.url as string);
    const browser = await launchChromium();
    try {
      const { tab, errors, elsewhere, failed } = await watchedTab(browser, [pages.url, t.url as string]);
      const requested: string[] = [];
      tab.on('request', (r) => {
        if (r.url().startsWith(t.url as string))
          requested.push(`${r.method()} ${r.url().slice((t.url as string).length)}`);
      });
      await tab.goto(`${pages.url}${path}`);
      await tab.waitForFunction('window.posthog && window.posthog.__loaded');
      const { anonymousId, deviceId } = (await tab.evaluate('window.run()')) as {
        anonymousId: string;
        deviceId: string;
      };
      assert.match(anonymousId, /^[0-9a-f-]{36}$/, 'posthog-js starts with a random uuid');
      assert.equal(deviceId, anonymousId);

      // identify() changes the distinct id, so the SDK asks /flags again; its callback says whether that failed.
      await tab.waitForFunction('window.flagLoads.length > 0', undefined, { timeout: 10_000 });
      const events = await journey(t, 'real-user', 4, 15_000);
      const flagLoads = (await tab.evaluate('window.flagLoads')) as { errorsLoading: boolean }[];
      const flagErrors = await tab.evaluate("posthog.get_property('$feature_flag_errors')");

      assert.deepEqual(failed, [], 'error answers and failed requests the page saw');
      assert.deepEqual(elsewhere, [], 'requests that left the two local servers');
      assert.deepEqual(errors, [], 'browser console errors');
      assert.ok(
        requested.some((r) => r.startsWith(`GET ${configUrl}`)),
        `remote config fetched: ${requested.join(', ')}`,
      );
      assert.ok(
        requested.some((r) => r.startsWith('POST /flags/?v=2')),
        `flags asked: ${requested.join(', ')}`,
      );
      assert.ok(
        flagLoads.length > 0 && flagLoads.every((l) => l.errorsLoading === false),
        JSON.stringify(flagLoads),
      );
      assert.deepEqual(flagErrors, []);

      // Each call stored once: the $pageview, the two captures and the identify, nothing else.
      assert.deepEqual(events.map((e) => e.event ?? e.type).sort(), [
        'clicked buy',
        'identify',
        'page',
        'purchased',
      ]);
      // Before identify the random distinct_id is an anonymousId; identify links it to the user id.
      const byEvent = new Map(events.map((e) => [e.event ?? e.type, e]));
      const pageview = events.find((e) => e.type === 'page');
      assert.equal(pageview?.userId, null, 'the $pageview before identify has no userId');
      assert.equal(pageview?.anonymousId, anonymousId);
      assert.equal(byEvent.get('clicked buy')?.userId, null);
      assert.equal(byEvent.get('clicked buy')?.anonymousId, anonymousId);
      assert.deepEqual(props(byEvent.get('clicked buy')).plan, 'pro');
      const identify = byEvent.get('identify');
      assert.equal(identify?.userId, 'real-user');
      assert.equal(identify?.anonymousId, anonymousId);
      // $set, plus the $initial_* campaign properties posthog-js sends as $set_once.
      const traits = (identify?.traits ?? {}) as Record<string, unknown>;
      assert.equal(traits.email, 'real@example.com');
      assert.equal(traits.$initial_pathname, path);
      assert.equal(byEvent.get('purchased')?.userId, 'real-user');
      assert.equal(props(byEvent.get('purchased')).total, 42);

      const person = await user(t, 'real-user');
      assert.equal(person.status, 200, JSON.stringify(person.body));
      assert.equal(person.body.id, 'real-user', 'the person is named by the user id, not the random uuid');
      assert.deepEqual(person.body.userIds, ['real-user']);
      assert.deepEqual(person.body.anonymousIds, [anonymousId]);
      // Through GET /events: the anonymous part under the anonymousId, nothing under the random id as a userId.
      const anonymous = await allEvents(t.app, KEYS.read, `anonymousId=${anonymousId}`);
      assert.deepEqual(anonymous.map((e) => e.event ?? e.type).sort(), ['clicked buy', 'identify', 'page']);
      assert.deepEqual(await allEvents(t.app, KEYS.read, `userId=${anonymousId}`), []);
      const identified = await allEvents(t.app, KEYS.read, 'userId=real-user');
      assert.deepEqual(identified.map((e) => e.event ?? e.type).sort(), ['identify', 'purchased']);
    } finally {
      await browser.close();
      pages.server.close();
      await t.close();
    }
  });
}
