// Allow-lists on their own: origin patterns and IP/CIDR matching, the latter checked against node:net's BlockList
// on random addresses and networks.
import assert from 'node:assert/strict';
import { BlockList } from 'node:net';
import { test } from 'node:test';
import fc from 'fast-check';
import { Access, normalizeAccess } from '../../src/auth/access.ts';
import { addressWords, IpList, normalizeIp } from '../../src/auth/ips.ts';
import { normalizeOrigin, OriginList } from '../../src/auth/origins.ts';
import { IntakeError } from '../../src/core/errors.ts';

const origins = (...patterns: string[]) => new OriginList(patterns.map(normalizeOrigin));

test('origin patterns are normalized as browsers serialize origins, bad ones say why', () => {
  assert.equal(normalizeOrigin(' HTTPS://App.Example.com/ '), 'https://app.example.com');
  assert.equal(normalizeOrigin('https://app.example.com:443'), 'https://app.example.com');
  assert.equal(normalizeOrigin('http://localhost:3000'), 'http://localhost:3000');
  assert.equal(normalizeOrigin('*.Example.com'), '*.example.com');
  assert.equal(normalizeOrigin('https://bücher.example'), 'https://xn--bcher-kva.example');
  assert.equal(normalizeOrigin('http://[::1]:8080'), 'http://[::1]:8080');
  assert.equal(normalizeOrigin('chrome-extension://abcdef'), 'chrome-extension://abcdef');
  for (const bad of [
    '*',
    'https://*',
    '*.com',
    'https://app.example.com/path',
    'https://app.*.example.com',
    'https://example.com:0',
    'https://example.com:70000',
    'https://user@example.com',
    'https://example.com?x=1',
    '',
    'https://',
    '*.127.0.0.1',
  ]) {
    assert.throws(() => normalizeOrigin(bad), Error, bad);
  }
});

test('origins: exact, scheme-less, wildcard subdomains at any depth, ports', () => {
  const list = origins(
    'https://app.example.com',
    'shop.example.org',
    '*.example.net',
    'http://localhost:3000',
  );
  for (const ok of [
    'https://app.example.com',
    'HTTPS://APP.EXAMPLE.COM',
    'https://shop.example.org',
    'http://shop.example.org',
    'https://a.example.net',
    'http://a.b.example.net',
    'https://a.example.net:443',
    'http://localhost:3000',
  ]) {
    assert.ok(list.allows(ok), ok);
  }
  for (const no of [
    'http://app.example.com', // the pattern names https
    'https://app.example.com:8443',
    'https://evil-app.example.com',
    'https://app.example.com.evil.com',
    'https://example.net', // the wildcard is subdomains only
    'https://evilexample.net',
    'https://a.example.net:8443',
    'ftp://shop.example.org',
    'http://localhost:3001',
    'https://localhost:3000',
    'null',
    '',
  ]) {
    assert.ok(!list.allows(no), no);
  }
  const wildPort = origins('https://*.example.com:8443');
  assert.ok(wildPort.allows('https://a.example.com:8443'));
  assert.ok(!wildPort.allows('https://a.example.com'));
});

test('IPs and CIDRs are normalized; bad ones say why', () => {
  assert.equal(normalizeIp(' 10.0.0.0/08 '), '10.0.0.0/8');
  assert.equal(normalizeIp('2001:DB8::/32'), '2001:db8::/32');
  assert.equal(normalizeIp('203.0.113.7'), '203.0.113.7');
  for (const bad of [
    '10.0.0.0/33',
    '::/129',
    '10.0.0',
    '10.0.0.0/-1',
    '10.0.0.0/',
    'fe80::1%eth0',
    'example.com',
  ]) {
    assert.throws(() => normalizeIp(bad), Error, bad);
  }
});

test('IP lists: IPv4 clients on a dual-stack socket match IPv4 rules, zones are ignored', () => {
  const list = new IpList(['10.0.0.0/8', '203.0.113.7', '2001:db8::/32', '::1'].map(normalizeIp));
  for (const ok of [
    '10.1.2.3',
    '::ffff:10.200.0.1',
    '203.0.113.7',
    '2001:db8:1::5',
    '::1',
    '2001:db8::1%eth0',
  ]) {
    assert.ok(list.allows(ok), ok);
  }
  for (const no of ['11.0.0.1', '203.0.113.8', '2001:db9::1', '::2', '127.0.0.1', 'not an ip', '', '1.2.3']) {
    assert.ok(!list.allows(no), no);
  }
  assert.ok(new IpList(['0.0.0.0/0']).allows('192.0.2.1'));
  assert.ok(!new IpList(['0.0.0.0/0']).allows('2001:db8::1'), 'an IPv4 rule never matches an IPv6 client');
  assert.ok(new IpList(['::/0']).allows('192.0.2.1'), '::/0 is every address');
});

const hex = (n: number) => n.toString(16);
const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
const v6 = fc
  .tuple(fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }), fc.nat(8), fc.nat(8), fc.boolean())
  .map(([g, at, zeros, compress]) => {
    // Some addresses have a run of zero groups, written with `::` half the time.
    const end = Math.min(8, at + zeros);
    const groups = g.map((x, i) => (i >= at && i < end ? 0 : x)).map(hex);
    if (!compress || end === at) return groups.join(':');
    return `${groups.slice(0, at).join(':')}::${groups.slice(end).join(':')}`;
  });

test('IP matching agrees with node:net BlockList on random addresses and networks', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.record({ family: fc.constant('ipv4' as const), net: v4, prefix: fc.nat(32), probe: v4 }),
        fc.record({ family: fc.constant('ipv6' as const), net: v6, prefix: fc.nat(128), probe: v6 }),
      ),
      fc.boolean(),
      ({ family, net, prefix, probe }, near) => {
        // Half the probes share the network's first bits, so both answers come up.
        const p = near
          ? net.slice(0, Math.floor(net.length / 2)) + probe.slice(Math.floor(probe.length / 2))
          : probe;
        const addr = addressWords(p, new Uint32Array(4)) ? p : probe;
        const reference = new BlockList();
        reference.addSubnet(net, prefix, family);
        const ours = new IpList([normalizeIp(`${net}/${prefix}`)]);
        assert.equal(ours.allows(addr), reference.check(addr, family), `${addr} in ${net}/${prefix}`);
      },
    ),
    { numRuns: 2000, seed: 9 },
  );
});

test('address parsing agrees with the node:net parser on what is an address', () => {
  const words = new Uint32Array(4);
  for (const [s, ok] of [
    ['1.2.3.4', true],
    ['01.2.3.4', false],
    ['256.1.1.1', false],
    ['1.2.3.4.5', false],
    ['::', true],
    ['::ffff:1.2.3.4', true],
    ['1::2::3', false],
    ['1:2:3:4:5:6:7:8', true],
    ['1:2:3:4:5:6:7:8:9', false],
    ['1:2:3:4:5:6:7::', true],
    ['::1:2:3:4:5:6:7:8', false],
    ['12345::', false],
    [':1::', false],
    ['1.2.3.4::', false],
  ] as const) {
    assert.equal(addressWords(s, words), ok, s);
  }
});

test('a key with no lists has no access check; bad patterns are a coded 400 naming the field', () => {
  assert.equal(Access.of({ allowedOrigins: [], allowedIps: [] }), null);
  const a = Access.of({ allowedOrigins: ['https://app.example.com'], allowedIps: ['10.0.0.0/8'] });
  assert.equal(a?.denial('https://app.example.com', '10.0.0.1'), null);
  assert.equal(a?.denial('https://app.example.com', '11.0.0.1'), 'INTAKE_ERR_IP_NOT_ALLOWED');
  assert.equal(a?.denial('https://evil.example', '10.0.0.1'), 'INTAKE_ERR_ORIGIN_NOT_ALLOWED');
  assert.equal(a?.denial(undefined, '10.0.0.1'), 'INTAKE_ERR_ORIGIN_NOT_ALLOWED');

  assert.throws(
    () => normalizeAccess(['ingest'], { allowedOrigins: ['https://ok.example', 'https://x/path'] }),
    (e: unknown) =>
      e instanceof IntakeError &&
      e.code === 'INTAKE_ERR_INVALID_BODY' &&
      /allowedOrigins\[1\]/.test(e.message),
  );
  assert.throws(
    () => normalizeAccess(['ingest'], { allowedIps: ['10.0.0.0/40'] }),
    (e: unknown) => e instanceof IntakeError && /allowedIps\[0\]/.test(e.message),
  );
  assert.throws(
    () => normalizeAccess(['read', 'query'], { rateLimit: { requests: { perSecond: 1, burst: 1 } } }),
    (e: unknown) => e instanceof IntakeError && /ingest scope/.test(e.message),
  );
  assert.deepEqual(normalizeAccess(['ingest'], { allowedIps: ['10.0.0.1', '10.0.0.1'] }), {
    allowedIps: ['10.0.0.1'],
  });
});
