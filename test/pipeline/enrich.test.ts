// Enrichment on the real bundled GeoLite2 database and the real ua-parser-js, then end to end through HTTP.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { UAParser } from 'ua-parser-js';
import type { EventRecord, JsonObject } from '../../src/core/event.ts';
import {
  anonymizeIp,
  Enricher,
  type EnrichPlan,
  type GeoReader,
  parseUserAgent,
} from '../../src/pipeline/enrich/index.ts';
import { allEvents, bearer, KEYS, startTestApp, type TestApp, tempDir, testGeoReader } from '../helpers.ts';

const CHROME =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';
const IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1';

// Read from the shipped database (geolite2-city-ipv4/-ipv6.mmdb, build 2026-06-17) with a scratch script:
// 128.101.101.101 is the University of Minnesota (MaxMind's own test address), 2a00:1450:4001:82a::200e
// a Google front end in Frankfurt, 8.8.8.8 resolves to the country only.
const MINNEAPOLIS = {
  country: 'US',
  region: 'Minnesota',
  city: 'Minneapolis',
  latitude: 44.9696,
  longitude: -93.2348,
  timezone: 'America/Chicago',
};
const FRANKFURT = {
  country: 'DE',
  region: 'Hesse',
  city: 'Frankfurt am Main',
  latitude: 50.1169,
  longitude: 8.6837,
  timezone: 'Europe/Berlin',
};

// src/pipeline/enrich/ua.ts's list: operating systems whose device type is desktop.
const DESKTOP = new Set(['Windows', 'macOS', 'Mac OS', 'Linux', 'Ubuntu', 'Chrome OS', 'Chromium OS']);

let geo: GeoReader;
before(async () => {
  geo = await testGeoReader();
});

describe('geo', () => {
  test('public IPv4 and IPv6 addresses resolve to their location in the shipped database', () => {
    assert.deepEqual(geo.lookup('128.101.101.101'), MINNEAPOLIS);
    assert.deepEqual(geo.lookup('2a00:1450:4001:82a::200e'), FRANKFURT);
    // IPv4-mapped IPv6 (what a dual-stack socket reports) is looked up as IPv4.
    assert.deepEqual(geo.lookup('::ffff:128.101.101.101'), MINNEAPOLIS);
  });

  test('fields the database lacks are left out, not empty', () => {
    const loc = geo.lookup('8.8.8.8');
    assert.equal(loc?.country, 'US');
    assert.equal(loc?.timezone, 'America/Chicago');
    assert.ok(loc && !('city' in loc) && !('region' in loc), JSON.stringify(loc));
  });

  test('loopback, private, link-local and unparsable addresses get no location and no error', () => {
    for (const ip of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.5.4',
      '192.168.1.1',
      '100.64.0.1',
      '169.254.1.1',
      '::1',
      '::',
      'fe80::1',
      'fe80::1%eth0',
      'fd12:3456::1',
      '::ffff:127.0.0.1',
      'not-an-ip',
      '1.2.3',
      '1.2.3.4, 5.6.7.8',
      '',
      42,
      null,
      undefined,
      { ip: '8.8.8.8' },
    ]) {
      assert.equal(geo.lookup(ip), null, String(ip));
    }
  });
});

describe('user agent', () => {
  test('desktop Chrome on Windows', () => {
    assert.deepEqual(parseUserAgent(CHROME), {
      browser: { name: 'Chrome', version: '124.0.0.0' },
      os: { name: 'Windows', version: '10' },
      deviceType: 'desktop',
    });
  });

  test('Safari on an iPhone', () => {
    assert.deepEqual(parseUserAgent(IPHONE), {
      browser: { name: 'Mobile Safari', version: '17.4' },
      os: { name: 'iOS', version: '17.4' },
      deviceType: 'mobile',
    });
  });

  test('the same browser, os and device type as the full ua-parser-js result', () => {
    const reference = (ua: string) => {
      const r = UAParser(ua);
      const type = r.device.type ?? (r.os.name && DESKTOP.has(r.os.name) ? 'desktop' : undefined);
      return [r.browser.name, r.browser.version, r.os.name, r.os.version, type];
    };
    for (const ua of [
      CHROME,
      IPHONE,
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
      'Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1',
      'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36',
      'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0',
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0',
      'Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36',
      'Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.0 Mobile/15E148 Safari/604.1',
      'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
      'curl/8.5.0',
      'analytics-node-next/latest',
      '',
    ]) {
      const info = parseUserAgent(ua);
      assert.deepEqual(
        [info.browser?.name, info.browser?.version, info.os?.name, info.os?.version, info.deviceType],
        reference(ua),
        ua,
      );
    }
  });

  test('a user agent that names nothing adds nothing', () => {
    assert.deepEqual(parseUserAgent('analytics-node-next/latest'), {});
  });
});

describe('IP anonymization', () => {
  test('IPv4 loses its last octet', () => {
    assert.equal(anonymizeIp('81.2.69.142'), '81.2.69.0');
    assert.equal(anonymizeIp('128.101.101.101'), '128.101.101.0');
    assert.equal(anonymizeIp('::ffff:81.2.69.142'), '81.2.69.0');
  });

  test('IPv6 keeps its first 48 bits', () => {
    assert.equal(anonymizeIp('2a00:1450:4001:82a::200e'), '2a00:1450:4001::');
    assert.equal(anonymizeIp('2001:0DB8:00aa:1:2:3:4:5'), '2001:db8:aa::');
    assert.equal(anonymizeIp('1::2:3:4:5:6:7'), '1:0:2::');
    assert.equal(anonymizeIp('2001:db8::1'), '2001:db8:0::');
    assert.equal(anonymizeIp('::1'), '::');
    assert.equal(anonymizeIp('fe80::1%eth0'), 'fe80:0:0::');
  });

  test('what is not an IP address cannot be anonymized', () => {
    assert.equal(anonymizeIp('1.2.3.4, 5.6.7.8'), null);
    assert.equal(anonymizeIp(''), null);
    assert.equal(anonymizeIp(1234), null);
  });
});

describe('Enricher', () => {
  const record = (context: JsonObject): EventRecord =>
    ({ event: { context }, json: { context: JSON.stringify(context) } }) as unknown as EventRecord;
  const DEFAULT: EnrichPlan = { geo: 'request-ip', anonymizeIp: false };
  let geoEnricher: Enricher;
  before(() => {
    geoEnricher = new Enricher(geo);
  });
  // Every result's JSON column must be exactly its context object (additions are spliced into the JSON).
  const enricher = {
    enrich(r: EventRecord, plan: EnrichPlan, ipFromRequest: boolean): EventRecord {
      const out = geoEnricher.enrich(r, plan, ipFromRequest);
      assert.equal(out.json.context, JSON.stringify(out.event.context));
      return out;
    },
  };

  test('adds location, browser, os and device type, and serializes the context again', () => {
    const r = enricher.enrich(record({ ip: '128.101.101.101', userAgent: IPHONE }), DEFAULT, true);
    const expected = {
      ip: '128.101.101.101',
      userAgent: IPHONE,
      location: MINNEAPOLIS,
      browser: { name: 'Mobile Safari', version: '17.4' },
      os: { name: 'iOS', version: '17.4' },
      device: { type: 'mobile' },
    };
    assert.deepEqual(r.event.context, expected);
    assert.deepEqual(JSON.parse(r.json.context), expected);
  });

  test('never overwrites what the client sent', () => {
    const sent = {
      ip: '128.101.101.101',
      userAgent: IPHONE,
      location: { city: 'Paris' },
      browser: { name: 'Custom' },
      os: { name: 'iPadOS', version: '18' },
      device: { type: 'ios', model: 'iPhone15,2' },
    };
    const r = enricher.enrich(record(sent), DEFAULT, true);
    assert.deepEqual(r.event.context, sent);
    // A device object without a type gets one, keeping its other fields.
    const r2 = enricher.enrich(record({ userAgent: IPHONE, device: { model: 'iPhone15,2' } }), DEFAULT, true);
    assert.deepEqual(r2.event.context.device, { model: 'iPhone15,2', type: 'mobile' });
  });

  test('a key the client sent as null is filled in, once', () => {
    const r = enricher.enrich(
      record({ ip: '128.101.101.101', userAgent: CHROME, browser: null }),
      DEFAULT,
      true,
    );
    assert.deepEqual(r.event.context.browser, { name: 'Chrome', version: '124.0.0.0' });
    assert.equal(r.json.context.split('"browser"').length, 2);
  });

  test('a client-set IP is located only when the request asks for it (enrichGeo)', () => {
    const clientIp = record({ ip: '128.101.101.101' });
    assert.equal(enricher.enrich(clientIp, DEFAULT, false).event.context.location, undefined);
    assert.deepEqual(
      enricher.enrich(clientIp, { geo: 'any-ip', anonymizeIp: false }, false).event.context.location,
      MINNEAPOLIS,
    );
    assert.equal(
      enricher.enrich(clientIp, { geo: 'off', anonymizeIp: false }, true).event.context.location,
      undefined,
    );
  });

  test('anonymizes after the lookup, and drops an IP it cannot anonymize', () => {
    const plan: EnrichPlan = { geo: 'request-ip', anonymizeIp: true };
    const r = enricher.enrich(record({ ip: '128.101.101.101' }), plan, true);
    assert.deepEqual(r.event.context, { ip: '128.101.101.0', location: MINNEAPOLIS });
    const bad = enricher.enrich(record({ ip: 'unknown', app: 'x' }), plan, false);
    assert.deepEqual(JSON.parse(bad.json.context), { app: 'x' });
    const v6 = enricher.enrich(record({ userAgent: IPHONE, ip: '2a00:1450:4001:82a::200e' }), plan, true);
    assert.deepEqual(v6.event.context, {
      userAgent: IPHONE,
      ip: '2a00:1450:4001::',
      location: FRANKFURT,
      browser: { name: 'Mobile Safari', version: '17.4' },
      os: { name: 'iOS', version: '17.4' },
      device: { type: 'mobile' },
    });
  });

  test('anonymizes the address wherever it is in the context, nested look-alikes untouched', () => {
    const plan: EnrichPlan = { geo: 'off', anonymizeIp: true };
    const nested = { ip: '128.101.101.101', x: ',"ip":"128.101.101.101"}' };
    for (const [sent, expected] of [
      [{ ip: '81.2.69.142' }, { ip: '81.2.69.0' }],
      [
        { ip: '81.2.69.142', a: 1 },
        { ip: '81.2.69.0', a: 1 },
      ],
      [
        { a: 1, ip: '81.2.69.142' },
        { a: 1, ip: '81.2.69.0' },
      ],
      [
        { a: 1, ip: '81.2.69.142', b: { ip: '81.2.69.142' } },
        { a: 1, ip: '81.2.69.0', b: { ip: '81.2.69.142' } },
      ],
      [
        { a: { ip: '81.2.69.142' }, ip: '81.2.69.142' },
        { a: { ip: '81.2.69.142' }, ip: '81.2.69.0' },
      ],
      [
        { n: nested, ip: '128.101.101.101' },
        { n: nested, ip: '128.101.101.0' },
      ],
      [
        { ip: '2a00:1450:4001:82a::200e', app: 'x' },
        { ip: '2a00:1450:4001::', app: 'x' },
      ],
      [{ ip: 'unknown' }, {}],
      [{ ip: 'unknown', a: 1 }, { a: 1 }],
      [{ a: 1, ip: 'x"y' }, { a: 1 }],
      [{ a: 1, ip: 7 }, { a: 1 }],
      [
        { a: 1, ip: '1.2.3.4', b: 2 },
        { a: 1, ip: '1.2.3.0', b: 2 },
      ],
    ] as const) {
      const r = enricher.enrich(record(sent), plan, true);
      assert.deepEqual(r.event.context, expected);
      assert.deepEqual(JSON.parse(r.json.context), expected);
    }
  });

  test('returns the same record when there is nothing to add', () => {
    const r = record({ ip: '10.0.0.1', library: { name: 'x' } });
    assert.equal(enricher.enrich(r, DEFAULT, true), r);
    assert.equal(
      enricher.enrich(r, { geo: 'request-ip', anonymizeIp: true }, true).event.context.ip,
      '10.0.0.0',
    );
  });
});

describe('through the HTTP API', () => {
  let t: TestApp;
  const dataDir = tempDir();
  before(async () => {
    // The proxy at 127.0.0.1 (app.inject's address) is trusted, so X-Forwarded-For is the client's address.
    t = await startTestApp({ dataDir, geo: await testGeoReader(), trustProxy: ['127.0.0.1'] });
  });
  after(async () => {
    await t.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const track = (messageId: string, forwardedFor: string, context: JsonObject = {}) =>
    t.app.inject({
      method: 'POST',
      url: '/v1/track',
      headers: { authorization: bearer(KEYS.write), 'x-forwarded-for': forwardedFor },
      payload: { userId: 'u-1', event: 'Viewed', messageId, context: { userAgent: CHROME, ...context } },
    });
  const patch = (id: string, body: unknown, key: string = KEYS.admin) =>
    t.app.inject({
      method: 'PATCH',
      url: `/admin/workspaces/${id}/settings`,
      headers: { authorization: bearer(key) },
      payload: body as object,
    });
  const byMessageId = async () =>
    new Map((await allEvents(t.app)).map((e) => [e.messageId, e.context as JsonObject]));

  test('default settings: request IPs are located, client-set IPs are not, nothing is anonymized', async () => {
    assert.equal((await track('m-default', '128.101.101.101')).statusCode, 200);
    assert.equal((await track('m-client-ip', '128.101.101.101', { ip: '81.2.69.142' })).statusCode, 200);
    assert.equal((await track('m-local', '192.168.0.7')).statusCode, 200);
    const ctx = await byMessageId();
    assert.deepEqual(ctx.get('m-default'), {
      userAgent: CHROME,
      ip: '128.101.101.101',
      location: MINNEAPOLIS,
      browser: { name: 'Chrome', version: '124.0.0.0' },
      os: { name: 'Windows', version: '10' },
      device: { type: 'desktop' },
    });
    assert.equal(ctx.get('m-client-ip')?.ip, '81.2.69.142');
    assert.equal(ctx.get('m-client-ip')?.location, undefined);
    assert.equal(ctx.get('m-local')?.ip, '192.168.0.7');
    assert.equal(ctx.get('m-local')?.location, undefined);
  });

  test('PATCH settings: geo off and anonymization on apply to the next request and survive a restart', async () => {
    const ws = t.keys.findWorkspaceByName('default');
    assert.ok(ws);
    assert.deepEqual(ws.settings, { geo: true, anonymizeIp: false, timezone: 'UTC' });

    const res = await patch(ws.id, { geo: false, anonymizeIp: true });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json().settings, { geo: false, anonymizeIp: true, timezone: 'UTC' });
    assert.equal(res.json().id, ws.id);

    assert.equal((await track('m-v4', '128.101.101.101')).statusCode, 200);
    assert.equal((await track('m-v6', '2a00:1450:4001:82a::200e')).statusCode, 200);
    const ctx = await byMessageId();
    assert.equal(ctx.get('m-v4')?.ip, '128.101.101.0');
    assert.equal(ctx.get('m-v4')?.location, undefined);
    assert.equal(ctx.get('m-v6')?.ip, '2a00:1450:4001::');
    assert.equal(ctx.get('m-v6')?.location, undefined);
    // User-agent enrichment is not a setting: still there.
    assert.deepEqual(ctx.get('m-v4')?.browser, { name: 'Chrome', version: '124.0.0.0' });

    // Only the fields sent change.
    const geoBack = await patch(ws.id, { geo: true });
    assert.deepEqual(geoBack.json().settings, { geo: true, anonymizeIp: true, timezone: 'UTC' });
    assert.equal((await track('m-both', '128.101.101.101')).statusCode, 200);
    const both = (await byMessageId()).get('m-both');
    assert.equal(both?.ip, '128.101.101.0');
    assert.deepEqual(both?.location, MINNEAPOLIS, 'located before the address was anonymized');

    const list = await t.app.inject({
      method: 'GET',
      url: '/admin/workspaces',
      headers: { authorization: bearer(KEYS.admin) },
    });
    assert.deepEqual(list.json().results[0].settings, { geo: true, anonymizeIp: true, timezone: 'UTC' });

    // The settings are in the database, not only in memory.
    await t.close();
    t = await startTestApp({ dataDir, geo: await testGeoReader(), trustProxy: ['127.0.0.1'] });
    assert.deepEqual(t.keys.findWorkspaceByName('default')?.settings, {
      geo: true,
      anonymizeIp: true,
      timezone: 'UTC',
    });
  });

  test('PATCH settings refuses bad bodies, unknown workspaces and non-admin keys', async () => {
    const id = t.keys.findWorkspaceByName('default')?.id ?? '';
    const bad = await patch(id, { geo: 'perhaps' });
    assert.equal(bad.statusCode, 400, bad.body);
    assert.equal(bad.json().code, 'INTAKE_ERR_INVALID_BODY');
    const extra = await patch(id, { geo: true, tracking: false });
    assert.equal(extra.statusCode, 400, extra.body);
    const empty = await patch(id, {});
    assert.equal(empty.statusCode, 400, empty.body);
    const missing = await patch('no-such-workspace', { geo: false });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().code, 'INTAKE_ERR_NOT_FOUND');
    const read = await patch(id, { geo: false }, KEYS.read);
    assert.equal(read.statusCode, 403);
    assert.equal(read.json().code, 'INTAKE_ERR_WRONG_KEY_KIND');
    // None of them changed anything.
    assert.deepEqual(t.keys.settingsOf(id), { geo: true, anonymizeIp: true, timezone: 'UTC' });
  });
});
