// Events the cached identities settle skip the identity graph (profiles/effects.ts); the profile tables must end
// the same as when every event takes the long way (a cache that holds nothing). Random batches over small id
// pools, so merges, first-time userIds, aliases, refusals at a small cap, traits and groups all happen, settled
// and unsettled events mixed in one batch.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import type { CanonicalEvent } from '../../src/core/event.ts';
import { applyProfiles } from '../../src/profiles/apply.ts';
import { ProfileCaches } from '../../src/profiles/cache.ts';
import { Db } from '../../src/store/duckdb/db.ts';
import { DuckDBProfilePort } from '../../src/store/duckdb/profile-port.ts';
import { MIGRATIONS } from '../../src/store/duckdb/schema.ts';
import { randomEvents } from './random-events.ts';

const TABLES = [
  'SELECT workspace_id, id, person_id, is_user FROM identities ORDER BY ALL',
  'SELECT workspace_id, person_id, state, traits FROM persons ORDER BY ALL',
  'SELECT workspace_id, group_id, state, traits, first_seen, last_seen FROM group_profiles ORDER BY ALL',
  'SELECT workspace_id, group_id, member_id, since FROM group_members ORDER BY ALL',
  'SELECT workspace_id, a, b FROM identity_refusals ORDER BY ALL',
];

async function open(): Promise<Db> {
  const instance = await DuckDBInstance.create(':memory:');
  const db = new Db(await instance.connect());
  for (const sql of MIGRATIONS) await db.run(sql);
  return db;
}

async function run(db: Db, caches: ProfileCaches, events: CanonicalEvent[], sizes: number[]): Promise<void> {
  let i = 0;
  for (const size of sizes) {
    await db.run('BEGIN TRANSACTION');
    const changes = await applyProfiles(new DuckDBProfilePort(db), events.slice(i, i + size), 4, caches);
    await db.run('COMMIT');
    caches.apply(changes);
    i += size;
  }
}

test('the cached path leaves the same identities, traits, groups and refusals as the long way', async () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    const events = randomEvents(seed, 400);
    const sizes = [30, 5, 60, 1, 100, 4, 200];
    const cached = await open();
    const uncached = await open();
    const caches = new ProfileCaches();
    await caches.load(new DuckDBProfilePort(cached));
    // A cache that can hold nothing: every event takes the long way, every lookup goes to the database.
    const none = new ProfileCaches(0);
    await none.load(new DuckDBProfilePort(uncached));
    await run(cached, caches, events, sizes);
    await run(uncached, none, events, sizes);
    for (const sql of TABLES)
      assert.deepEqual(await cached.all(sql), await uncached.all(sql), `seed ${seed}: ${sql}`);
    const merged = await cached.all(
      'SELECT count(DISTINCT person_id)::INT AS p, count(*)::INT AS n FROM identities',
    );
    assert.ok((merged[0]?.p as number) < (merged[0]?.n as number), 'some ids share a person');
  }
});
