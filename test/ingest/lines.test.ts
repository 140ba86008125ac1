// The log line format: every field written and read back, strings escaped exactly as JSON.stringify would,
// and lone surrogates (which DuckDB's JSON reader refuses) replaced by U+FFFD.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EVENT_COLUMNS, KEY_FIELD } from '../../src/core/columns.ts';
import { decodeLine, eventLine, LineWriter, rejectionLine } from '../../src/ingest/file/lines.ts';
import { record } from '../fixtures.ts';

const TRICKY = [
  'plain',
  '',
  'quote " and backslash \\',
  'control \u0000 \u0001 \n \t \u001f',
  'line separators \u2028 \u2029',
  'emoji 😀 pair',
  'lone high \ud800 end',
  'lone low \udc00',
  'é ü ß 中文',
  '\\ud800 written out, not a surrogate',
];

test('an event line holds every field, and reads back to the same event', () => {
  const r = record('ws', {
    type: 'track',
    event: 'Signed Up',
    userId: 'u1',
    anonymousId: 'a1',
    messageId: 'm1',
    timestamp: '2026-03-01T10:00:00.123Z',
    sentAt: '2026-03-01T10:00:01Z',
    properties: { plan: 'pro', n: 1 },
    context: { ip: '1.2.3.4' },
  });
  const line = eventLine(r, 'ab'.repeat(16));
  const o = JSON.parse(line) as Record<string, unknown>;
  for (const f of EVENT_COLUMNS) assert.ok(f.column in o, `${f.column} is written`);
  assert.equal(o[KEY_FIELD], 'ab'.repeat(16));
  const back = decodeLine(line);
  assert.equal(back.kind, 'event');
  if (back.kind === 'event') assert.deepEqual(back.event, r.event);
});

test('strings are escaped as JSON.stringify escapes them; lone surrogates become U+FFFD', () => {
  for (const s of TRICKY) {
    const name = `e ${s}`;
    const r = record('ws', {
      type: 'track',
      event: name,
      userId: `u ${s}`,
      messageId: 'm',
      properties: { [s]: s },
    });
    const line = eventLine(r, '0'.repeat(32));
    // An escape is a backslash not itself escaped: an odd run of backslashes before `ud8..udf`.
    assert.doesNotMatch(line, /(^|[^\\])(\\\\)*\\ud[89a-f]/i, `surrogate escape left: ${JSON.stringify(s)}`);
    const o = JSON.parse(line) as { event: string; properties: Record<string, string> };
    assert.equal(o.event, name.toWellFormed());
    assert.deepEqual(o.properties, { [s.toWellFormed()]: s.toWellFormed() });
    if (s.isWellFormed()) assert.ok(line.includes(`"event":${JSON.stringify(name)}`), 'byte for byte');
  }
});

test('the line writer writes the bytes of eventLine and rejectionLine, tricky strings and all', () => {
  const w = new LineWriter();
  let expected = '';
  for (const long of [...TRICKY, 'x'.repeat(3000), 'é'.repeat(2000)]) {
    const s = long.slice(0, 500); // ids and names: at most 512 characters
    for (const r of [
      record('ws', {
        type: 'track',
        event: `e ${s}`,
        userId: `u ${s}`,
        anonymousId: s === '' ? null : s,
        messageId: `m ${s}`,
        properties: { [s]: long },
        context: { ip: '1.2.3.4', page: { title: s } },
      }),
      record('ws', { type: 'identify', userId: 'u', messageId: 'm2', traits: { name: s } }),
    ]) {
      w.event(r, 'f'.repeat(32));
      expected += `${eventLine(r, 'f'.repeat(32))}\n`;
    }
    const rej = {
      id: 'r1',
      workspaceId: 'ws',
      receivedAt: new Date(0),
      source: 'segment',
      messageId: s,
      code: 'INTAKE_ERR_INVALID_EVENT' as const,
      reason: `bad ${s}`,
      payload: JSON.stringify({ s }),
    };
    w.rejection(rej);
    expected += `${rejectionLine(rej)}\n`;
  }
  const bytes = w.take();
  assert.equal(bytes.toString('utf8'), expected);
  assert.deepEqual(bytes, Buffer.from(expected));
  assert.equal(w.take().length, 0, 'take() starts over');
});

test('the line writer writes times as eventLine does, every number of digits', () => {
  const base = record('ws', {
    type: 'track',
    event: 'e',
    userId: 'u',
    messageId: 'm',
    sentAt: '2026-03-01T10:00:01Z',
  });
  const times = [0, 7, 10, 99_999_999, 100_000_000, 100_000_001, 1_700_000_000_005, 1_709_287_200_123];
  times.push(Date.UTC(9999, 11, 31, 23, 59, 59, 999));
  const w = new LineWriter();
  let expected = '';
  for (const t of times) {
    const r = {
      ...base,
      event: { ...base.event, timestamp: new Date(t), originalTimestamp: null, receivedAt: new Date(t + 1) },
    };
    w.event(r, '0'.repeat(32));
    expected += `${eventLine(r, '0'.repeat(32))}\n`;
  }
  const written = w.take().toString('utf8');
  assert.equal(written, expected);
  const back = written
    .split('\n')
    .slice(0, -1)
    .map((l) => JSON.parse(l) as { timestamp: number });
  assert.deepEqual(
    back.map((o) => o.timestamp),
    times,
  );
});

test('the line writer keeps lines across events until clear(), and starts over after a group past its room', () => {
  const w = new LineWriter();
  const line = (i: number) =>
    record('ws', {
      type: 'track',
      event: `e${i}`,
      userId: 'u',
      messageId: `m${i}`,
      properties: { pad: 'x'.repeat(900) },
    });
  // ~1 KB a line: 5,000 lines is past the 4 MB a writer keeps between groups.
  let expected = '';
  for (let i = 0; i < 5000; i++) {
    const r = line(i);
    w.event(r, 'k'.repeat(32));
    expected += `${eventLine(r, 'k'.repeat(32))}\n`;
  }
  assert.ok(w.length > 4 << 20);
  assert.equal(w.bytes().toString('utf8'), expected);
  w.clear();
  assert.equal(w.length, 0);
  assert.equal(w.bytes().length, 0);
  const r = line(1);
  w.event(r, 'k'.repeat(32));
  assert.equal(w.bytes().toString('utf8'), `${eventLine(r, 'k'.repeat(32))}\n`);
});
