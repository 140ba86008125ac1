// A request that reaches the server while it closes (a kept-alive connection) gets a coded 503, not fastify's.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { basic, KEYS, startTestApp } from '../helpers.ts';

test('while the server closes, new requests are answered 503 INTAKE_ERR_SHUTTING_DOWN with Retry-After', async () => {
  const t = await startTestApp();
  const closing = t.app.close();
  try {
    const r = await t.app.inject({
      method: 'POST',
      url: '/v1/track',
      headers: { authorization: basic(KEYS.write), origin: 'https://shop.example' },
      payload: { type: 'track', event: 'Late', userId: 'u', messageId: 'late-1' },
    });
    assert.equal(r.statusCode, 503);
    assert.equal(r.json().code, 'INTAKE_ERR_SHUTTING_DOWN');
    assert.equal(r.headers['retry-after'], '1');
    // A browser may read it, and how long to wait.
    assert.equal(r.headers['access-control-allow-origin'], 'https://shop.example');
    assert.equal(r.headers['access-control-expose-headers'], 'Retry-After');
  } finally {
    await closing;
    await t.close();
  }
});
