// Deleting a user (GDPR): nothing of theirs comes back from any API, the database file no longer holds their
// bytes once purged, and replaying one of their old batches does not resurrect them, even after the dedupe
// window purge. An id with nothing to delete costs no rewrite.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { allEvents, basic, bearer, KEYS, onEngine, startTestApp, type TestApp, tempDir } from '../helpers.ts';
import { at, get, type Item, send } from './util.ts';

/** What the deletion.test.ts tests below check that only the embedded engine has. */
const FILE_ONLY = onEngine({
  clickhouse:
    "it reads the embedded engine's DuckDB file (the deleted bytes, the file's inode across a purge)",
  cluster: "it reads the embedded engine's DuckDB file (the deleted bytes, the file's inode across a purge)",
});

const dataDir = tempDir('intake-deletion-');
after(() => rmSync(dataDir, { recursive: true, force: true }));

const marker = `victim-marker-${Math.random().toString(36).slice(2)}`;
const keeper = `keeper-marker-${Math.random().toString(36).slice(2)}`;

const victimBatch: Item[] = [
  {
    type: 'page',
    name: 'Home',
    anonymousId: 'anon-v',
    properties: { note: marker },
    messageId: 'v-1',
    timestamp: at(1),
  },
  {
    type: 'identify',
    userId: 'user-v',
    anonymousId: 'anon-v',
    traits: { email: `${marker}@x.io`, name: 'Victor' },
    messageId: 'v-2',
    timestamp: at(2),
  },
  {
    type: 'group',
    userId: 'user-v',
    groupId: 'acme',
    traits: { name: 'Acme' },
    messageId: 'v-3',
    timestamp: at(3),
  },
  {
    type: 'track',
    event: 'Paid',
    userId: 'user-v',
    properties: { card: marker },
    messageId: 'v-4',
    timestamp: at(4),
  },
];
const keeperBatch: Item[] = [
  { type: 'identify', userId: 'user-k', traits: { email: 'k@x.io' }, messageId: 'k-1', timestamp: at(1) },
  { type: 'group', userId: 'user-k', groupId: 'acme', messageId: 'k-2', timestamp: at(2) },
  {
    type: 'track',
    event: 'Paid',
    userId: 'user-k',
    properties: { card: keeper },
    messageId: 'k-3',
    timestamp: at(3),
  },
];

/** The database file and its WAL, as one buffer. */
const fileBytes = () =>
  Buffer.concat(
    ['intake.duckdb', 'intake.duckdb.wal']
      .map((f) => join(dataDir, f))
      .filter((p) => existsSync(p))
      .map((p) => readFileSync(p)),
  );

async function everything(t: TestApp): Promise<string> {
  const parts = [JSON.stringify(await allEvents(t.app))];
  for (const url of ['/rejected?limit=1000', '/users?limit=1000', '/groups/acme/users', '/groups/acme']) {
    parts.push(JSON.stringify((await get(t.app, url)).body));
  }
  return parts.join('\n');
}

async function purge(t: TestApp): Promise<Record<string, unknown>> {
  const res = await t.app.inject({
    method: 'POST',
    url: '/admin/purge',
    headers: { authorization: bearer(KEYS.admin) },
  });
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
}

async function deleteUser(t: TestApp, id: string): Promise<Record<string, unknown>> {
  const res = await t.app.inject({
    method: 'DELETE',
    url: `/users/${id}`,
    headers: { authorization: bearer(KEYS.admin) },
  });
  assert.equal(res.statusCode, 202, res.body);
  const job = res.json() as { id: string; status: string };
  assert.ok(['pending', 'running'].includes(job.status));
  assert.equal(res.headers.location, `/deletions/${job.id}`);
  for (let i = 0; i < 200; i++) {
    const s = await get(t.app, `/deletions/${job.id}`);
    assert.equal(s.status, 200);
    if (s.body.status === 'done' || s.body.status === 'failed') return s.body;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('deletion did not finish');
}

test(
  'a deleted user is gone from every API, from the file, and stays gone when old batches are replayed',
  FILE_ONLY,
  async () => {
    let t = await startTestApp({ dataDir });
    try {
      await send(t.app, victimBatch);
      await send(t.app, keeperBatch);
      // An invalid item of the victim's, kept at GET /rejected with its payload.
      const bad = await t.app.inject({
        method: 'POST',
        url: '/v1/batch',
        headers: { authorization: basic(KEYS.write) },
        payload: {
          batch: [{ type: 'track', userId: 'user-v', properties: { x: marker }, messageId: 'v-bad' }],
        },
      });
      assert.equal(bad.json().rejected.length, 1);

      assert.match(await everything(t), new RegExp(marker), 'the victim is visible before');
      assert.equal((await get(t.app, '/users/anon-v')).body.id, 'user-v');
      await t.close(); // checkpoint: the rows are in the file now
      assert.ok(
        fileBytes().includes(marker),
        'the file holds the victim before deletion (so the check below can fail)',
      );
      t = await startTestApp({ dataDir });

      const job = await deleteUser(t, 'anon-v'); // any linked id
      assert.equal(job.status, 'done', JSON.stringify(job));
      assert.equal(job.eventsDeleted, 4);
      assert.equal(job.idsDeleted, 2);
      assert.equal(job.erasedAt, null, 'the bytes wait for the purge');

      const after = await everything(t);
      assert.doesNotMatch(after, new RegExp(marker));
      assert.doesNotMatch(after, /user-v|anon-v/);
      assert.match(after, new RegExp(keeper), 'other users are untouched');
      for (const url of ['/users/user-v', '/users/anon-v', '/users/user-v/events', '/profile/user-v']) {
        assert.equal((await get(t.app, url)).status, 404, url);
      }
      assert.deepEqual((await get(t.app, '/groups/acme')).body.memberCount, 1);

      // A retry of the old batch is acknowledged as duplicates and stores nothing, even after the window purge.
      await t.log.purge(new Date(Date.UTC(9000, 0, 1)));
      const replay = await t.app.inject({
        method: 'POST',
        url: '/v1/batch',
        headers: { authorization: basic(KEYS.write) },
        payload: { batch: victimBatch },
      });
      assert.equal(replay.statusCode, 200);
      assert.equal(replay.json().duplicates, victimBatch.length);
      assert.equal(replay.json().accepted, 0);
      assert.doesNotMatch(await everything(t), new RegExp(marker));
      assert.equal((await get(t.app, '/users/user-v')).status, 404);
      // The keeper's messageIds were purged with the window (no tombstone): a retry of theirs is stored again.
      await send(t.app, keeperBatch.slice(0, 1));
      assert.equal((await allEvents(t.app, KEYS.read, 'messageId=k-1')).length, 2);

      // The purge, on demand: one rewrite, for this deletion.
      const purged = await purge(t);
      assert.equal(purged.rewritten, true, JSON.stringify(purged));
      assert.equal(purged.deletions, 1);
      const erased = (await get(t.app, `/deletions/${job.id}`)).body;
      assert.ok(typeof erased.erasedAt === 'string' && erased.erasedAt >= String(job.finishedAt));
      assert.equal((await purge(t)).rewritten, false, 'nothing left to purge');
    } finally {
      await t.close();
    }

    const bytes = fileBytes();
    assert.ok(bytes.includes(keeper), 'the file is readable by this check: the keeper is still in it');
    assert.ok(!bytes.includes(marker), 'no byte of the victim left in the database file');

    // The rewritten file opens and holds the rest.
    const reopened = await startTestApp({ dataDir });
    try {
      assert.equal((await get(reopened.app, '/users/user-k')).status, 200);
      assert.equal((await get(reopened.app, '/users/user-v')).status, 404);
      // The tombstones are read back at start: after a restart the old batch is still refused.
      const replay = await reopened.app.inject({
        method: 'POST',
        url: '/v1/batch',
        headers: { authorization: basic(KEYS.write) },
        payload: { batch: victimBatch },
      });
      assert.equal(replay.json().duplicates, victimBatch.length);
    } finally {
      await reopened.close();
    }
  },
);

test(
  'deletion needs an admin key; deleting an unknown id completes with nothing deleted and no rewrite',
  FILE_ONLY,
  async () => {
    const t = await startTestApp();
    const file = join(t.dataDir, 'intake.duckdb');
    try {
      const res = await t.app.inject({
        method: 'DELETE',
        url: '/users/x',
        headers: { authorization: bearer(KEYS.read) },
      });
      assert.equal(res.statusCode, 403);
      assert.equal(res.json().code, 'INTAKE_ERR_WRONG_KEY_KIND');
      assert.equal((await get(t.app, '/deletions/nope')).status, 404);
      await send(t.app, keeperBatch);
      const inode = statSync(file).ino;
      // An id with no profile and no events: the job still completes, with nothing to delete, nothing to erase.
      const job = await deleteUser(t, 'nobody-at-all');
      assert.deepEqual([job.status, job.eventsDeleted, job.idsDeleted], ['done', 0, 0]);
      assert.equal(statSync(file).ino, inode, 'the database file was not rewritten');
      assert.equal(job.erasedAt, job.finishedAt, 'erased at once: the file holds nothing of it');
      const status = (await get(t.app, '/admin/purge', KEYS.admin)).body;
      assert.deepEqual([status.waiting, status.dueBy], [0, null]);
      const purged = await purge(t);
      assert.deepEqual([purged.rewritten, purged.deletions], [false, 0]);
      assert.equal(statSync(file).ino, inode, 'nor by the purge');
    } finally {
      await t.close();
    }
  },
);
