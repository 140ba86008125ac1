// intake migrate: an embedded data directory copied into another store through the store contract. The target
// here is a second embedded store (the cluster's ClickHouse store runs the same code: test/cluster/). The source
// is filled through the HTTP API as a user would: two workspaces, identities, groups, a plan, a rejected item
// and a deleted person (tombstones).
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadConfig } from '../../src/core/config.ts';
import { ENGINES } from '../../src/runtime/engines.ts';
import { migrate } from '../../src/runtime/migrate.ts';
import type { LogBatch, Store } from '../../src/store/types.ts';
import { engineNamed } from '../engines.ts';
import { bearer, KEYS, startTestApp, tempDir } from '../helpers.ts';
import { at, send } from '../profiles/util.ts';

const dirs: string[] = [];
const newDir = () => {
  const d = tempDir('intake-migrate-');
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const open = (dir: string) => ENGINES.embedded.openStore({ ...loadConfig([], {}), dataDir: dir });

let sourceDir = '';
let otherWs = '';

before(async () => {
  sourceDir = newDir();
  const t = await startTestApp({ dataDir: sourceDir, engine: 'embedded' }); // what `intake migrate` moves
  try {
    const inject = async (method: 'POST' | 'PUT' | 'DELETE', url: string, key: string, payload?: object) => {
      const res = await t.app.inject({ method, url, headers: { authorization: bearer(key) }, payload });
      assert.ok(res.statusCode < 300, `${method} ${url}: ${res.statusCode} ${res.body}`);
      return res.json() as Record<string, unknown>;
    };
    const plan = { events: { 'Order Completed': { properties: { type: 'object' } } } };
    await inject('PUT', '/plans/current', KEYS.admin, plan);
    await send(t.app, [
      {
        type: 'identify',
        anonymousId: 'anon-1',
        traits: { plan: 'free' },
        messageId: 'm1',
        timestamp: at(1),
      },
      {
        type: 'identify',
        userId: 'ada',
        anonymousId: 'anon-1',
        traits: { plan: 'pro' },
        messageId: 'm2',
        timestamp: at(2),
      },
      {
        type: 'track',
        event: 'Order Completed',
        userId: 'ada',
        properties: { total: 3 },
        messageId: 'm3',
        timestamp: at(3),
      },
      { type: 'alias', previousId: 'old-ada', userId: 'ada', messageId: 'm4', timestamp: at(4) },
      {
        type: 'group',
        userId: 'ada',
        groupId: 'acme',
        traits: { size: 10 },
        messageId: 'm5',
        timestamp: at(5),
      },
      { type: 'identify', userId: 'bob', traits: { email: 'bob@x.io' }, messageId: 'm6', timestamp: at(6) },
      { type: 'track', event: 'Paid', userId: 'bob', messageId: 'm7', timestamp: at(7) },
      { type: 'track', event: 'Visited', anonymousId: 'anon-9', messageId: 'm8', timestamp: at(8) },
    ]);
    // One item refused inside an accepted batch: kept at /rejected.
    const mixed = await t.app.inject({
      method: 'POST',
      url: '/v1/batch',
      headers: { authorization: `Basic ${Buffer.from(`${KEYS.write}:`).toString('base64')}` },
      payload: {
        batch: [
          { type: 'track', userId: 'carl', messageId: 'bad' },
          { type: 'track', event: 'Ok', userId: 'carl' },
        ],
      },
    });
    assert.equal(mixed.json().rejected.length, 1);
    // Bob deleted: his events go, their messageIds stay refused (tombstones).
    const job = await inject('DELETE', '/users/bob', KEYS.admin);
    for (let i = 0; i < 200; i++) {
      const s = await t.app.inject({
        method: 'GET',
        url: `/deletions/${job.id}`,
        headers: { authorization: bearer(KEYS.read) },
      });
      if (s.json().status === 'done') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const ws = await inject('POST', '/workspaces', KEYS.admin, { name: 'other' });
    otherWs = String(ws.workspaceId);
    const res = await t.app.inject({
      method: 'POST',
      url: '/events',
      headers: { authorization: bearer(String(ws.publicApiKey)) },
      payload: {
        events: [
          { type: 'track', event: 'Upgraded', userId: 'zed' },
          { type: 'identify', userId: 'zed', traits: { a: 1 } },
        ],
      },
    });
    assert.equal(res.statusCode, 201, res.body);
  } finally {
    await t.close();
  }
});

/** What a reader sees of a store, per workspace: events, people, groups, rejections, plans, keys. */
async function snapshot(store: Store) {
  const out: Record<string, unknown> = { counts: await store.admin.counts() };
  for (const w of await store.admin.listWorkspaces()) {
    const events = await store.events.listEvents(w.id, {
      json: [],
      limit: 1000,
      offset: 0,
      orderBy: 'receivedAt',
      direction: 'ASC',
    } as never);
    const people = await store.profiles.listUsers(w.id, { traits: [], limit: 100, offset: 0 });
    out[w.id] = {
      workspace: w,
      events: events.results,
      users: await Promise.all(people.results.map((u) => store.profiles.getUser(w.id, u.id))),
      acme: await store.profiles.getGroup(w.id, 'acme'),
      rejected: (await store.events.listRejected(w.id, { limit: 100, offset: 0 })).results,
      plans: await store.plans.listPlans(w.id).catch((e: Error) => e.message),
      plan: await store.plans.getPlan(w.id).then(
        (p) => p?.plan ?? null,
        (e: Error) => e.message,
      ),
      keys: (await store.admin.listKeys(w.id)).sort((a, b) => (a.id < b.id ? -1 : 1)),
    };
  }
  return out;
}

test('everything moves: the target reads as the source, counts match; a second run copies nothing', async () => {
  const source = await open(sourceDir);
  const targetDir = newDir();
  const target = await open(targetDir);
  const progressFile = join(targetDir, 'migrate.json');
  try {
    const seen: string[] = [];
    const first = await migrate(source, target, {
      progressFile,
      batchSize: 3,
      onProgress: (stage, done, total) => seen.push(`${stage} ${done}/${total}`),
    });
    assert.deepEqual(first.mismatches, []);
    assert.deepEqual(first.copied, {
      workspaces: 2,
      keys: 5,
      plans: 1,
      events: 9,
      rejected: 1,
      tombstones: 2,
    });
    assert.deepEqual(first.source, first.target);
    assert.equal(
      first.source.events,
      9,
      '6 in the default workspace after the deletion, 1 more accepted, 2 in other',
    );
    assert.ok(seen.includes('events 9/9') && seen.includes('rejected 1/1'), seen.join(', '));
    assert.deepEqual(await snapshot(target), await snapshot(source));
    assert.ok(existsSync(progressFile));

    const again = await migrate(source, target, { progressFile, batchSize: 3 });
    assert.deepEqual(again.copied, {
      workspaces: 0,
      keys: 0,
      plans: 0,
      events: 0,
      rejected: 0,
      tombstones: 0,
    });
    assert.deepEqual(again.mismatches, []);
    assert.ok((await snapshot(target))[otherWs], 'the second workspace is there');
  } finally {
    await source.close();
    await target.close();
  }
});

/** The real target store, its sink's load failing on the nth call: before storing, or after it stored. */
function killedAt(store: Store, nth: number, when: 'before' | 'after'): Store {
  let n = 0;
  const sink = {
    ...store.sink,
    load: async (b: LogBatch) => {
      n++;
      if (n === nth && when === 'before') throw new Error('killed before the load');
      await store.sink.load(b);
      if (n === nth && when === 'after') throw new Error('killed after the load, before the progress file');
    },
  };
  return new Proxy(store, { get: (t, p) => (p === 'sink' ? sink : Reflect.get(t, p)) });
}

test('into the ClickHouse store: every count matches, tracking plans included, and it reads back as the source', async (t) => {
  const why = await engineNamed('clickhouse').available?.();
  if (why) {
    if (process.env.CI === 'true') throw new Error(why);
    t.skip(why);
    return;
  }
  const source = await open(sourceDir);
  const targetDir = newDir();
  const target = await engineNamed('clickhouse').openStore(targetDir);
  try {
    const r = await migrate(source, target, { progressFile: join(targetDir, 'migrate.json'), batchSize: 4 });
    assert.deepEqual(r.mismatches, []);
    assert.deepEqual(r.notCopied, []);
    assert.equal(r.copied.plans, 1);
    assert.deepEqual(await snapshot(target), await snapshot(source));
  } finally {
    await source.close();
    await target.close();
  }
});

for (const when of ['before', 'after'] as const) {
  test(`a run stopped ${when} a batch's load is finished by the next: nothing twice, nothing missing`, async () => {
    const source = await open(sourceDir);
    const targetDir = newDir();
    const target = await open(targetDir);
    const progressFile = join(targetDir, 'migrate.json');
    try {
      await assert.rejects(
        migrate(source, killedAt(target, 2, when), { progressFile, batchSize: 2 }),
        /killed/,
      );
      const partial = await target.admin.counts();
      assert.equal(partial.events, when === 'before' ? 2 : 4, 'the batches stored before the stop');
      const rest = await migrate(source, target, { progressFile, batchSize: 2 });
      assert.deepEqual(rest.mismatches, []);
      assert.equal(rest.copied.events, when === 'before' ? 7 : 5, 'the rest, the stopped batch once');
      assert.deepEqual(await snapshot(target), await snapshot(source));
    } finally {
      await source.close();
      await target.close();
    }
  });
}
