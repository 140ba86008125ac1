// Key rings on two nodes sharing one store: a revocation made through one holds on the other once it polls.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import { KeyRing } from '../../src/auth/keys.ts';
import { loadConfig } from '../../src/core/config.ts';
import { ENGINES } from '../../src/runtime/engines.ts';
import { tempDir } from '../helpers.ts';

test('a key revoked through one ring stops resolving on another once it refreshes; creation too', async () => {
  const dir = tempDir();
  const store = await ENGINES.embedded.openStore({ ...loadConfig([], {}), dataDir: dir });
  try {
    const a = new KeyRing(store);
    const b = new KeyRing(store);
    await a.load();
    const ws = await a.createWorkspace('shared');
    const { key, secret } = await a.createKey(ws.id, 'write');
    assert.equal(b.resolve(secret), undefined, 'b has not seen the new key yet');
    assert.equal(await b.refresh(), true, 'the keys version moved');
    assert.equal(b.resolve(secret)?.id, key.id);
    assert.equal(await b.refresh(), false, 'nothing changed since');

    assert.ok(await a.revokeKey(ws.id, key.id));
    assert.equal(a.resolve(secret), undefined, 'the revoking ring forgets at once');
    assert.equal(b.resolve(secret)?.id, key.id, 'the other ring still has it until it checks');
    assert.equal(await b.refresh(), true);
    assert.equal(b.resolve(secret), undefined, 'revoked on the other node after its check');

    // watch() polls by itself.
    const { secret: s2, key: k2 } = await a.createKey(ws.id, 'read');
    b.watch(20);
    try {
      for (let i = 0; i < 100 && b.resolve(s2) === undefined; i++)
        await new Promise((r) => setTimeout(r, 20));
      assert.equal(b.resolve(s2)?.id, k2.id, 'the watching ring picked up the new key');
    } finally {
      await b.stop();
    }
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
