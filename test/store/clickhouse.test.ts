// The ClickHouse store's own load protocol (src/store/clickhouse/load.ts), on a real clickhouse-server: a load cut
// off after any of its writes (the process dies there: the write landed, nothing after it ran), followed by a
// restart and the re-load of the same batch, stores every row once and loses none; and while cut off, readers
// see nothing of it.
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { ClickHouse, ClickHouseStore, ClickHouseUnavailable } from '../../src/store/clickhouse/index.ts';
import { clickhouseMissing, freePort } from '../cluster/clickhouse.ts';
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
    'dictionary_days',
    'dictionary_paths',
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
      const traits = await reader.schema.listTraits('w', { kind: 'identify', limit: 10, offset: 0 });
      assert.deepEqual([traits.calls, traits.results[0]?.count], [1, 1], `cut ${cut}: the dictionary`);
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
    const traits = await b.schema.listTraits('w', { kind: 'identify', limit: 10, offset: 0 });
    assert.deepEqual(
      [traits.calls, traits.results.map((p) => [p.path, p.count, p.examples])],
      [2, [['plan', 2, ['free', 'pro']]]],
      `cut ${cut}: the dictionary`,
    );
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

/** What a reader sees of the dictionary of workspace w. */
async function dictionary(s: ClickHouseStore) {
  const names = await s.schema.listNames('w', { volumeFrom: at(0), orderBy: 'name', limit: 10, offset: 0 });
  const bought = await s.schema.getName('w', 'track', 'Bought', at(0));
  const traits = await s.schema.listTraits('w', { kind: 'identify', limit: 10, offset: 0 });
  return {
    names: names.results.map((n) => [n.name, n.count, n.volume.map((v) => v.count)]),
    bought: bought?.properties.map((p) => [p.path, p.count, p.types, p.examples]),
    traits: [traits.calls, traits.results.map((p) => [p.path, p.count, p.examples])],
  };
}

test('a deletion cut off after any of its writes finishes after a restart with the dictionary as an uncut one leaves it', {
  skip,
  timeout: 300_000,
}, async () => {
  const url = await testClickHouseUrl();
  const proto = ClickHouse.prototype as unknown as {
    insert: (t: string, rows: readonly object[]) => Promise<void>;
    exec: (sql: string, ...rest: unknown[]) => Promise<void>;
  };
  const { insert, exec } = proto;
  const events = [
    event('w', 'a1', { userId: 'a', event: 'Bought', properties: { sku: 'x', n: 1 }, timestamp: at(1) }),
    event('w', 'b1', { userId: 'b', event: 'Bought', properties: { sku: 'y', n: 'two' }, timestamp: at(2) }),
    event('w', 'b2', { userId: 'b', event: 'Left', timestamp: at(3) }),
    event('w', 'b3', { type: 'identify', userId: 'b', traits: { email: 'b@x.io' }, timestamp: at(4) }),
    event('w', 'a2', { type: 'identify', userId: 'a', traits: { email: 'a@x.io' }, timestamp: at(5) }),
  ];
  const after = {
    names: [['Bought', 1, [1]]],
    bought: [
      ['n', 1, { integer: 1 }, [1]],
      ['sku', 1, { string: 1 }, ['x']],
    ],
    traits: [1, [['email', 1, ['a@x.io']]]],
  };
  let uncut = 0;
  for (let cut = 1; ; cut++) {
    const database = `intake_delcut_${process.pid}_${cut}`;
    const a = await ClickHouseStore.open({ url, database });
    await a.sink.load(logBatch(1, events));
    // The cut: the `cut`-th write of the deletion (an insert or a mutation) lands, and the process is gone.
    let writes = 0;
    let reached = false;
    let armed = false; // from the job's first write on (creating it is the request's)
    const hang = async () => {
      if (!armed) return;
      writes++;
      if (writes === cut) {
        reached = true;
        await new Promise(() => {});
      }
    };
    proto.insert = async function (this: ClickHouse, table, rows) {
      await insert.call(this, table, rows);
      if (rows.length > 0) await hang();
    };
    proto.exec = async function (this: ClickHouse, sql, ...rest) {
      await exec.call(this, sql, ...rest);
      if (sql.startsWith('ALTER')) await hang();
    };
    const job = await a.erasure.requestDeletion('w', 'b');
    armed = true;
    for (let i = 0; i < 400 && !reached; i++) {
      if ((await a.profiles.getDeletion('w', job.id))?.status === 'done') break;
      await new Promise((r) => setTimeout(r, 25));
    }
    proto.insert = insert;
    proto.exec = exec;
    if (!reached) {
      uncut = writes;
      assert.deepEqual(await dictionary(a), after, 'uncut');
      break;
    }
    // The restart runs the unfinished job again.
    const b = await ClickHouseStore.open({ url, database });
    for (let i = 0; i < 400 && (await b.profiles.getDeletion('w', job.id))?.status !== 'done'; i++)
      await new Promise((r) => setTimeout(r, 25));
    assert.equal((await b.profiles.getDeletion('w', job.id))?.status, 'done', `cut ${cut}`);
    assert.deepEqual(await dictionary(b), after, `cut ${cut}`);
    await b.close();
    await new ClickHouse({ url, database }).exec(`DROP DATABASE ${database}`, {}, null);
  }
  assert.ok(uncut > 4, `the deletion has several writes (${uncut})`);
});

test('ClickHouse unreachable: a refused connection and a server that never answers a SELECT are a coded 503', async () => {
  const isUnavailable = (why: RegExp) => (err: unknown) => {
    assert.ok(err instanceof ClickHouseUnavailable, String(err));
    assert.deepEqual(
      [err.statusCode, err.code, err.headers],
      [503, 'INTAKE_ERR_STORE_UNAVAILABLE', { 'retry-after': '1' }],
    );
    assert.match(err.message, why);
    assert.doesNotMatch(err.message, /127\.0\.0\.1|SELECT/, 'neither the address nor the SQL for clients');
    assert.equal(err.sql, 'SELECT 1\nFORMAT JSONEachRow');
    return true;
  };
  // Nothing listens: refused.
  const closed = new ClickHouse({ url: `http://127.0.0.1:${await freePort()}`, database: 'd' });
  await assert.rejects(closed.rows('SELECT 1'), isUnavailable(/cannot be reached: .*ECONNREFUSED/));
  // Accepts and never answers, as a SIGSTOPped server does: the SELECT gives up after timeoutMs.
  const sockets: Socket[] = [];
  const silent = createServer((s) => sockets.push(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const port = (silent.address() as { port: number }).port;
  try {
    const hung = new ClickHouse({ url: `http://127.0.0.1:${port}`, database: 'd', timeoutMs: 200 });
    await assert.rejects(hung.rows('SELECT 1'), isUnavailable(/no answer within 200 ms/));
  } finally {
    for (const s of sockets) s.destroy();
    silent.close();
  }
});

test('tracking plans saved at once on two nodes take distinct versions, each read back as saved', {
  skip,
  timeout: 120_000,
}, async () => {
  const url = await testClickHouseUrl();
  const database = `intake_plans_${process.pid}`;
  const a = await ClickHouseStore.open({ url, database });
  const b = await ClickHouseStore.open({ url, database });
  try {
    // Two nodes (two stores: each serializes only its own saves), five saves each, all at once.
    const saved = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).plans.savePlan('w', { n: i }, at(i))),
    );
    assert.deepEqual(
      saved.map((p) => p.version).sort((x, y) => x - y),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    for (const p of saved) assert.deepEqual((await a.plans.getPlan('w', p.version))?.plan, p.plan);
    assert.equal((await b.plans.listPlans('w')).length, 10);
    assert.equal((await a.admin.counts()).planVersions, 10);
  } finally {
    await a.close();
    await b.close();
    await new ClickHouse({ url, database }).exec(`DROP DATABASE ${database}`, {}, null);
  }
});
