// Plan rings on two nodes sharing one store: a plan saved through one is in force on the other once it polls.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import { loadConfig } from '../../src/core/config.ts';
import { CompiledPlan } from '../../src/pipeline/plan/check.ts';
import { PlanRing } from '../../src/plans/ring.ts';
import { ENGINES } from '../../src/runtime/engines.ts';
import { tempDir } from '../helpers.ts';

test('a plan saved through one ring is in force on another once it refreshes or watches', async () => {
  const dir = tempDir();
  const store = await ENGINES.embedded.openStore({ ...loadConfig([], {}), dataDir: dir });
  try {
    const a = new PlanRing(store);
    const b = new PlanRing(store);
    await a.load();
    await b.load();
    assert.equal(await b.refresh(), false, 'nothing saved yet');
    await a.save('w', { events: { 'Signed Up': {} } }, new Date());
    assert.notEqual(a.of('w'), CompiledPlan.NONE, 'the saving ring at once');
    assert.equal(b.of('w'), CompiledPlan.NONE, 'the other ring not until it checks');
    assert.equal(await b.refresh(), true, 'the plans version moved');
    assert.equal(b.of('w').version, 1);
    assert.equal(await b.refresh(), false, 'nothing changed since');

    b.watch(20);
    try {
      await a.save('w', { events: {} }, new Date());
      for (let i = 0; i < 100 && b.of('w').version !== 2; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(b.of('w').version, 2, 'the watching ring picked up version 2');
    } finally {
      await b.stop();
    }
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
