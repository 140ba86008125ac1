// PostHog capture: /batch/, /capture/, /e/, /i/v0/e/ (with or without the slash), keys in api_key, token or
// properties.token, gzip with or without Content-Encoding (posthog-js ?compression=gzip-js), form bodies,
// the event-name mapping to Segment types, posthog-js's anonymous ids, and {"status": 1}.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { allEvents, bearer, KEYS, startTestApp, type TestApp } from '../helpers.ts';

let t: TestApp;
before(async () => {
  t = await startTestApp();
});
after(() => t.close());

const inject = (url: string, payload: string | Buffer, headers: Record<string, string> = {}) =>
  t.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json', ...headers }, payload });

/** A JSON column of a stored event, {} when the event is missing (the assertion then fails on its value). */
const field = (e: Record<string, unknown> | undefined, column: string) =>
  (e?.[column] ?? {}) as Record<string, unknown>;

const byUser = (id: string) => allEvents(t.app, KEYS.read, `userId=${encodeURIComponent(id)}`);

test('posthog-node style /batch/: every event type maps to its Segment type, fields intact', async () => {
  const ts = '2026-02-03T04:05:06.789Z';
  const batch = [
    {
      event: 'order placed',
      distinct_id: 'ph-1',
      uuid: 'u-track',
      timestamp: ts,
      properties: { total: 3, $lib: 'posthog-node', $lib_version: '5.0.0' },
    },
    {
      event: '$identify',
      distinct_id: 'ph-1',
      uuid: 'u-identify',
      timestamp: ts,
      properties: {
        $set: { email: 'x@example.com', plan: 'pro' },
        $set_once: { first_seen: 'mon', plan: 'free' },
        $anon_distinct_id: 'anon-9',
      },
    },
    {
      event: '$create_alias',
      distinct_id: 'ph-1',
      uuid: 'u-alias',
      timestamp: ts,
      properties: { distinct_id: 'ph-1', alias: 'old-id' },
    },
    {
      event: '$groupidentify',
      distinct_id: '$company_c1',
      uuid: 'u-group',
      timestamp: ts,
      properties: { $group_type: 'company', $group_key: 'c1', $group_set: { name: 'Acme' } },
    },
    {
      event: '$pageview',
      distinct_id: 'ph-1',
      uuid: 'u-page',
      timestamp: ts,
      properties: { $current_url: 'https://x.test/a', title: 'A' },
    },
    {
      event: '$screen',
      distinct_id: 'ph-1',
      uuid: 'u-screen',
      timestamp: ts,
      properties: { $screen_name: 'Home' },
    },
  ];
  const res = await inject('/batch/', gzipSync(JSON.stringify({ api_key: KEYS.write, batch })), {
    'content-encoding': 'gzip',
  });
  assert.equal(res.statusCode, 200, res.body);
  assert.deepEqual(res.json(), { status: 1 });

  const events = [...(await byUser('ph-1')), ...(await byUser('$company_c1'))];
  const byId = new Map(events.map((e) => [e.messageId, e]));
  assert.equal(events.length, 6);
  const track = byId.get('u-track');
  assert.equal(track?.type, 'track');
  assert.equal(track?.event, 'order placed');
  assert.equal(track?.timestamp, ts);
  assert.equal(track?.source, 'posthog');
  assert.equal(field(track, 'properties').total, 3);
  assert.deepEqual(field(track, 'context').library, {
    name: 'posthog-node',
    version: '5.0.0',
  });

  const identify = byId.get('u-identify');
  assert.equal(identify?.type, 'identify');
  assert.equal(identify?.anonymousId, 'anon-9');
  // $set wins; $set_once only fills what $set leaves unset.
  assert.deepEqual(identify?.traits, { email: 'x@example.com', plan: 'pro', first_seen: 'mon' });

  const alias = byId.get('u-alias');
  assert.equal(alias?.type, 'alias');
  assert.equal(alias?.userId, 'ph-1');
  assert.equal(alias?.previousId, 'old-id');

  const group = byId.get('u-group');
  assert.equal(group?.type, 'group');
  assert.equal(group?.groupId, 'c1');
  assert.deepEqual(group?.traits, { name: 'Acme' });
  assert.equal(field(group, 'properties').$group_type, 'company');

  assert.equal(byId.get('u-page')?.type, 'page');
  assert.equal(byId.get('u-page')?.name, 'A');
  assert.equal(byId.get('u-screen')?.type, 'screen');
  assert.equal(byId.get('u-screen')?.name, 'Home');
});

test('posthog-js style /e/?compression=gzip-js: gzip body as text/plain with no Content-Encoding, key in properties.token', async () => {
  const events = [
    {
      event: '$identify',
      uuid: 'js-0',
      properties: { distinct_id: 'js-user', $anon_distinct_id: 'js-anon', token: KEYS.write },
      $set: { email: 'js@example.com' },
      $set_once: { first_visit: '/x' },
    },
    {
      event: '$pageview',
      uuid: 'js-1',
      properties: { distinct_id: 'js-user', token: KEYS.write, $current_url: '/x' },
      timestamp: '2026-01-01T00:00:00.000Z',
    },
    {
      event: 'clicked',
      uuid: 'js-2',
      properties: { distinct_id: 'js-user', token: KEYS.write },
      offset: 5000,
    },
  ];
  const before = Date.now();
  const res = await inject(
    '/e/?ip=1&_=1767225600000&ver=1.200.0&compression=gzip-js',
    gzipSync(JSON.stringify(events)),
    {
      'content-type': 'text/plain',
    },
  );
  assert.equal(res.statusCode, 200, res.body);
  assert.deepEqual(res.json(), { status: 1 });
  const stored = await byUser('js-user');
  assert.deepEqual(stored.map((e) => e.messageId).sort(), ['js-0', 'js-1', 'js-2']);
  const identify = stored.find((e) => e.messageId === 'js-0');
  assert.equal(identify?.type, 'identify');
  assert.equal(identify?.anonymousId, 'js-anon');
  assert.deepEqual(
    identify?.traits,
    { email: 'js@example.com', first_visit: '/x' },
    'top-level $set/$set_once',
  );
  const clicked = stored.find((e) => e.messageId === 'js-2');
  assert.equal(field(clicked, 'properties').token, undefined, 'the key is not stored');
  // offset: 5 s before arrival.
  const at = Date.parse(String(clicked?.timestamp));
  assert.ok(
    at >= before - 5000 - 50 && at <= Date.now() - 5000 + 50,
    `offset applied: ${clicked?.timestamp}`,
  );
  // The `_` send time (2026-01-01T00:00:00Z, equal to the event time) corrects skew: stored ≈ arrival.
  const page = stored.find((e) => e.messageId === 'js-1');
  assert.ok(
    Math.abs(Date.parse(String(page?.timestamp)) - Date.now()) < 5000,
    `skew corrected: ${page?.timestamp}`,
  );
});

test('posthog-js base64 form body (data=...), single /capture/ events, and every path with and without the slash', async () => {
  const payload = {
    event: 'form-event',
    distinct_id: 'form-user',
    uuid: 'f-1',
    properties: { token: KEYS.write },
  };
  const b64 = Buffer.from(JSON.stringify(payload)).toString('base64');
  const form = await inject('/e/?compression=base64', `data=${encodeURIComponent(b64)}&compression=base64`, {
    'content-type': 'application/x-www-form-urlencoded',
  });
  assert.equal(form.statusCode, 200, form.body);
  assert.equal((await byUser('form-user')).length, 1);

  const paths = ['/batch/', '/batch', '/capture/', '/capture', '/e/', '/e', '/i/v0/e/', '/i/v0/e'];
  for (const [i, path] of paths.entries()) {
    const one = {
      api_key: KEYS.write,
      event: 'path-check',
      distinct_id: 'path-user',
      uuid: `p-${i}`,
      properties: {},
    };
    const res = await inject(path, JSON.stringify(one));
    assert.equal(res.statusCode, 200, `${path}: ${res.body}`);
    assert.deepEqual(res.json(), { status: 1 });
  }
  const viaToken = await inject(
    '/capture/',
    JSON.stringify({ token: KEYS.write, event: 'tok', distinct_id: 'path-user', uuid: 'p-tok' }),
  );
  assert.equal(viaToken.statusCode, 200);
  const stored = await byUser('path-user');
  assert.equal(stored.length, paths.length + 1);
});

test('retries are stored once by uuid; invalid events still answer {"status": 1} and are kept at /rejected', async () => {
  const body = JSON.stringify({
    api_key: KEYS.write,
    batch: [
      { event: 'dup', distinct_id: 'dup-user', uuid: 'd-1', properties: {} },
      { event: 'nobody', uuid: 'd-no-id', properties: {} },
      { distinct_id: 'dup-user', uuid: 'd-no-name' },
    ],
  });
  assert.deepEqual((await inject('/batch/', body)).json(), { status: 1 });
  assert.deepEqual((await inject('/batch/', body)).json(), { status: 1 });
  assert.equal((await byUser('dup-user')).length, 1);
  const rejected = await t.app.inject({
    method: 'GET',
    url: '/rejected?limit=100',
    headers: { authorization: bearer(KEYS.read) },
  });
  const ids = (rejected.json().results as { messageId: string }[]).map((r) => r.messageId);
  assert.ok(ids.includes('d-no-id') && ids.includes('d-no-name'));
});

test('keys: none or unknown is a 401, a read key a 403; a body of the wrong shape is a 400', async () => {
  const none = await inject('/batch/', JSON.stringify({ batch: [] }));
  assert.equal(none.statusCode, 401);
  assert.equal(none.json().code, 'INTAKE_ERR_UNAUTHORIZED');
  const unknown = await inject('/batch/', JSON.stringify({ api_key: 'phc_nope', batch: [] }));
  assert.equal(unknown.statusCode, 401);
  // PostHog's error fields beside Intake's.
  assert.equal(unknown.json().type, 'authentication_error');
  assert.equal(unknown.json().code, 'INTAKE_ERR_UNAUTHORIZED');
  assert.match(unknown.json().detail, /^Project API key invalid/);
  assert.equal(unknown.json().attr, null);
  const read = await inject('/batch/', JSON.stringify({ api_key: KEYS.read, batch: [] }));
  assert.equal(read.statusCode, 403);
  const shape = await inject('/capture/', JSON.stringify({ api_key: KEYS.write, hello: 1 }));
  assert.equal(shape.statusCode, 400);
  assert.equal(shape.json().code, 'INTAKE_ERR_INVALID_BODY');
  assert.equal(shape.json().type, 'validation_error');
  const notGzip = await inject('/e/?compression=gzip-js', Buffer.from([0x1f, 0x8b, 1, 2, 3]), {
    'content-type': 'text/plain',
  });
  assert.equal(notGzip.statusCode, 400);
  assert.equal(notGzip.json().code, 'INTAKE_ERR_BAD_ENCODING');
  const lz64 = await inject('/e/?compression=lz64', 'data=N4IgLgng', {
    'content-type': 'application/x-www-form-urlencoded',
  });
  assert.equal(lz64.statusCode, 415);
  assert.equal(lz64.json().code, 'INTAKE_ERR_UNSUPPORTED_ENCODING');
});

test('form bodies on capture: urlencoded JSON, base64 whose + arrived as spaces, base64 of gzip', async () => {
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const event = (uuid: string, extra = '') => ({
    event: 'form-kinds',
    distinct_id: 'form-kinds-user',
    uuid,
    properties: { token: KEYS.write, note: `ok?>${extra}` },
  });
  // A payload whose base64 holds a `+`, sent unescaped as some clients do: the form decoder reads it as a space.
  let plus = event('fk-plus');
  for (let i = 0; !Buffer.from(JSON.stringify(plus)).toString('base64').includes('+'); i++) {
    plus = event('fk-plus', '>'.repeat(i));
  }
  const unescaped = `data=${Buffer.from(JSON.stringify(plus)).toString('base64')}`;
  assert.ok(unescaped.includes('+'));
  const bodies = [
    `data=${encodeURIComponent(JSON.stringify(event('fk-json')))}`,
    unescaped,
    `data=${encodeURIComponent(gzipSync(JSON.stringify([event('fk-gzip')])).toString('base64'))}&compression=base64`,
  ];
  for (const body of bodies) {
    const res = await inject('/e/', body, form);
    assert.equal(res.statusCode, 200, `${body.slice(0, 40)}: ${res.body}`);
  }
  const stored = await byUser('form-kinds-user');
  assert.deepEqual(stored.map((e) => e.messageId).sort(), ['fk-gzip', 'fk-json', 'fk-plus']);
  assert.equal(
    field(
      stored.find((e) => e.messageId === 'fk-plus'),
      'properties',
    ).note,
    plus.properties.note,
  );
});

test('a posthog-js distinct_id before identify is an anonymousId; identify links it to the user id', async () => {
  const js = (event: string, uuid: string, props: Record<string, unknown>) => ({
    event,
    uuid,
    properties: { token: KEYS.write, $lib: 'web', ...props },
  });
  const anon = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';
  const events = [
    js('$pageview', 'a-1', { distinct_id: anon, $device_id: anon, $is_identified: false, title: 'Home' }),
    js('clicked', 'a-2', { distinct_id: anon, $device_id: anon, $is_identified: false }),
    js('$identify', 'a-3', {
      distinct_id: 'person-9',
      $anon_distinct_id: anon,
      $device_id: anon,
      $is_identified: true,
    }),
    js('bought', 'a-4', { distinct_id: 'person-9', $device_id: anon, $is_identified: true }),
    // A release from before $is_identified: the distinct_id is still the device id.
    js('old-sdk', 'a-5', { distinct_id: 'old-anon', $device_id: 'old-anon' }),
    // posthog.alias() before identify: the alias is the user id, the random id the previous one.
    js('$create_alias', 'a-6', { distinct_id: 'anon-3', alias: 'person-3', $is_identified: false }),
  ];
  const res = await inject('/e/', gzipSync(JSON.stringify(events)), { 'content-type': 'text/plain' });
  assert.equal(res.statusCode, 200, res.body);
  // posthog-node: a server-side distinct_id is a user id, as before.
  const node = await inject(
    '/batch/',
    JSON.stringify({ api_key: KEYS.write, batch: [{ event: 'server', distinct_id: 'node-9', uuid: 'a-7' }] }),
  );
  assert.equal(node.statusCode, 200, node.body);

  const byId = new Map(
    (await allEvents(t.app, KEYS.read, 'messageId=a-1'))
      .concat(
        ...(await Promise.all(
          ['a-2', 'a-3', 'a-4', 'a-5', 'a-6', 'a-7'].map((m) =>
            allEvents(t.app, KEYS.read, `messageId=${m}`),
          ),
        )),
      )
      .map((e) => [e.messageId, e]),
  );
  const ids = (m: string) => [byId.get(m)?.userId, byId.get(m)?.anonymousId];
  assert.deepEqual(ids('a-1'), [null, anon]);
  assert.deepEqual(ids('a-2'), [null, anon]);
  assert.deepEqual(ids('a-3'), ['person-9', anon]);
  assert.deepEqual(ids('a-4'), ['person-9', null]);
  assert.deepEqual(ids('a-5'), [null, 'old-anon']);
  assert.deepEqual(
    [byId.get('a-6')?.type, byId.get('a-6')?.userId, byId.get('a-6')?.previousId],
    ['alias', 'person-3', 'anon-3'],
  );
  assert.deepEqual(ids('a-7'), ['node-9', null]);
  assert.deepEqual(await byUser(anon), [], 'the random id is never a userId');

  const person = await t.app.inject({
    method: 'GET',
    url: '/users/person-9',
    headers: { authorization: bearer(KEYS.read) },
  });
  assert.equal(person.statusCode, 200, person.body);
  assert.equal(person.json().id, 'person-9');
  assert.deepEqual(person.json().userIds, ['person-9']);
  assert.deepEqual(person.json().anonymousIds, [anon]);
  const journey = await t.app.inject({
    method: 'GET',
    url: '/users/person-9/events',
    headers: { authorization: bearer(KEYS.read) },
  });
  assert.deepEqual((journey.json().results as { messageId: string }[]).map((e) => e.messageId).sort(), [
    'a-1',
    'a-2',
    'a-3',
    'a-4',
  ]);
  const aliased = await t.app.inject({
    method: 'GET',
    url: '/users/anon-3',
    headers: { authorization: bearer(KEYS.read) },
  });
  assert.equal(aliased.json().id, 'person-3');
});
