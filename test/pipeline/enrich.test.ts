// Enrichment on the real bundled GeoLite2 database and the real ua-parser-js, then end to end through HTTP.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { BlockList } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Analytics } from '@segment/analytics-node';
import { PostHog } from 'posthog-node';
import { UAParser } from 'ua-parser-js';
import type { EventRecord, JsonObject } from '../../src/core/event.ts';
import {
  anonymizeIp,
  Enricher,
  type EnrichPlan,
  type GeoReader,
  isNonPublic,
  parseIp,
  parseUserAgent,
} from '../../src/pipeline/enrich/index.ts';
import { NON_PUBLIC_V4, NON_PUBLIC_V6 } from '../../src/pipeline/enrich/ip.ts';
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
// 81.2.69.142 is another of MaxMind's test addresses (this build places it in Bracknell).
const LONDON_AREA = {
  country: 'GB',
  region: 'England',
  city: 'Bracknell',
  latitude: 51.4036,
  longitude: -0.7618,
  timezone: 'Europe/London',
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

describe('non-public ranges', () => {
  // isNonPublic compares numbers; node:net's BlockList, which it replaced for speed, is the reference.
  const reference = new BlockList();
  for (const [net, prefix] of NON_PUBLIC_V4) reference.addSubnet(net, prefix, 'ipv4');
  for (const [net, prefix] of NON_PUBLIC_V6) reference.addSubnet(net, prefix, 'ipv6');

  test('the same answer as BlockList at every range edge and on random addresses', () => {
    let seed = 9;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
      return Math.floor((seed / 2 ** 31) * n);
    };
    const v4 = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
    const addresses: string[] = ['0.0.0.0', '255.255.255.255', '::', '::1', '::2', 'ffff::'];
    for (const [net, prefix] of NON_PUBLIC_V4) {
      const base = net.split('.').reduce((n, o) => n * 256 + Number(o), 0);
      const size = 2 ** (32 - prefix);
      for (const n of [base - 1, base, base + 1, base + size - 1, base + size]) {
        if (n >= 0 && n < 2 ** 32) addresses.push(v4(n));
      }
    }
    for (const h of [
      'fbff',
      'fc00',
      'fdff',
      'fe00',
      'fe7f',
      'fe80',
      'febf',
      'fec0',
      'feff',
      'ff00',
      'ffff',
    ]) {
      addresses.push(`${h}::`, `${h}:ffff:ffff:ffff:ffff:ffff:ffff:ffff`);
    }
    addresses.push('2001:db7:ffff::1', '2001:db8::', '2001:db8:ffff:ffff::1', '2001:db9::', '2001:0:db8::');
    for (let i = 0; i < 20_000; i++) {
      addresses.push(v4(rand(2 ** 32)));
      const groups = Array.from({ length: 8 }, () => rand(0x10000).toString(16));
      // Bias the first group towards the v6 ranges' neighbourhoods.
      if (i % 2) groups[0] = (0xfb00 + rand(0x500)).toString(16);
      if (i % 7 === 0) groups[0] = '2001';
      if (i % 14 === 0) groups[1] = (0xdb7 + rand(3)).toString(16);
      addresses.push(groups.join(':'));
    }
    for (const ip of addresses) {
      const p = parseIp(ip);
      assert.ok(p, ip);
      assert.equal(isNonPublic(p), reference.check(p.ip, p.family === 4 ? 'ipv4' : 'ipv6'), ip);
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
  const DEFAULT: EnrichPlan = { geo: true, anonymizeIp: false };
  let geoEnricher: Enricher;
  before(() => {
    geoEnricher = new Enricher(geo);
  });
  // Every result's JSON column must be exactly its context object (additions are spliced into the JSON).
  const enricher = {
    enrich(r: EventRecord, plan: EnrichPlan): EventRecord {
      const out = geoEnricher.enrich(r, plan);
      assert.equal(out.json.context, JSON.stringify(out.event.context));
      return out;
    },
  };

  test('adds location, browser, os and device type, and serializes the context again', () => {
    const r = enricher.enrich(record({ ip: '128.101.101.101', userAgent: IPHONE }), DEFAULT);
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
    const r = enricher.enrich(record(sent), DEFAULT);
    assert.deepEqual(r.event.context, sent);
    // A device object without a type gets one, keeping its other fields.
    const r2 = enricher.enrich(record({ userAgent: IPHONE, device: { model: 'iPhone15,2' } }), DEFAULT);
    assert.deepEqual(r2.event.context.device, { model: 'iPhone15,2', type: 'mobile' });
  });

  test('a key the client sent as null is filled in, once', () => {
    const r = enricher.enrich(record({ ip: '128.101.101.101', userAgent: CHROME, browser: null }), DEFAULT);
    assert.deepEqual(r.event.context.browser, { name: 'Chrome', version: '124.0.0.0' });
    assert.equal(r.json.context.split('"browser"').length, 2);
  });

  test('context.ip is located whoever set it, unless geo is off or the client sent a location', () => {
    // A backend forwarding its user's address: the enricher cannot tell it from the connection's, and
    // must not need to.
    const forwarded = record({ ip: '81.2.69.142', library: { name: 'analytics-node' } });
    assert.deepEqual(enricher.enrich(forwarded, DEFAULT).event.context.location, LONDON_AREA);
    assert.equal(
      enricher.enrich(forwarded, { geo: false, anonymizeIp: false }).event.context.location,
      undefined,
    );
    const located = record({ ip: '81.2.69.142', location: { city: 'Paris' } });
    assert.deepEqual(enricher.enrich(located, DEFAULT).event.context.location, { city: 'Paris' });
  });

  test('a value too long to be an address, or one without a location, is not cached', () => {
    // The cache is keyed by the raw value: 10,000 keys of up to 32 KiB each (the event limit) would be
    // hundreds of MB. A request IP was always short; a forwarded one is whatever the client wrote.
    const small = new Enricher(geo, { geoCacheSize: 4 });
    const cacheSize = () => (small as unknown as { geoCache: { size: number } }).geoCache.size;
    for (const ip of ['x'.repeat(20_000), `${'0'.repeat(100)}81.2.69.142`]) {
      const r = record({ ip });
      assert.equal(small.enrich(r, DEFAULT), r);
    }
    assert.equal(cacheSize(), 0);
    // Addresses without a location are not kept either: a stream of them would evict located ones.
    for (let i = 0; i < 10; i++) small.enrich(record({ ip: `10.0.0.${i}` }), DEFAULT);
    small.enrich(record({ ip: 'not-an-ip' }), DEFAULT);
    assert.equal(cacheSize(), 0);
    assert.deepEqual(
      small.enrich(record({ ip: '81.2.69.142' }), DEFAULT).event.context.location,
      LONDON_AREA,
    );
    assert.equal(cacheSize(), 1);
  });

  test('anonymizes after the lookup, and drops an IP it cannot anonymize', () => {
    const plan: EnrichPlan = { geo: true, anonymizeIp: true };
    const r = enricher.enrich(record({ ip: '128.101.101.101' }), plan);
    assert.deepEqual(r.event.context, { ip: '128.101.101.0', location: MINNEAPOLIS });
    const bad = enricher.enrich(record({ ip: 'unknown', app: 'x' }), plan);
    assert.deepEqual(JSON.parse(bad.json.context), { app: 'x' });
    const v6 = enricher.enrich(record({ userAgent: IPHONE, ip: '2a00:1450:4001:82a::200e' }), plan);
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
    const plan: EnrichPlan = { geo: false, anonymizeIp: true };
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
      const r = enricher.enrich(record(sent), plan);
      assert.deepEqual(r.event.context, expected);
      assert.deepEqual(JSON.parse(r.json.context), expected);
    }
  });

  test('returns the same record when there is nothing to add', () => {
    const r = record({ ip: '10.0.0.1', library: { name: 'x' } });
    assert.equal(enricher.enrich(r, DEFAULT), r);
    assert.equal(enricher.enrich(r, { geo: true, anonymizeIp: true }).event.context.ip, '10.0.0.0');
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

  test('default settings: request and client-set IPs are located, nothing is anonymized', async () => {
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
    assert.deepEqual(ctx.get('m-client-ip')?.location, LONDON_AREA, 'the address the client forwarded');
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

describe("server-side SDKs forwarding their users' addresses", () => {
  // A backend's events arrive from the backend's own address; the user's is in context.ip (Segment,
  // RudderStack) or properties.$ip (PostHog). That is the address to locate.
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ geo: await testGeoReader() });
    await t.listen();
  });
  after(() => t.close());

  const segmentTrack = async (messageId: string, context: JsonObject) => {
    const errors: unknown[] = [];
    const analytics = new Analytics({ writeKey: KEYS.write, host: t.url, maxRetries: 1 });
    analytics.on('error', (e) => errors.push(e));
    analytics.track({ userId: 'u-srv', event: 'Order Completed', messageId, context });
    await analytics.closeAndFlush({ timeout: 10_000 });
    assert.deepEqual(errors, []);
  };
  const contextOf = async (messageId: string) => {
    const [e] = await allEvents(t.app, KEYS.read, `messageId=${messageId}`);
    assert.ok(e, messageId);
    return e as { context: JsonObject; properties: JsonObject };
  };
  const settings = async (body: object) => {
    const id = t.keys.findWorkspaceByName('default')?.id ?? '';
    const res = await t.app.inject({
      method: 'PATCH',
      url: `/admin/workspaces/${id}/settings`,
      headers: { authorization: bearer(KEYS.admin) },
      payload: body,
    });
    assert.equal(res.statusCode, 200, res.body);
  };

  test('analytics-node with context.ip: located from that address, not the connection', async () => {
    await segmentTrack('srv-1', { ip: '81.2.69.142' });
    const { context } = await contextOf('srv-1');
    assert.equal(context.ip, '81.2.69.142');
    assert.deepEqual(context.location, LONDON_AREA);
    // The client's own location wins.
    await segmentTrack('srv-2', { ip: '81.2.69.142', location: { country: 'FR' } });
    assert.deepEqual((await contextOf('srv-2')).context.location, { country: 'FR' });
  });

  test('posthog-node with $ip: the address becomes context.ip and is located', async () => {
    const errors: unknown[] = [];
    const client = new PostHog(KEYS.write, { host: t.url, flushAt: 1, fetchRetryCount: 1 });
    client.on('error', (e) => errors.push(e));
    client.capture({
      distinctId: 'u-ph',
      event: 'order completed',
      uuid: '0192f0c5-7d1a-7000-8000-00000000ab01',
      properties: { $ip: '128.101.101.101', total: 42 },
    });
    await client.shutdown(10_000);
    assert.deepEqual(errors, []);
    const e = await contextOf('0192f0c5-7d1a-7000-8000-00000000ab01');
    assert.equal(e.context.ip, '128.101.101.101');
    assert.deepEqual(e.context.location, MINNEAPOLIS);
    // Moved, not copied: anonymization, which rewrites context.ip, must not leave the address here.
    assert.equal(e.properties.$ip, undefined);
    assert.equal(e.properties.total, 42);
  });

  test('anonymization applies after the lookup; geo off locates nothing', async () => {
    await settings({ anonymizeIp: true });
    await segmentTrack('srv-anon', { ip: '128.101.101.101' });
    const anon = (await contextOf('srv-anon')).context;
    assert.equal(anon.ip, '128.101.101.0');
    assert.deepEqual(anon.location, MINNEAPOLIS);

    await settings({ geo: false, anonymizeIp: false });
    await segmentTrack('srv-off', { ip: '128.101.101.101' });
    const off = (await contextOf('srv-off')).context;
    assert.equal(off.ip, '128.101.101.101');
    assert.equal(off.location, undefined);
  });
});
