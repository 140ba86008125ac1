// normalize's JSON columns, batch-level sentAt and size limit, on the paths its shortcuts take.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EventRecord, RequestContext, StepResult } from '../../src/core/event.ts';
import { normalize } from '../../src/pipeline/normalize.ts';
import { type ValidItem, validateItem } from '../../src/pipeline/validate.ts';

const valid = (item: object): ValidItem => {
  const v = validateItem(item);
  assert.ok(v.ok, JSON.stringify(v));
  return v.value;
};
const ctx = (extra: Partial<RequestContext> = {}): RequestContext => ({
  workspaceId: 'w',
  source: 'segment',
  ip: '203.0.113.9',
  receivedAt: new Date('2026-01-01T00:00:10.000Z'),
  ...extra,
});
const value = (r: StepResult<EventRecord>): EventRecord => {
  assert.ok(r.ok, JSON.stringify(r));
  return r.value;
};

test('every JSON column is exactly JSON.stringify of its object, absent ones included', () => {
  for (const item of [
    { type: 'track', event: 'A', userId: 'u' },
    { type: 'identify', userId: 'u', traits: { a: 1, é: 'ü' }, integrations: { All: false } },
    { type: 'track', event: 'A', userId: 'u', properties: {}, traits: {}, context: { ip: '1.2.3.4' } },
    { type: 'page', anonymousId: 'a', context: { ip: '', page: { path: '/' } } },
  ]) {
    const { event, json } = value(normalize(valid(item), ctx(), 32 * 1024));
    assert.equal(json.properties, JSON.stringify(event.properties));
    assert.equal(json.traits, JSON.stringify(event.traits));
    assert.equal(json.context, JSON.stringify(event.context));
    assert.equal(json.integrations, JSON.stringify(event.integrations));
  }
});

test('the batch sentAt is parsed for each request, and a bad one is still refused after a good one', () => {
  const item = valid({
    type: 'track',
    event: 'A',
    userId: 'u',
    originalTimestamp: '2026-01-01T00:00:00.000Z',
  });
  const at = (sentAt: unknown) => value(normalize(item, ctx({ sentAt }), 32 * 1024)).event;
  assert.equal(at('2026-01-01T00:00:02.000Z').sentAt?.toISOString(), '2026-01-01T00:00:02.000Z');
  assert.equal(at('2026-01-01T00:00:02.000Z').timestamp.toISOString(), '2026-01-01T00:00:08.000Z');
  assert.equal(at('2026-01-01T00:00:05.000Z').timestamp.toISOString(), '2026-01-01T00:00:05.000Z');
  // Each event gets its own Date.
  assert.notEqual(at('2026-01-01T00:00:05.000Z').sentAt, at('2026-01-01T00:00:05.000Z').sentAt);
  assert.equal(at(1767225601000).sentAt?.toISOString(), '2026-01-01T00:00:01.000Z');
  assert.equal(at('').sentAt, null);
  const bad = normalize(item, ctx({ sentAt: 'not a date' }), 32 * 1024);
  assert.equal(bad.ok, false);
  assert.equal(!bad.ok && bad.code, 'INTAKE_ERR_INVALID_TIMESTAMP');
});

test('the size limit counts UTF-8 bytes of the columns once they could reach it', () => {
  const item = (text: string) => valid({ type: 'track', event: 'A', userId: 'u', properties: { text } });
  // {"text":"..."} + {} + {"ip":"203.0.113.9"} + {} = 11 + 2 + 20 + 2 bytes around the text.
  const overhead = 35;
  assert.ok(normalize(item('a'.repeat(1000 - overhead)), ctx(), 1000).ok);
  const over = normalize(item('a'.repeat(1001 - overhead)), ctx(), 1000);
  assert.equal(!over.ok && over.reason, 'event is 1001 bytes, over the 1000-byte limit per event');
  // 'é' is 2 bytes: {"text":"é×490"} is 501 characters and 991 bytes.
  const wide = normalize(item('é'.repeat(490)), ctx(), 1000);
  assert.equal(!wide.ok && wide.reason, 'event is 1015 bytes, over the 1000-byte limit per event');
  assert.ok(normalize(item('é'.repeat(480)), ctx(), 1000).ok);
});
