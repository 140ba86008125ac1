// Durability of what is not an event: DuckDB writes no WAL (the ingest log is the loads' WAL), so every other
// acknowledged write (a workspace, a key, its revocation, a user deletion) must be on disk before its answer.
// The real server is killed (SIGKILL) right after the answers, with no load-driven checkpoint in between.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, test } from 'node:test';
import { basic, bearer, KEYS, type ServerProcess, startServerProcess, tempDir } from '../helpers.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const admin = { authorization: bearer(KEYS.admin), 'content-type': 'application/json' };

async function call(url: string, method: string, body?: unknown, headers: Record<string, string> = admin) {
  const r = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: (text === '' ? {} : JSON.parse(text)) as Record<string, unknown> };
}

const track = (url: string, key: string, userId: string, messageId: string) =>
  call(
    `${url}/v1/track`,
    'POST',
    { userId, event: 'E', messageId },
    {
      authorization: basic(key),
      'content-type': 'application/json',
    },
  );

async function messageIds(url: string): Promise<string[]> {
  const r = await call(`${url}/events?limit=1000`, 'GET', undefined, { authorization: bearer(KEYS.read) });
  assert.equal(r.status, 200);
  return (r.body.results as Array<{ messageId: string }>).map((e) => e.messageId).sort();
}

test('SIGKILL right after the answers: a new workspace, its keys, a revoked key and a user deletion survive', async () => {
  const dataDir = tempDir();
  dirs.push(dataDir);
  // No checkpoint driven by loads: only the writes' own can have put them on disk.
  const env = { INTAKE_DUCKDB_CHECKPOINT_ROWS: '100000000' };
  let server: ServerProcess = await startServerProcess(dataDir, env);
  let job = '';
  let ws = { id: '', write: '', extra: { id: '', secret: '' }, revoked: { id: '', secret: '' } };
  try {
    for (const [user, id] of [
      ['gone', 'g1'],
      ['gone', 'g2'],
      ['kept', 'k1'],
    ] as const) {
      assert.equal((await track(server.url, KEYS.write, user, id)).status, 200);
    }
    assert.deepEqual(await messageIds(server.url), ['g1', 'g2', 'k1']);

    const created = await call(`${server.url}/admin/workspaces`, 'POST', { name: 'durable' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const keys = created.body.keys as Array<{ key: { kind: string }; secret: string }>;
    const wsId = (created.body.workspace as { id: string }).id;
    const newKey = async () => {
      const r = await call(`${server.url}/admin/workspaces/${wsId}/keys`, 'POST', { kind: 'write' });
      assert.equal(r.status, 201);
      return { id: (r.body.key as { id: string }).id, secret: String(r.body.secret) };
    };
    ws = {
      id: wsId,
      write: keys.find((k) => k.key.kind === 'write')?.secret as string,
      extra: await newKey(),
      revoked: await newKey(),
    };
    const revoked = await call(`${server.url}/admin/workspaces/${wsId}/keys/${ws.revoked.id}`, 'DELETE');
    assert.ok(revoked.status < 300, `revoke: ${revoked.status}`);
    const deletion = await call(`${server.url}/users/gone`, 'DELETE');
    assert.equal(deletion.status, 202);
    job = String(deletion.body.id);
  } finally {
    // Right after the last answer: nothing closed, no checkpoint on the way out.
    server.proc.kill('SIGKILL');
    assert.equal(await server.exited, 'SIGKILL');
  }

  server = await startServerProcess(dataDir, env);
  try {
    const list = await call(`${server.url}/admin/workspaces`, 'GET');
    assert.ok(JSON.stringify(list.body).includes(ws.id), 'the workspace is there');
    assert.equal((await track(server.url, ws.write, 'u', 'm1')).status, 200, "the workspace's own key works");
    assert.equal((await track(server.url, ws.extra.secret, 'u', 'm2')).status, 200, 'the key added works');
    assert.equal(
      (await track(server.url, ws.revoked.secret, 'u', 'm3')).status,
      401,
      'the revoked key stays revoked',
    );
    // The deletion job was kept (pending, or done): it finishes, and the user's events are gone.
    let status = '';
    for (let i = 0; i < 200 && status !== 'done'; i++) {
      const r = await call(`${server.url}/deletions/${job}`, 'GET');
      assert.equal(r.status, 200, 'the deletion job survived');
      status = String(r.body.status);
      if (status !== 'done') await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(status, 'done');
    assert.deepEqual(await messageIds(server.url), ['k1']);
  } finally {
    server.proc.kill('SIGKILL');
    await server.exited;
  }
});
