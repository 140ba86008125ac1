// Every dialect's ingest routes as the fuzzer sees them: a valid wire item, the fields worth breaking, the
// body around the items, and what each documented answer says was stored and kept at /rejected.
import assert from 'node:assert/strict';
import { ERRORS } from '../../src/core/errors.ts';

type Json = Record<string, unknown>;

/** What one request should have changed: events stored, items kept at /rejected (exact, or a range). */
export interface Expect {
  stored: number | [number, number];
  rejected: number | [number, number];
  /** The answer accepted the request: its known-valid items must each be stored once. */
  accepted: boolean;
  /** Where the answer does not tell stored from refused: the two add up to this. */
  total?: number;
}

export interface Answer {
  status: number;
  body: unknown;
}

export interface Family {
  name: string;
  paths: string[];
  /** A wire item every route of the family must store, for `user`, with messageId `id` where it has one. */
  valid(user: string, id: string, i: number): Json;
  /** How a stored valid item is found in GET /events: by its messageId, or only counted by user. */
  byMessageId: boolean;
  /** The user a valid item is stored under. */
  userOf(user: string): string;
  /** Fields worth breaking (a dot reaches into an object). */
  fields: string[];
  /** Top-level fields of the body around the items; empty for single-event routes. */
  envelope: string[];
  /** The body for `items` (`shape` picks among the dialect's documented shapes). */
  wrap(items: unknown[], shape: number, key: string): unknown;
  /** Checks the answer against the dialect's documented shapes and says what it stored. */
  account(sent: unknown, answer: Answer): Expect;
}

const CODES = new Set(Object.keys(ERRORS));
/** Codes that refuse one item (kept at /rejected) rather than the request. */
const ITEM_CODES = new Set([
  'INTAKE_ERR_INVALID_EVENT',
  'INTAKE_ERR_MISSING_ID',
  'INTAKE_ERR_MISSING_EVENT_NAME',
  'INTAKE_ERR_INVALID_TIMESTAMP',
  'INTAKE_ERR_NESTED_TOO_DEEP',
  'INTAKE_ERR_EVENT_TOO_LARGE',
  'INTAKE_ERR_MISSING_FIELD',
  'INTAKE_ERR_UNSUPPORTED_EVENT_TYPE',
]);

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const TIME = '2026-01-01T00:00:00.000Z';

/** A coded error answer in Intake's shape (`fieldErrors` allowed): nothing stored, an item kept if it names one. */
function refusal(answer: Answer, single: boolean): Expect {
  const b = answer.body as Json;
  assert.ok(answer.status >= 400 && answer.status < 500, `status ${answer.status}`);
  assert.ok(isObj(b) && CODES.has(String(b.code)), `an error answer with a known code: ${JSON.stringify(b)}`);
  assert.equal(b.statusCode, answer.status);
  assert.equal(typeof b.message, 'string');
  const item = single && ITEM_CODES.has(String(b.code));
  return { stored: 0, rejected: item ? 1 : 0, accepted: false };
}

/** Each item of a batch answer's `rejected` list: an index, a known code, a message. */
function rejectedList(list: unknown, n: number): number {
  assert.ok(Array.isArray(list));
  for (const r of list) {
    assert.ok(isObj(r) && CODES.has(String(r.code)) && typeof r.message === 'string', JSON.stringify(r));
    assert.ok(Number.isInteger(r.index) && (r.index as number) >= 0 && (r.index as number) < n);
  }
  return list.length;
}

/** POST /events with {events: [...]}: 201 with the stored events and the rejected list, or a coded 400. */
function trenchAnswer(sent: unknown, a: Answer): Expect {
  // {events: x} with x not an array is Trench's 400; any other shape is Biteral's (the Biteral family).
  if (a.status !== 201) return refusal(a, false);
  const b = a.body as Json;
  const n = (sent as { events: unknown[] }).events.length;
  const rejected = rejectedList(b.rejected, n);
  assert.ok(Array.isArray(b.results));
  assert.equal(b.duplicates, 0);
  assert.equal(b.results.length + rejected, n);
  return { stored: b.results.length, rejected, accepted: true };
}

const segmentTypes = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const;
const segmentItem = (user: string, id: string, i: number): Json => ({
  type: segmentTypes[i % segmentTypes.length],
  messageId: id,
  userId: user,
  event: 'Fuzz Event',
  name: 'Home',
  groupId: 'g-1',
  previousId: `${user}-before`,
  properties: { n: i, s: 'x', nested: { a: [1, 2] } },
  traits: { plan: 'pro' },
  context: { library: { name: 'fuzz', version: '1' } },
  timestamp: TIME,
});
const segmentFields = [
  'type',
  'messageId',
  'userId',
  'anonymousId',
  'event',
  'name',
  'category',
  'groupId',
  'previousId',
  'instanceId',
  'timestamp',
  'originalTimestamp',
  'sentAt',
  'properties',
  'traits',
  'context',
  'integrations',
  'context.ip',
  'context.userAgent',
  'context.location',
  'context.device',
  'properties.nested',
];

const SHORT = ['t', 'i', 'p', 's', 'g', 'a'];

export const FAMILIES: Family[] = [
  {
    name: 'segment single',
    paths: [...segmentTypes.map((t) => `/v1/${t}`), ...SHORT.map((s) => `/v1/${s}`)],
    valid: segmentItem,
    byMessageId: true,
    userOf: (u) => u,
    fields: segmentFields,
    envelope: [],
    wrap: (items) => items[0],
    account(_sent, a) {
      if (a.status !== 200) return refusal(a, true);
      assert.deepEqual(a.body, { success: true });
      return { stored: 1, rejected: 0, accepted: true };
    },
  },
  {
    name: 'segment batch',
    paths: ['/v1/batch', '/v1/import', '/v1/b'],
    valid: segmentItem,
    byMessageId: true,
    userOf: (u) => u,
    fields: segmentFields,
    envelope: ['batch', 'context', 'integrations', 'sentAt', 'writeKey'],
    wrap: (items) => ({ batch: items }),
    account(sent, a) {
      if (a.status !== 200) return refusal(a, false);
      const b = a.body as Json;
      const n = (sent as { batch: unknown[] }).batch.length;
      const rejected = rejectedList(b.rejected, n);
      assert.equal(b.success, true);
      assert.equal(b.duplicates, 0, 'every messageId sent is new');
      assert.equal((b.accepted as number) + rejected, n);
      return { stored: b.accepted as number, rejected, accepted: true };
    },
  },
  {
    name: 'trench',
    paths: ['/events'],
    valid: (user, id, i) => ({ ...segmentItem(user, id, i), instanceId: 'fuzz' }),
    byMessageId: true,
    userOf: (u) => u,
    fields: segmentFields,
    envelope: ['events'],
    wrap: (items) => ({ events: items }),
    account: trenchAnswer,
  },
  {
    name: 'biteral',
    paths: ['/events'],
    valid: (user) => ({ type: 'EventSearch', customerCode: user, query: 'shoes', timestamp: TIME }),
    byMessageId: false,
    userOf: (u) => u,
    fields: [
      'type',
      'customerCode',
      'timestamp',
      'query',
      'productCode',
      'quantity',
      'categoryCode',
      'brandCode',
      'filterName',
      'filterValue',
      'orderDescription',
      'orderDirection',
      'review',
      'events',
    ],
    envelope: [],
    // One event object, or an array of them (shape 0 sends a lone item as itself).
    wrap: (items, shape) => (shape === 0 && items.length === 1 ? items[0] : items),
    account(sent, a) {
      const b = a.body as Json;
      if (a.status === 201) {
        // A generated event with an `events` key is a Trench body: Trench's answer.
        assert.ok(isObj(sent) && 'events' in sent, 'only a Trench body gets a 201');
        return trenchAnswer(sent, a);
      }
      if (a.status !== 200) {
        const e = refusal(a, false);
        if (Array.isArray(b.fieldErrors)) {
          for (const f of b.fieldErrors) {
            assert.ok(isObj(f) && ['required', 'invalid_type', 'invalid_value'].includes(String(f.code)));
            assert.equal(typeof f.field, 'string');
          }
        }
        return e;
      }
      const n = Array.isArray(sent) ? sent.length : 1;
      assert.ok(Array.isArray(b.rejected));
      assert.equal(b.duplicates, 0);
      assert.equal((b.ingested as number) + b.rejected.length, n);
      return { stored: b.ingested as number, rejected: b.rejected.length, accepted: true };
    },
  },
  {
    name: 'sequence',
    paths: ['/event/batch'],
    valid: (user, id, i) => ({
      type: i % 2 ? 'identify' : 'track',
      event: 'Fuzz Event',
      userId: user,
      messageId: id,
      properties: { n: i },
      traits: { plan: 'pro' },
      timestamp: TIME,
    }),
    byMessageId: true,
    userOf: (u) => u,
    fields: segmentFields,
    envelope: ['batch', 'sentAt'],
    wrap: (items) => ({ batch: items }),
    account(sent, a) {
      const b = a.body as Json;
      if (a.status !== 200) {
        // Sequence's own error shape, plus Intake's code.
        assert.ok(a.status >= 400 && a.status < 500);
        assert.equal(b.success, false);
        assert.equal(typeof b.error, 'string');
        assert.ok(CODES.has(String(b.code)), JSON.stringify(b));
        return { stored: 0, rejected: 0, accepted: false };
      }
      const n = (sent as { batch: unknown[] }).batch.length;
      assert.equal(b.total, n);
      assert.ok(Array.isArray(b.batch) && b.batch.length === n);
      for (const r of b.batch as Json[]) {
        if (r.success === false) assert.ok(typeof r.error === 'string' && r.error.length > 0);
      }
      assert.equal((b.processed as number) + (b.errors as number), n, 'no duplicates');
      assert.equal(b.success, b.errors === 0);
      return { stored: b.processed as number, rejected: b.errors as number, accepted: true };
    },
  },
  {
    name: 'bento',
    paths: ['/v1/batch/events'],
    valid: (user) => ({ type: 'fuzz_event', email: `${user}@fuzz.test`, details: { n: 1 }, date: TIME }),
    byMessageId: false,
    userOf: (u) => `${u}@fuzz.test`,
    fields: [
      'type',
      'email',
      'fields',
      'details',
      'date',
      'fields.x',
      'details.unique',
      'details.value',
      'details.tag',
    ],
    envelope: ['events'],
    wrap: (items) => ({ events: items }),
    account(sent, a) {
      if (a.status !== 200) return refusal(a, false);
      const b = a.body as Json;
      const n = (sent as { events: unknown[] }).events.length;
      const results = b.results as number;
      const failed = b.failed as number;
      assert.equal(results + failed, n);
      // A Bento event is one or two canonical items (a track, an identify): each recorded event stored one or
      // two rows; each failed one kept one or two at /rejected, and may have stored one.
      return {
        stored: [results, 2 * results + failed],
        rejected: [failed, 2 * failed],
        accepted: true,
      };
    },
  },
  {
    name: 'userflux single',
    paths: ['/event/ingest'],
    valid: (user) => ({ name: 'fuzz', userId: user, timestamp: Date.parse(TIME), properties: { n: 1 } }),
    byMessageId: false,
    userOf: (u) => u,
    fields: ['name', 'userId', 'anonymousId', 'timestamp', 'properties', 'deviceData', 'sessionId'],
    envelope: [],
    wrap: (items) => items[0],
    account(_sent, a) {
      if (a.status !== 204) return refusal(a, true);
      return { stored: 1, rejected: 0, accepted: true };
    },
  },
  {
    name: 'userflux profile',
    paths: ['/profile'],
    valid: (user) => ({ userId: user, anonymousId: `${user}-anon`, properties: { plan: 'pro', n: 1 } }),
    byMessageId: false,
    userOf: (u) => u,
    fields: ['userId', 'anonymousId', 'properties', 'properties.plan', 'type', 'traits'],
    envelope: [],
    wrap: (items) => items[0],
    account(_sent, a) {
      if (a.status !== 204) return refusal(a, true);
      return { stored: 1, rejected: 0, accepted: true };
    },
  },
  {
    name: 'userflux batch',
    paths: ['/event/ingest/batch'],
    valid: (user) => ({ name: 'fuzz', userId: user, timestamp: Date.parse(TIME), properties: { n: 1 } }),
    byMessageId: false,
    userOf: (u) => u,
    fields: ['name', 'userId', 'anonymousId', 'timestamp', 'properties', 'deviceData', 'sessionId'],
    envelope: ['events'],
    wrap: (items) => ({ events: items }),
    account(sent, a) {
      if (a.status !== 204) return refusal(a, false);
      // The answer says nothing per item: every item is stored or kept.
      const n = (sent as { events: unknown[] }).events.length;
      return { stored: [0, n], rejected: [0, n], accepted: true, total: n };
    },
  },
  {
    name: 'posthog',
    paths: ['/batch/', '/capture/', '/e/', '/i/v0/e/', '/batch', '/e'],
    valid: (user, id, i) => ({
      event: ['fuzz_event', '$pageview', '$identify', '$screen'][i % 4],
      distinct_id: user,
      uuid: id,
      properties: { n: i, $set: { plan: 'pro' }, title: 'Home', $screen_name: 'Home' },
      // posthog-js sends how long ago (ms) instead of a time, at times.
      ...(i % 2 ? { offset: 1500 } : { timestamp: TIME }),
    }),
    byMessageId: true,
    userOf: (u) => u,
    fields: [
      'event',
      'distinct_id',
      '$distinct_id',
      'uuid',
      'properties',
      'timestamp',
      'offset',
      '$set',
      '$set_once',
      'api_key',
      'token',
      'properties.token',
      'properties.$set',
      'properties.$lib',
      'properties.$raw_user_agent',
      'properties.$group_key',
      'properties.$group_set',
      'properties.alias',
      'properties.$anon_distinct_id',
      'properties.$ignore_sent_at',
      'properties.distinct_id',
    ],
    envelope: ['batch', 'sent_at', 'api_key'],
    // posthog-node's {api_key, batch}, posthog-js's array (key in the first event), or one event.
    wrap: (items, shape, key) => {
      if (shape === 1) return items.map((e, i) => (i === 0 && isObj(e) ? { ...e, token: key } : e));
      if (shape === 2 && items.length === 1 && isObj(items[0])) return { ...items[0], api_key: key };
      return { api_key: key, batch: items };
    },
    account(sent, a) {
      if (a.status !== 200) return refusal(a, false);
      assert.deepEqual(a.body, { status: 1 });
      const n = Array.isArray(sent)
        ? sent.length
        : isObj(sent) && Array.isArray(sent.batch)
          ? sent.batch.length
          : 1;
      return { stored: [0, n], rejected: [0, n], accepted: true, total: n };
    },
  },
];
