// Keys made by a start that does not get to listen are taken back: they were never shown, and while active
// they would stop the next start from generating (and showing) keys.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { KeyRing } from '../../src/auth/keys.ts';
import { bootstrapThenListen } from '../../src/cli/bootstrap.ts';
import { DuckDBStore } from '../../src/store/duckdb/index.ts';
import { tempDir } from '../helpers.ts';

/** Listens on a port another server holds, as a start that lost the race for it after its check. */
async function listenOnBusyPort(): Promise<void> {
  const other = createServer();
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
  const addr = other.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const mine = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      mine.once('error', reject);
      mine.listen({ port, host: '127.0.0.1', exclusive: true }, resolve);
    });
  } finally {
    mine.close();
    other.close();
  }
}

test('a first start whose listen fails leaves no workspace and no keys; the next start generates them', async () => {
  const dir = tempDir();
  const store = await DuckDBStore.open({ dataDir: dir });
  try {
    const keys = new KeyRing(store);
    await keys.load();
    await assert.rejects(bootstrapThenListen(keys, {}, listenOnBusyPort), /EADDRINUSE/);
    assert.deepEqual(await store.admin.listWorkspaces(), []);
    assert.deepEqual(await store.admin.listKeys(), []);
    const again = await bootstrapThenListen(keys, {}, async () => {});
    assert.deepEqual(again.generated.map((g) => g.key.kind).sort(), ['admin', 'read', 'write']);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('keys added to an existing workspace by a failed start are revoked; the ones it had stay', async () => {
  const dir = tempDir();
  const store = await DuckDBStore.open({ dataDir: dir });
  try {
    const keys = new KeyRing(store);
    await keys.load();
    await bootstrapThenListen(keys, { write: 'w-1', read: 'r-1', admin: 'a-1' }, async () => {});
    await assert.rejects(bootstrapThenListen(keys, { write: 'w-2' }, listenOnBusyPort), /EADDRINUSE/);
    assert.ok(keys.resolve('w-1') && keys.resolve('r-1') && keys.resolve('a-1'));
    assert.equal(keys.resolve('w-2'), undefined, 'the key added by the failed start no longer works');
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
