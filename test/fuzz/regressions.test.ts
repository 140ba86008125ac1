// The 5xx the ingest fuzzer (ingest.test.ts) found, each as a focused test.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { allEvents, bearer, KEYS, startTestApp, type TestApp } from '../helpers.ts';

let t: TestApp;
before(async () => {
  t = await startTestApp({ bodyLimit: 64 * 1024 });
});
after(() => t.close());

const write = { authorization: bearer(KEYS.write), 'content-type': 'application/json' };
const post = (url: string, payload: string, headers: Record<string, string> = write) =>
  t.app.inject({ method: 'POST', url, headers, payload });

async function rejected(): Promise<{ messageId: string | null; code: string; reason: string }[]> {
  const r = await t.app.inject({
    method: 'GET',
    url: '/rejected?limit=1000',
    headers: { authorization: bearer(KEYS.read) },
  });
  return r.json().results;
}

test('PostHog: an `offset` that puts the event outside any date refuses that event, not the batch', async () => {
  // new Date(now - 1e300).toISOString() threw a RangeError: 500.
  const batch = [
    { event: 'E', distinct_id: 'off-1', uuid: 'offset-huge', offset: 1e300 },
    { event: 'E', distinct_id: 'off-1', uuid: 'offset-negative', offset: -1e20 },
    { event: 'E', distinct_id: 'off-1', uuid: 'offset-ok', offset: 1000 },
  ];
  const r = await post('/batch/', JSON.stringify({ api_key: KEYS.write, batch }));
  assert.equal(r.statusCode, 200, r.body);
  assert.deepEqual(r.json(), { status: 1 });
  const stored = await allEvents(t.app, KEYS.read, 'userId=off-1');
  assert.deepEqual(
    stored.map((e) => e.messageId),
    ['offset-ok'],
  );
  const kept = await rejected();
  for (const id of ['offset-huge', 'offset-negative']) {
    const k = kept.find((x) => x.messageId === id);
    assert.equal(k?.code, 'INTAKE_ERR_INVALID_TIMESTAMP', id);
    assert.match(k?.reason ?? '', /offset/);
  }
});

test("Biteral: a type named like an object's inherited property is an unknown type, not a 500", async () => {
  // REQUIRED[type] found Object.prototype's members for these names, and iterated them.
  for (const type of ['constructor', 'toString', 'hasOwnProperty', '__proto__', 'valueOf']) {
    const r = await post('/events', `{"type":${JSON.stringify(type)},"customerCode":"c"}`, {
      'x-api-key': KEYS.write,
      'content-type': 'application/json',
    });
    assert.equal(r.statusCode, 400, `${type}: ${r.body}`);
    assert.equal(r.json().code, 'INTAKE_ERR_INVALID_EVENT');
    assert.deepEqual(
      r.json().fieldErrors.map((f: { field: string; code: string }) => [f.field, f.code]),
      [['type', 'invalid_value']],
    );
  }
});

test("Sequence: body errors (not JSON, bad encoding, over the limit) are answered in Sequence's shape", async () => {
  // The 400 schema is Sequence's {success, error, code}: Intake's error body failed to serialize, a 500.
  for (const [payload, headers, status, code] of [
    ['{"batch": [', write, 400, 'INTAKE_ERR_INVALID_JSON'],
    ['', write, 400, 'INTAKE_ERR_INVALID_BODY'],
    ['not gzip', { ...write, 'content-encoding': 'gzip' }, 400, 'INTAKE_ERR_BAD_ENCODING'],
    ['{}', { ...write, 'content-encoding': 'compress' }, 415, 'INTAKE_ERR_UNSUPPORTED_ENCODING'],
    [`{"batch":[],"pad":"${'x'.repeat(70 * 1024)}"}`, write, 413, 'INTAKE_ERR_BODY_TOO_LARGE'],
    ['{"batch":[]}', { 'content-type': 'application/json' }, 401, 'INTAKE_ERR_UNAUTHORIZED'],
  ] as const) {
    const r = await post('/event/batch', payload, headers);
    assert.equal(r.statusCode, status, r.body);
    const body = r.json();
    assert.equal(body.success, false);
    assert.equal(body.code, code);
    assert.equal(typeof body.error, 'string');
    assert.ok(body.error.length > 0);
  }
  const ok = await post('/event/batch', '{"batch":[{"type":"track","event":"E","userId":"seq-ok"}]}');
  assert.equal(ok.statusCode, 200);
  assert.equal(ok.json().processed, 1);
});
