// Two loader processes on one ClickHouse store, each with its own partitions (--loader-partitions 0-1 and 2-3),
// under identify, alias and group traffic whose persons span every partition, on a real 3-node NATS cluster (R3)
// and a real clickhouse-server. One loader is SIGKILLed mid-load: the other goes on loading its partitions while
// it is down, and after its restart every acknowledged event is read back from the API node exactly once, and
// every person (its ids, groups and traits) equals what one loader made of the same events (a reference store
// loaded in one lane).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CanonicalEvent } from '../../src/core/event.ts';
import { ClickHouse, ClickHouseStore } from '../../src/store/clickhouse/index.ts';
import { VISIBLE_EVENTS } from '../../src/store/clickhouse/schema.ts';
import { at, event, logBatch } from '../fixtures.ts';
import { basic, bearer, KEYS } from '../helpers.ts';
import { roleNodes } from './nodes.ts';

const nodes = roleNodes('intake-cluster-loaders-');

const BATCHES = 40;
const PERSONS = 12;

/** Batch b's items: identify, alias, anonymous track, group and track calls over the persons, 40 of them. */
function items(b: number): Array<Record<string, unknown>> {
  return Array.from({ length: 40 }, (_, i) => {
    const k = (b * 7 + i) % PERSONS;
    const messageId = `m${b}-${i}`;
    const timestamp = at(b * 100 + i).toISOString();
    switch (i % 5) {
      case 0: // each trait key set once: the merge does not depend on the order of loads
        return {
          type: 'identify',
          messageId,
          timestamp,
          userId: `user${k}`,
          anonymousId: `anon${k}-${b % 3}`,
          traits: { [`t${b}_${i}`]: k },
        };
      case 1:
        return { type: 'alias', messageId, timestamp, previousId: `old${k}-${b}`, userId: `user${k}` };
      case 2:
        return {
          type: 'track',
          messageId,
          timestamp,
          event: 'Viewed',
          anonymousId: `anon${k}-${(b + 1) % 3}`,
        };
      case 3:
        return {
          type: 'group',
          messageId,
          timestamp,
          userId: `user${k}`,
          groupId: `g${k % 3}`,
          traits: { name: `group ${k % 3}` },
        };
      default:
        return { type: 'track', messageId, timestamp, event: 'Clicked', userId: `user${k}` };
    }
  });
}

/** The same items as canonical events of workspace `ws` (what the reference store loads). */
const canonical = (ws: string, list: Array<Record<string, unknown>>): CanonicalEvent[] =>
  list.map((x) => {
    const { messageId, timestamp, ...rest } = x as { messageId: string; timestamp: string };
    return event(ws, messageId, { ...(rest as object), timestamp: new Date(timestamp) });
  });

type User = {
  id: string;
  userIds: string[];
  anonymousIds: string[];
  traits: Record<string, unknown>;
  groups: string[];
  eventCount: number;
};
const shape = (u: User | null) =>
  u && {
    id: u.id,
    userIds: [...u.userIds].sort(),
    anonymousIds: [...u.anonymousIds].sort(),
    traits: u.traits,
    groups: [...u.groups].sort(),
    eventCount: u.eventCount,
  };

test('two loaders, one SIGKILLed mid-load: the other goes on; every acknowledged event stored once, every person as one loader makes it', {
  skip: nodes.skip,
  timeout: 300_000,
}, async () => {
  if (nodes.missing) throw new Error(nodes.missing); // under CI a missing engine fails
  const { env, start } = await nodes.cluster(100);
  const chUrl = env.INTAKE_CLICKHOUSE_URL;
  const api = await start('api', 'api');
  const ingest = await start('ingest', 'ingest');
  let first = await start('loader-1', 'loader', { INTAKE_LOADER_PARTITIONS: '0-1' });
  await start('loader-2', 'loader', { INTAKE_LOADER_PARTITIONS: '2-3' });

  const post = (body: unknown) =>
    fetch(`${ingest.url}/v1/batch`, {
      method: 'POST',
      headers: { authorization: basic(KEYS.write), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  for (let i = 0; i < 100; i++) {
    if ((await post({ batch: [] })).status !== 401) break; // the ingest node has found the API node's keys
    await new Promise((r) => setTimeout(r, 100));
  }
  const acked = new Set<string>();
  const send = async (b: number) => {
    for (let attempt = 0; attempt < 40; attempt++) {
      const res = await post({ batch: items(b) }).catch(() => null);
      if (res?.status === 200) {
        for (const x of items(b)) acked.add(x.messageId as string);
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`batch ${b} was never acknowledged`);
  };
  const total = async (filter = '') => {
    const res = await fetch(`${api.url}/events?limit=1${filter}`, {
      headers: { authorization: bearer(KEYS.read) },
    });
    // A read that timed out waiting for the loaders (503) counts as nothing yet.
    return res.status === 200 ? ((await res.json()) as { total: number }).total : -1;
  };

  // What the loaders have committed, read in ClickHouse itself: while a loader is down, the API node's reads wait
  // for its partitions (read-your-writes) and answer 503 READ_TIMEOUT after --read-wait-ms.
  const ch = new ClickHouse({ url: chUrl, database: env.INTAKE_CLICKHOUSE_DATABASE });
  const committedEvents = async () =>
    Number((await ch.rows(`SELECT count() AS n FROM ${VISIBLE_EVENTS}`))[0]?.n ?? 0);

  // Half the traffic, then the first loader dies in the middle of whatever it is doing.
  const sending = (async () => {
    for (let b = 0; b < BATCHES / 2; b++) await send(b);
  })();
  await new Promise((r) => setTimeout(r, 1_500));
  first.proc.kill('SIGKILL');
  await first.exited;
  await sending;
  const atKill = await committedEvents();
  for (let b = BATCHES / 2; b < BATCHES; b++) await send(b);
  // The second loader goes on alone: events it owns, sent after the kill, become readable while the first is down.
  let grew = atKill;
  for (let i = 0; i < 150 && grew <= atKill; i++) {
    grew = await committedEvents();
    if (grew <= atKill) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(grew > atKill, `the second loader loaded while the first was down (${atKill} -> ${grew})`);
  assert.ok(grew < acked.size, 'the first loader’s partitions waited for it');

  // The first loader starts again (its claims on 0-1 have run out by then) and loads what it left.
  first = await start('loader-1b', 'loader', { INTAKE_LOADER_PARTITIONS: '0-1' });
  let n = 0;
  for (let i = 0; i < 600 && n < acked.size; i++) {
    n = await total();
    if (n < acked.size) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(n, acked.size, `stored ${n} of ${acked.size} acknowledged`);
  const ids = new Set<string>();
  type Page = { results: Array<{ messageId: string }>; next: string | null };
  for (let cursor: string | null = null, pages = 0; pages < 100; pages++) {
    const url: string = `${api.url}/events?limit=1000&orderByField=receivedAt&orderByDirection=ASC${cursor ? `&after=${cursor}` : ''}`;
    const page = (await (await fetch(url, { headers: { authorization: bearer(KEYS.read) } })).json()) as Page;
    for (const e of page.results) {
      assert.ok(!ids.has(e.messageId), `${e.messageId} twice`);
      ids.add(e.messageId);
    }
    cursor = page.next;
    if (!cursor) break;
  }
  assert.deepEqual([...ids].sort(), [...acked].sort(), 'exactly the acknowledged events');

  // Physically too: no event row twice, none left uncommitted (the killed loader's lane was cleaned at restart).
  const rows = await ch.rows('SELECT count() AS n, uniqExact(message_id) AS u FROM events');
  assert.equal(Number(rows[0]?.n), acked.size, 'one events row per acknowledged event');

  // The reference: one loader (lane 0) loading the same events, batch after batch.
  const refDb = `${env.INTAKE_CLICKHOUSE_DATABASE}_ref`;
  const ref = await ClickHouseStore.open({ url: chUrl, database: refDb });
  for (let b = 0; b < BATCHES; b++) await ref.sink.load(logBatch(b + 1, canonical('w', items(b))));
  const wanted = [
    ...Array.from({ length: PERSONS }, (_, k) => `user${k}`),
    ...Array.from({ length: PERSONS }, (_, k) => `anon${k}-1`),
    `old3-${BATCHES - 1}`,
  ];
  for (const id of wanted) {
    const res = await fetch(`${api.url}/users/${encodeURIComponent(id)}`, {
      headers: { authorization: bearer(KEYS.read) },
    });
    const got = res.status === 200 ? ((await res.json()) as User) : null;
    assert.deepEqual(
      shape(got),
      shape((await ref.profiles.getUser('w', id)) as User | null),
      `person of ${id}`,
    );
  }
  const persons = await fetch(`${api.url}/users?limit=1`, { headers: { authorization: bearer(KEYS.read) } });
  const refPersons = await ref.profiles.listUsers('w', { traits: [], limit: 1, offset: 0 });
  assert.equal(((await persons.json()) as { total: number }).total, refPersons.total, 'as many persons');
  await ref.close();
  await ch.exec(`DROP DATABASE ${refDb}`, {}, null);
});
