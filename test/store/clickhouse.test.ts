// The ClickHouse store's own load protocol (src/store/clickhouse/load.ts), on a real clickhouse-server: a load cut
// off after any of its writes (the process dies there: the write landed, nothing after it ran), followed by a
// restart and the re-load of the same batch, stores every row once and loses none; and while cut off, readers
// see nothing of it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClickHouse, ClickHouseStore } from '../../src/store/clickhouse/index.ts';
import { clickhouseMissing } from '../cluster/clickhouse.ts';
import { testClickHouseUrl } from '../engines.ts';
import { at, event, logBatch, rejection } from '../fixtures.ts';
import { ids, query } from './contract/common.ts';

const missing = process.env.INTAKE_TEST_CLICKHOUSE_URL ? null : clickhouseMissing();
const skip =
  missing !== null && process.env.CI !== 'true' ? `clickhouse-server is not available: ${missing}` : false;

const batch1 = () =>
  logBatch(1, [
    event('w', 'a1', {
      type: 'identify',
      userId: 'ada',
      anonymousId: 'anon',
      traits: { plan: 'free' },
      timestamp: at(1),
    }),
  ]);
const batch2 = () =>
  logBatch(
    2,
    [
      event('w', 'b1', { type: 'identify', userId: 'ada', traits: { plan: 'pro' }, timestamp: at(2) }),
      event('w', 'b2', { type: 'alias', previousId: 'old-ada', userId: 'ada', timestamp: at(3) }),
      event('w', 'b3', {
        type: 'group',
        userId: 'ada',
        groupId: 'acme',
        traits: { size: 3 },
        timestamp: at(4),
      }),
      event('w', 'b4', { userId: 'bob', timestamp: at(5) }),
    ],
    [rejection('w', 'r1', { receivedAt: at(5) })],
  );

/** Rows per table, physically (no FINAL, no checkpoint): a row written twice shows twice. */
async function physical(ch: ClickHouse): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of [
    'events',
    'rejected',
    'identities',
    'persons',
    'group_profiles',
    'group_members',
    'ingest_log',
  ]) {
    out[t] = Number((await ch.rows(`SELECT count() AS n FROM ${t}`))[0]?.n);
  }
  return out;
}

test('a load cut off after any of its writes, re-loaded after a restart, stores every row once', {
  skip,
  timeout: 300_000,
}, async () => {
  const url = await testClickHouseUrl();
  const proto = ClickHouse.prototype as unknown as {
    insert: (t: string, rows: readonly object[]) => Promise<void>;
  };
  const insert = proto.insert;
  let expected: Record<string, number> | null = null;
  for (let cut = 1; ; cut++) {
    const database = `intake_cut_${process.pid}_${cut}`;
    const a = await ClickHouseStore.open({ url, database });
    await a.sink.load(batch1());
    // The cut: the `cut`-th write of batch 2 lands, and the process is gone (the load never goes on).
    let writes = 0;
    let reached = false;
    let cutTable = '';
    proto.insert = async function (this: ClickHouse, table, rows) {
      if (rows.length === 0) return insert.call(this, table, rows);
      writes++;
      await insert.call(this, table, rows);
      if (writes === cut) {
        reached = true;
        cutTable = table;
        await new Promise(() => {}); // never resolves: what a killed process does
      }
    };
    const loading = a.sink.load(batch2());
    for (let i = 0; i < 200 && !reached; i++) {
      if (await Promise.race([loading.then(() => true), new Promise((r) => setTimeout(() => r(false), 25))]))
        break;
    }
    proto.insert = insert;
    if (!reached) {
      // The whole load ran without reaching the cut: every write point is covered.
      assert.ok(cut > 3, `the load has several writes (${cut - 1})`);
      break;
    }
    // Readers on another node (a new store on the same database, not cleaned yet) see nothing of batch 2.
    const ch = new ClickHouse({ url, database });
    const reader = await ClickHouseStore.open({ url, database, cleanAtOpen: false });
    if (cutTable === 'ingest_log') {
      // Cut after the commit point: the batch is loaded, and its re-load below is skipped.
      assert.deepEqual(ids(await reader.events.listEvents('w', query())), ['a1', 'b1', 'b2', 'b3', 'b4']);
    } else {
      assert.deepEqual(ids(await reader.events.listEvents('w', query())), ['a1'], `cut ${cut}: events`);
      assert.equal((await reader.events.listRejected('w', { limit: 10, offset: 0 })).total, 0, `cut ${cut}`);
      assert.equal(await reader.profiles.getUser('w', 'old-ada'), null, `cut ${cut}: the alias`);
      assert.deepEqual(
        (await reader.profiles.getUser('w', 'ada'))?.traits,
        { plan: 'free' },
        `cut ${cut}: traits`,
      );
      assert.equal(await reader.profiles.getGroup('w', 'acme'), null, `cut ${cut}: group`);
    }

    // The restart: open cleans up, and the log hands batch 2 again.
    const b = await ClickHouseStore.open({ url, database });
    await b.sink.load(batch2());
    assert.equal(await b.sink.checkpoint(), 2);
    assert.deepEqual(
      ids(await b.events.listEvents('w', query())),
      ['a1', 'b1', 'b2', 'b3', 'b4'],
      `cut ${cut}`,
    );
    const ada = await b.profiles.getUser('w', 'old-ada');
    assert.deepEqual(
      [ada?.id, ada?.userIds, ada?.anonymousIds, ada?.traits, ada?.eventCount, ada?.groups],
      ['ada', ['ada'], ['anon', 'old-ada'], { plan: 'pro' }, 4, ['acme']],
      `cut ${cut}: the person`,
    );
    assert.equal((await b.profiles.getGroup('w', 'acme'))?.memberCount, 1);
    assert.equal((await b.events.listRejected('w', { limit: 10, offset: 0 })).total, 1);
    // Physically too: as many rows as one uncut load writes.
    const rows = await physical(ch);
    if (expected === null) expected = await uncut(url, `intake_cut_${process.pid}_ref`);
    assert.deepEqual(rows, expected, `cut ${cut}: rows per table`);
    await b.close();
    await reader.close();
    await ch.exec(`DROP DATABASE ${database}`, {}, null);
  }
});

/** Rows per table after batches 1 and 2 loaded without a cut. */
async function uncut(url: string, database: string): Promise<Record<string, number>> {
  const s = await ClickHouseStore.open({ url, database });
  await s.sink.load(batch1());
  await s.sink.load(batch2());
  const rows = await physical(new ClickHouse({ url, database }));
  await s.close();
  await new ClickHouse({ url, database }).exec(`DROP DATABASE ${database}`, {}, null);
  return rows;
}
