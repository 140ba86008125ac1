// A read right after a crash-restart answers: the log's recovery must not leave reads waiting for a segment
// that will never be loaded (the empty segment open at the kill, which recovery deletes).
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, test } from 'node:test';
import { basic, bearer, KEYS, startServerProcess, tempDir } from '../helpers.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** GET /events; fails instead of hanging (the old code never answered: undici gave up after 300 s). */
async function total(url: string): Promise<number> {
  const r = await fetch(`${url}/events`, {
    headers: { authorization: bearer(KEYS.read) },
    signal: AbortSignal.timeout(10_000),
  });
  assert.equal(r.status, 200, await r.clone().text());
  return ((await r.json()) as { total: number }).total;
}

test('SIGKILL while the open log segment is empty: the first read after restart answers at once', async () => {
  const dataDir = tempDir();
  dirs.push(dataDir);
  let server = await startServerProcess(dataDir);
  try {
    const w = await fetch(`${server.url}/v1/track`, {
      method: 'POST',
      headers: { authorization: basic(KEYS.write), 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'u', event: 'Before', messageId: 'm-1' }),
    });
    assert.equal(w.status, 200);
    // The read loads the segment; the log then opens the next one, empty, and the kill leaves it behind.
    assert.equal(await total(server.url), 1);
  } finally {
    server.proc.kill('SIGKILL');
    await server.exited;
  }

  server = await startServerProcess(dataDir);
  try {
    assert.equal(await total(server.url), 1);
    const w = await fetch(`${server.url}/v1/track`, {
      method: 'POST',
      headers: { authorization: basic(KEYS.write), 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'u', event: 'After', messageId: 'm-2' }),
    });
    assert.equal(w.status, 200);
    assert.equal(await total(server.url), 2);
  } finally {
    server.proc.kill('SIGKILL');
    await server.exited;
  }
});

test('SIGKILL of a fresh server, before any event: the first read after restart answers', async () => {
  const dataDir = tempDir();
  dirs.push(dataDir);
  let server = await startServerProcess(dataDir);
  server.proc.kill('SIGKILL');
  await server.exited;
  server = await startServerProcess(dataDir);
  try {
    assert.equal(await total(server.url), 0);
  } finally {
    server.proc.kill('SIGKILL');
    await server.exited;
  }
});
