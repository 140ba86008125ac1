// The PostHog routes posthog-js calls besides capture: GET /array/<token>/config(.js), POST /flags/ and the
// legacy /decide/, in every body encoding posthog clients use, answered as a PostHog project with nothing on.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runInNewContext } from 'node:vm';
import { gzipSync } from 'node:zlib';
import { KEYS, startTestApp, type TestApp } from '../helpers.ts';

let t: TestApp;
before(async () => {
  t = await startTestApp();
});
after(() => t.close());

const get = (url: string, headers: Record<string, string> = {}) =>
  t.app.inject({ method: 'GET', url, headers });
const post = (url: string, payload: string | Buffer, contentType: string) =>
  t.app.inject({ method: 'POST', url, headers: { 'content-type': contentType }, payload });
const json = (body: unknown) => post('/flags/?v=2', JSON.stringify(body), 'application/json');

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const flagsBody = {
  token: KEYS.write,
  distinct_id: 'd-1',
  groups: {},
  person_properties: {},
  timezone: 'UTC',
};

test('GET /array/<token>/config: a project with no flags, recordings, heatmaps or site apps, for a write key', async () => {
  const res = await get(`/array/${KEYS.write}/config`, { origin: 'http://shop.example' });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.headers['access-control-allow-origin'], 'http://shop.example');
  const config = res.json();
  assert.equal(config.token, KEYS.write);
  assert.deepEqual(config.supportedCompression, ['gzip', 'gzip-js']);
  assert.equal(config.hasFeatureFlags, false, 'posthog-js then skips /flags at load');
  for (const off of [
    'sessionRecording',
    'heatmaps',
    'productTours',
    'captureDeadClicks',
    'capturePerformance',
    'autocaptureExceptions',
    'autocapture_opt_out',
  ]) {
    assert.equal(config[off], false, off);
  }
  assert.deepEqual(config.errorTracking, { autocaptureExceptions: false, suppressionRules: [] });
  assert.deepEqual(config.siteApps, []);
  assert.deepEqual(config.analytics, { endpoint: '/i/v0/e/' });
  // posthog-js 1.449 loads its surveys bundle for any boolean here, false included.
  assert.equal('surveys' in config, false);
});

test('GET /array/<token>/config.js: a script that hands posthog-js the same config', async () => {
  const res = await get(`/array/${KEYS.write}/config.js`);
  assert.equal(res.statusCode, 200, res.body);
  assert.match(String(res.headers['content-type']), /^application\/javascript/);
  const window: Record<string, Record<string, { config: unknown; siteApps: unknown }>> = {};
  runInNewContext(res.body, { window });
  // Through JSON: the script's objects come from another realm.
  const loaded = JSON.parse(JSON.stringify(window._POSTHOG_REMOTE_CONFIG?.[KEYS.write]));
  assert.deepEqual(loaded?.config, (await get(`/array/${KEYS.write}/config`)).json());
  assert.deepEqual(loaded?.siteApps, []);
});

test('the config routes answer 404 alike for an unknown token and for read or admin keys, in PostHog error shape', async () => {
  for (const token of ['phc_unknown', KEYS.read, KEYS.admin]) {
    for (const path of ['config', 'config.js']) {
      const res = await get(`/array/${token}/${path}`);
      assert.equal(res.statusCode, 404, `${token} ${path}`);
      assert.deepEqual(res.json(), {
        type: 'invalid_request',
        code: 'INTAKE_ERR_NOT_FOUND',
        detail: 'no such project token',
        attr: null,
        statusCode: 404,
        error: 'Not Found',
        message: 'no such project token',
      });
    }
  }
});

test('POST /flags/?v=2 answers no flags, and no error, whichever encoding posthog clients use', async () => {
  const text = JSON.stringify(flagsBody);
  const b64 = Buffer.from(text).toString('base64');
  const form = 'application/x-www-form-urlencoded';
  const bodies: Array<[string, string, string | Buffer, string]> = [
    ['JSON', '/flags/?v=2', text, 'application/json'],
    // Current posthog-js: gzip as text/plain, no Content-Encoding, no compression parameter.
    ['gzip', '/flags/?v=2', gzipSync(text), 'text/plain'],
    ['gzip-js', '/flags/?v=2&compression=gzip-js', gzipSync(text), 'text/plain'],
    // Before its remote config arrives posthog-js falls back to base64 form bodies.
    ['base64 form', '/flags/?v=2&compression=base64', `data=${encodeURIComponent(b64)}`, form],
    ['base64 of gzip', '/flags/?v=2', `data=${encodeURIComponent(gzipSync(text).toString('base64'))}`, form],
    ['urlencoded JSON', '/flags/?v=2', `data=${encodeURIComponent(text)}`, form],
    ['no slash', '/flags?v=2', text, 'application/json'],
  ];
  for (const [name, url, payload, type] of bodies) {
    const before = Date.now();
    const res = await post(url, payload, type);
    assert.equal(res.statusCode, 200, `${name}: ${res.body}`);
    const body = res.json();
    assert.deepEqual(
      Object.keys(body).sort(),
      ['errorsWhileComputingFlags', 'evaluatedAt', 'flags', 'requestId'],
      name,
    );
    assert.equal(body.errorsWhileComputingFlags, false);
    assert.deepEqual(body.flags, {});
    assert.match(body.requestId, UUID);
    assert.ok(body.evaluatedAt >= before && body.evaluatedAt <= Date.now(), name);
  }
});

test('/flags/ and /decide/ answer in the format each version asks for; decide and ?config=true carry config', async () => {
  const text = JSON.stringify(flagsBody);
  const flags = async (url: string) => {
    const res = await post(url, text, 'application/json');
    assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
    return res.json();
  };
  const v1 = await flags('/flags/');
  assert.deepEqual(v1.featureFlags, {});
  assert.deepEqual(v1.featureFlagPayloads, {});
  assert.equal(v1.errorsWhileComputingFlags, false);
  assert.equal('flags' in v1, false);
  assert.equal('supportedCompression' in v1, false, 'no config unless asked');

  const withConfig = await flags('/flags/?v=2&config=true');
  assert.deepEqual(withConfig.flags, {});
  assert.deepEqual(withConfig.supportedCompression, ['gzip', 'gzip-js']);
  assert.equal(withConfig.sessionRecording, false);
  assert.equal(withConfig.surveys, false);
  assert.deepEqual(withConfig.siteApps, []);
  assert.deepEqual(withConfig.config, { enable_collect_everything: true });
  assert.equal(withConfig.isAuthenticated, false);

  const expected: Array<[string, string, unknown]> = [
    ['/decide/', 'featureFlags', []],
    ['/decide/?v=1', 'featureFlags', []],
    ['/decide/?v=2', 'featureFlags', {}],
    ['/decide/?v=3', 'featureFlagPayloads', {}],
    ['/decide/?v=4', 'flags', {}],
    ['/decide?v=3', 'featureFlags', {}],
  ];
  for (const [url, field, value] of expected) {
    const body = await flags(url);
    assert.deepEqual(body[field], value, url);
    assert.equal(body.sessionRecording, false, `${url} carries config`);
    assert.deepEqual(body.supportedCompression, ['gzip', 'gzip-js'], url);
    assert.match(body.requestId, UUID, url);
  }
});

test('/flags/ and /decide/ need a write key as token: unknown or missing is a 401, a read key a 403, in PostHog error shape', async () => {
  for (const path of ['/flags/?v=2', '/decide/?v=3']) {
    const unknown = await post(
      path,
      JSON.stringify({ ...flagsBody, token: 'phc_unknown' }),
      'application/json',
    );
    assert.equal(unknown.statusCode, 401, path);
    const body = unknown.json();
    assert.equal(body.type, 'authentication_error');
    assert.equal(body.code, 'INTAKE_ERR_UNAUTHORIZED');
    assert.match(body.detail, /^Project API key invalid/);
    assert.equal(body.detail, body.message);
    assert.equal(body.attr, null);
    assert.equal(body.statusCode, 401);

    const none = await post(path, JSON.stringify({ distinct_id: 'd-1' }), 'application/json');
    assert.equal(none.statusCode, 401, path);
    const read = await post(path, JSON.stringify({ ...flagsBody, token: KEYS.read }), 'application/json');
    assert.equal(read.statusCode, 403, path);
    assert.equal(read.json().type, 'authentication_error');
    assert.equal(read.json().code, 'INTAKE_ERR_WRONG_KEY_KIND');
  }
  const empty = await t.app.inject({ method: 'POST', url: '/flags/?v=2' });
  assert.equal(empty.statusCode, 401);
});

test('a form whose data= is not what it claims is a 400 naming the problem, in PostHog error shape', async () => {
  const form = 'application/x-www-form-urlencoded';
  const badGzip = Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3]).toString('base64');
  const res = await post('/flags/?v=2', `data=${encodeURIComponent(badGzip)}`, form);
  assert.equal(res.statusCode, 400);
  assert.equal(res.json().code, 'INTAKE_ERR_BAD_ENCODING');
  assert.equal(res.json().type, 'validation_error');
  assert.match(res.json().message, /data= field is not valid gzip/);

  const notJson = await post(
    '/flags/?v=2',
    `data=${encodeURIComponent(Buffer.from('hello').toString('base64'))}`,
    form,
  );
  assert.equal(notJson.statusCode, 400);
  assert.equal(notJson.json().code, 'INTAKE_ERR_INVALID_JSON');
  assert.equal(notJson.json().type, 'validation_error');
  // sanity: the JSON route still takes a plain body
  assert.equal((await json(flagsBody)).statusCode, 200);
});
