// The purge of deleted users' bytes: one rewrite of the database file for every deletion since the last, on a
// schedule (within the purge interval of the oldest deletion) or on demand, never one per deletion; ingest and
// reads go on while it copies the file, and what they load is in the file swapped in.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Timer } from '../../src/store/duckdb/erasure.ts';
import { allEvents, basic, bearer, KEYS, onEngine, startTestApp, type TestApp, tempDir } from '../helpers.ts';
import { at, get, type Item, send } from './util.ts';

/** What the purge.test.ts tests below check that only the embedded engine has. */
const FILE_ONLY = onEngine({
  clickhouse:
    "the purge rewrites the embedded engine's DuckDB file; ClickHouse deletes rows at once and has no file to rewrite",
  cluster:
    "the purge rewrites the embedded engine's DuckDB file; ClickHouse deletes rows at once and has no file to rewrite",
});

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const newDir = () => {
  const d = tempDir('intake-purge-');
  dirs.push(d);
  return d;
};

const HOUR = 3_600_000;

/** Waits (a few ms at a time, 5 s at most) until `done()`: the store arms its timer just after the job is done. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 250 && !done(); i++) await new Promise((r) => setTimeout(r, 20));
}
const unique = (name: string) => `${name}-marker-${Math.random().toString(36).slice(2)}`;

const batchOf = (user: string, marker: string): Item[] => [
  {
    type: 'identify',
    userId: user,
    traits: { email: `${marker}@x.io` },
    messageId: `${user}-1`,
    timestamp: at(1),
  },
  {
    type: 'track',
    event: 'Paid',
    userId: user,
    properties: { card: marker },
    messageId: `${user}-2`,
    timestamp: at(2),
  },
];

const file = (t: TestApp) => join(t.dataDir, 'intake.duckdb');
const inode = (t: TestApp) => statSync(file(t)).ino;
/** The database file and its WAL, as one buffer. */
const bytes = (t: TestApp) =>
  Buffer.concat([file(t), `${file(t)}.wal`].filter((p) => existsSync(p)).map((p) => readFileSync(p)));

async function admin(t: TestApp, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) {
  const res = await t.app.inject({ method, url, payload, headers: { authorization: bearer(KEYS.admin) } });
  return { status: res.statusCode, body: res.json() as Record<string, unknown> };
}

async function deleteUser(t: TestApp, id: string): Promise<Record<string, unknown>> {
  const res = await admin(t, 'DELETE', `/users/${id}`);
  assert.equal(res.status, 202);
  for (let i = 0; i < 200; i++) {
    const s = await get(t.app, `/deletions/${res.body.id}`);
    if (s.body.status === 'done' || s.body.status === 'failed') return s.body;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('deletion did not finish');
}

/** Users written and checkpointed into the file (so their strings can be found in it). */
async function withUsers(markers: Record<string, string>, opts: Parameters<typeof startTestApp>[0] = {}) {
  const dataDir = newDir();
  const first = await startTestApp({ dataDir });
  for (const [user, marker] of Object.entries(markers)) await send(first.app, batchOf(user, marker));
  await first.close();
  const t = await startTestApp({ ...opts, dataDir });
  for (const marker of Object.values(markers)) assert.ok(bytes(t).includes(marker), 'in the file before');
  return t;
}

test(
  'two deletions cost one rewrite, done by the purge; a purge with nothing waiting rewrites nothing',
  FILE_ONLY,
  async () => {
    const m = { a: unique('a'), b: unique('b'), keep: unique('keep') };
    const t = await withUsers({ 'user-a': m.a, 'user-b': m.b, 'user-keep': m.keep });
    try {
      const before = inode(t);
      const jobA = await deleteUser(t, 'user-a');
      const jobB = await deleteUser(t, 'user-b');
      assert.deepEqual(
        [jobA.status, jobA.eventsDeleted, jobB.status, jobB.eventsDeleted],
        ['done', 2, 'done', 2],
      );
      assert.equal(inode(t), before, 'no rewrite per deletion');
      assert.doesNotMatch(
        JSON.stringify(await allEvents(t.app)),
        /user-a|user-b/,
        'the rows are gone at once',
      );

      const status = (await admin(t, 'GET', '/admin/purge')).body;
      assert.equal(status.waiting, 2);
      assert.equal(status.intervalHours, 24);
      assert.equal(
        new Date(String(status.dueBy)).getTime(),
        new Date(String(jobA.finishedAt)).getTime() + 24 * HOUR,
        'due one interval after the oldest deletion',
      );

      const purged = await admin(t, 'POST', '/admin/purge');
      assert.equal(purged.status, 200);
      assert.deepEqual([purged.body.rewritten, purged.body.deletions], [true, 2]);
      assert.notEqual(inode(t), before, 'one rewrite');
      const bytesAfter = bytes(t);
      assert.ok(!bytesAfter.includes(m.a) && !bytesAfter.includes(m.b), 'both deleted users left the file');
      assert.ok(bytesAfter.includes(m.keep), 'the others are still in it');
      for (const job of [jobA, jobB]) assert.ok((await get(t.app, `/deletions/${job.id}`)).body.erasedAt);

      const rewritten = inode(t);
      const again = await admin(t, 'POST', '/admin/purge');
      assert.deepEqual([again.body.rewritten, again.body.deletions], [false, 0]);
      assert.equal(inode(t), rewritten, 'nothing waiting: no rewrite');
      assert.equal((await admin(t, 'GET', '/admin/purge')).body.waiting, 0);
      assert.equal((await get(t.app, '/users/user-keep')).status, 200);
      assert.equal(
        (await admin(t, 'POST', '/admin/purge').then(() => get(t.app, '/users/user-a'))).status,
        404,
      );
    } finally {
      await t.close();
    }
  },
);

test(
  'POST /admin/purge?wait=false answers 202 at once; GET /admin/purge then shows the purge done',
  FILE_ONLY,
  async () => {
    const m = unique('async');
    const t = await withUsers({ 'user-async': m });
    try {
      await deleteUser(t, 'user-async');
      const res = await admin(t, 'POST', '/admin/purge?wait=false');
      assert.equal(res.status, 202);
      assert.equal(typeof res.body.waiting, 'number');
      let status: Record<string, unknown> = res.body;
      for (let i = 0; i < 250 && !status.last; i++) {
        await new Promise((r) => setTimeout(r, 20));
        status = (await admin(t, 'GET', '/admin/purge')).body;
      }
      assert.deepEqual([status.waiting, (status.last as Record<string, unknown>)?.deletions], [0, 1]);
      assert.ok(!bytes(t).includes(m));
    } finally {
      await t.close();
    }
  },
);

test('the purge needs an admin key', async () => {
  const t = await startTestApp();
  try {
    for (const method of ['GET', 'POST'] as const) {
      const res = await t.app.inject({
        method,
        url: '/admin/purge',
        headers: { authorization: bearer(KEYS.read) },
      });
      assert.equal(res.statusCode, 403);
      assert.equal(res.json().code, 'INTAKE_ERR_WRONG_KEY_KIND');
    }
  } finally {
    await t.close();
  }
});

test(
  'the scheduled purge is armed for the interval after the oldest deletion, and erases when it fires',
  FILE_ONLY,
  async () => {
    // The timer is the test's: it records what the store asks for and fires when told, so nothing waits hours.
    const armed: Array<{ ms: number; fire: () => void; over: boolean }> = [];
    const timer: Timer = (ms, fire) => {
      const entry = {
        ms,
        fire: () => {
          entry.over = true;
          fire();
        },
        over: false,
      };
      armed.push(entry);
      return () => {
        entry.over = true;
      };
    };
    /** Armed, not yet fired nor cancelled. */
    const live = () => armed.filter((a) => !a.over);
    const m = { a: unique('a'), b: unique('b') };
    let t = await withUsers({ 'user-a': m.a, 'user-b': m.b }, { store: { purgeIntervalHours: 6, timer } });
    try {
      assert.equal(live().length, 0, 'nothing to purge: no timer');
      await deleteUser(t, 'nobody');
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(live().length, 0, 'an id with nothing deleted arms nothing');
      await deleteUser(t, 'user-a');
      await until(() => live().length > 0);
      assert.equal(live().length, 1);
      const first = live()[0] as (typeof armed)[number];
      assert.ok(first.ms <= 6 * HOUR && first.ms > 6 * HOUR - 60_000, `armed for ${first.ms} ms`);
      const armedBefore = armed.length;
      await deleteUser(t, 'user-b');
      await until(() => armed.length > armedBefore);
      assert.equal(live().length, 1, 'still one timer');
      assert.ok((live()[0] as (typeof armed)[number]).ms <= first.ms, 'for the oldest deletion');

      // Stopped before it fired: the next start arms it again, for what is left of the interval.
      const inodeBefore = inode(t);
      await t.close();
      assert.equal(live().length, 0, 'closing cancels the timer');
      t = await startTestApp({ dataDir: t.dataDir, store: { purgeIntervalHours: 6, timer } });
      const rearmed = live();
      assert.equal(rearmed.length, 1, 'armed at start');
      assert.ok((rearmed[0] as (typeof armed)[number]).ms <= first.ms);
      assert.ok(bytes(t).includes(m.a), 'not erased yet');

      (rearmed[0] as (typeof armed)[number]).fire();
      let status: Record<string, unknown> = {};
      for (let i = 0; i < 200 && !status.last; i++) {
        await new Promise((r) => setTimeout(r, 25));
        status = (await admin(t, 'GET', '/admin/purge')).body;
      }
      const last = status.last as Record<string, unknown>;
      assert.deepEqual([last.rewritten, last.deletions, status.waiting], [true, 2, 0]);
      assert.notEqual(inode(t), inodeBefore);
      assert.ok(!bytes(t).includes(m.a) && !bytes(t).includes(m.b), 'erased by the scheduled purge');
      assert.equal(live().length, 0, 'nothing left to schedule');
    } finally {
      await t.close();
    }
  },
);

test(
  'ingest and reads go on while the purge copies the file; other writes wait; nothing is lost',
  FILE_ONLY,
  async () => {
    const m = { gone: unique('gone') };
    let inHook: Promise<void> = Promise.resolve();
    let hook = async () => {};
    const t = await withUsers(
      { 'user-gone': m.gone },
      { store: { afterPurgeCopy: () => hook() }, loadDelayMs: 10 },
    );
    let key: Promise<{ status: number; body: Record<string, unknown> }> | undefined;
    let open = true;
    try {
      const wsId = String(
        ((await admin(t, 'GET', '/admin/workspaces')).body.results as Array<{ id: string }>)[0]?.id,
      );
      await deleteUser(t, 'user-gone');
      let keyDone = false;
      hook = () => {
        inHook = (async () => {
          // A write that is not ingest: it must wait for the purge, or the copy would miss it.
          key = admin(t, 'POST', `/admin/workspaces/${wsId}/keys`, { kind: 'read', name: 'during' });
          void key.then(() => {
            keyDone = true;
          });
          // Ingest and a read of what it wrote: they would hang here if they waited for the purge.
          await send(t.app, batchOf('user-new', 'new-during-purge'));
          const res = await t.app.inject({
            method: 'POST',
            url: '/v1/batch',
            headers: { authorization: basic(KEYS.write) },
            payload: { batch: batchOf('user-new2', 'second') },
          });
          assert.equal(res.statusCode, 200);
          const events = await allEvents(t.app, KEYS.read, 'userId=user-new2');
          assert.equal(events.length, 2, 'read while the purge runs');
          assert.equal((await get(t.app, '/users/user-new')).status, 200);
          assert.equal(keyDone, false, 'the admin write waits for the purge');
        })();
        return inHook;
      };
      const purged = await admin(t, 'POST', '/admin/purge');
      await inHook;
      assert.deepEqual([purged.body.rewritten, purged.body.deletions], [true, 1]);
      assert.equal((await key)?.status, 201, 'the admin write ran after the purge');

      // Everything loaded during the copy is in the file swapped in, and stays after a restart.
      const check = async (app: TestApp) => {
        assert.equal((await allEvents(app.app, KEYS.read, 'userId=user-new')).length, 2);
        assert.equal((await allEvents(app.app, KEYS.read, 'userId=user-new2')).length, 2);
        const user = (await get(app.app, '/users/user-new')).body;
        assert.equal((user.traits as Record<string, unknown>).email, 'new-during-purge@x.io');
        assert.equal((await get(app.app, '/users/user-gone')).status, 404);
        const keys = (await admin(app, 'GET', `/admin/workspaces/${wsId}/keys`)).body.results as Array<{
          name: string;
        }>;
        assert.ok(
          keys.some((k) => k.name === 'during'),
          'the key created during the purge is kept',
        );
      };
      await check(t);
      assert.ok(!bytes(t).includes(m.gone));
      await t.close();
      open = false;
      const reopened = await startTestApp({ dataDir: t.dataDir });
      try {
        await check(reopened);
        // The replayed events' dedupe keys hold: a retry is a duplicate.
        const retry = await reopened.app.inject({
          method: 'POST',
          url: '/v1/batch',
          headers: { authorization: basic(KEYS.write) },
          payload: { batch: batchOf('user-new', 'new-during-purge') },
        });
        assert.equal(retry.json().duplicates, 2);
      } finally {
        await reopened.close();
      }
    } finally {
      if (open) await t.close();
    }
  },
);

test(
  "deleting a workspace is a deletion the purge erases: its events leave the file's bytes",
  FILE_ONLY,
  async () => {
    const dataDir = newDir();
    const marker = unique('ws');
    const first = await startTestApp({ dataDir });
    const created = await admin(first, 'POST', '/workspaces', { name: 'doomed' });
    assert.equal(created.status, 201);
    const res = await first.app.inject({
      method: 'POST',
      url: '/events',
      headers: { authorization: bearer(String(created.body.publicApiKey)) },
      payload: { events: [{ type: 'track', event: 'Paid', userId: 'u', properties: { card: marker } }] },
    });
    assert.equal(res.statusCode, 201);
    await first.close();
    const t = await startTestApp({ dataDir });
    try {
      assert.ok(bytes(t).includes(marker), 'in the file before');
      const before = inode(t);
      const gone = await admin(t, 'DELETE', `/workspaces/${created.body.workspaceId}`);
      assert.equal(gone.status, 200);
      assert.equal(inode(t), before, 'no rewrite at the deletion itself');
      assert.equal((await admin(t, 'GET', '/admin/purge')).body.waiting, 1, 'waits for the purge');
      const purged = await admin(t, 'POST', '/admin/purge');
      assert.deepEqual([purged.body.rewritten, purged.body.deletions], [true, 1]);
      assert.ok(!bytes(t).includes(marker), 'erased from the file');
      assert.equal((await admin(t, 'GET', '/admin/purge')).body.waiting, 0);
    } finally {
      await t.close();
    }
  },
);
