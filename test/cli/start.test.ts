// `intake start`: the first start creates the default workspace and prints its keys once; they work.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, test } from 'node:test';
import { startServerProcess, tempDir } from '../helpers.ts';

const dir = tempDir();
after(() => rmSync(dir, { recursive: true, force: true }));

const noKeys = { INTAKE_WRITE_KEY: '', INTAKE_READ_KEY: '', INTAKE_ADMIN_KEY: '' };

test('generated keys are printed on the first start only, and they work', async () => {
  const first = await startServerProcess(dir, noKeys);
  let keys: Record<string, string>;
  try {
    await new Promise((r) => setTimeout(r, 200));
    const out = first.output();
    assert.match(out, /New keys for workspace "default"/);
    keys = Object.fromEntries([...out.matchAll(/(write|read|admin)\s+key: (\S+)/g)].map((m) => [m[1], m[2]]));
    assert.deepEqual(Object.keys(keys).sort(), ['admin', 'read', 'write']);
    const w = await fetch(`${first.url}/v1/track`, {
      method: 'POST',
      headers: { authorization: `Bearer ${keys.write}`, 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'u', event: 'Hello' }),
    });
    assert.equal(w.status, 200);
  } finally {
    first.proc.kill('SIGTERM');
    assert.equal(await first.exited, 0);
  }
  const second = await startServerProcess(dir, noKeys);
  try {
    await new Promise((r) => setTimeout(r, 200));
    assert.doesNotMatch(second.output(), /New keys/);
    const r = await fetch(`${second.url}/events`, { headers: { authorization: `Bearer ${keys.read}` } });
    assert.equal(r.status, 200);
    assert.equal(((await r.json()) as { total: number }).total, 1);
  } finally {
    second.proc.kill('SIGTERM');
    assert.equal(await second.exited, 0);
  }
});
