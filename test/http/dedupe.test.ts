// Exactly once by messageId: retries, concurrent duplicates in flight, and across a restart.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { FileLog } from '../../src/ingest/file/file-log.ts';
import { allEvents, basic, KEYS, startTestApp, type TestApp, tempDir } from '../helpers.ts';

let t: TestApp;
before(async () => {
  t = await startTestApp();
});
after(() => t.close());

const batch = (prefix: string, n: number) => ({
  batch: Array.from({ length: n }, (_, i) => ({
    type: 'track',
    event: 'E',
    userId: `u${i}`,
    messageId: `${prefix}-${i}`,
  })),
});

const post = (app: TestApp['app'], body: unknown) =>
  app.inject({
    method: 'POST',
    url: '/v1/batch',
    headers: { authorization: basic(KEYS.write) },
    payload: body as object,
  });

test('the same batch posted twice is stored once; the retry is acknowledged as duplicates', async () => {
  const first = await post(t.app, batch('retry', 10));
  assert.equal(first.statusCode, 200);
  assert.deepEqual(first.json(), { success: true, accepted: 10, duplicates: 0, rejected: [] });
  const second = await post(t.app, batch('retry', 10));
  assert.equal(second.statusCode, 200);
  assert.equal(second.json().accepted, 0);
  assert.equal(second.json().duplicates, 10);
  assert.equal((await allEvents(t.app, KEYS.read, 'messageId=retry-3')).length, 1);
});

test('concurrent copies of the same batch, in flight together, are stored once', async () => {
  const responses = await Promise.all(Array.from({ length: 8 }, () => post(t.app, batch('conc', 25))));
  for (const r of responses) assert.equal(r.statusCode, 200);
  const accepted = responses.reduce((n, r) => n + r.json().accepted, 0);
  const duplicates = responses.reduce((n, r) => n + r.json().duplicates, 0);
  assert.equal(accepted, 25);
  assert.equal(duplicates, 7 * 25);
  const stored = (await allEvents(t.app)).filter((e) => String(e.messageId).startsWith('conc-'));
  assert.equal(stored.length, 25);
});

test('a messageId repeated inside one batch is stored once', async () => {
  const body = {
    batch: [0, 1, 2].map(() => ({ type: 'track', event: 'E', userId: 'x', messageId: 'inside-1' })),
  };
  const r = await post(t.app, body);
  assert.equal(r.json().accepted, 1);
  assert.equal(r.json().duplicates, 2);
});

test('the same messageId in two workspaces is two events', async () => {
  const created = await t.app.inject({
    method: 'POST',
    url: '/admin/workspaces',
    headers: { authorization: `Bearer ${KEYS.admin}` },
    payload: { name: 'dedupe-other' },
  });
  assert.equal(created.statusCode, 201);
  const keys = created.json().keys as { key: { kind: string }; secret: string }[];
  const write = keys.find((k) => k.key.kind === 'write')?.secret as string;
  const read = keys.find((k) => k.key.kind === 'read')?.secret as string;
  const r = await t.app.inject({
    method: 'POST',
    url: '/v1/batch',
    headers: { authorization: basic(write) },
    payload: batch('retry', 1),
  });
  assert.equal(r.json().accepted, 1);
  assert.equal((await allEvents(t.app, read)).length, 1);
});

test('dedupe memory survives a restart on the same data directory', async () => {
  const dataDir = tempDir();
  const a = await startTestApp({ dataDir });
  assert.equal((await post(a.app, batch('restart', 5))).json().accepted, 5);
  await a.close();
  const b = await startTestApp({ dataDir });
  try {
    const r = await post(b.app, batch('restart', 6));
    assert.equal(r.json().accepted, 1);
    assert.equal(r.json().duplicates, 5);
    assert.equal((await allEvents(b.app)).length, 6);
  } finally {
    await b.close();
  }
});

test('keys sealed out of the exact table into a run file are still duplicates, and new keys are not', async (t2) => {
  if (!(t.log instanceof FileLog)) return t2.skip('the file log seals its dedupe memory');
  const dedupe = t.log.dedupe;
  assert.equal((await post(t.app, batch('sealed', 20))).json().accepted, 20);
  await dedupe.seal();
  assert.equal(dedupe.size.exact, 0, 'every key left the exact table');
  assert.ok(dedupe.size.sealed >= 20);
  const reads = dedupe.reads;
  const r = await post(t.app, batch('sealed', 30));
  assert.deepEqual(r.json(), { success: true, accepted: 10, duplicates: 20, rejected: [] });
  assert.ok(dedupe.reads >= reads + 20, 'each old duplicate was confirmed on disk');
  const stored = (await allEvents(t.app)).filter((e) => String(e.messageId).startsWith('sealed-'));
  assert.equal(stored.length, 30);
});
