// The port is the whole seam between profile application and its engine: the engine-neutral apply
// (src/profiles/apply.ts) over a Map-backed port (memory-port.ts) leaves the same tables as over the DuckDB
// port, on the same random batches, whether the caches hold every row, some of them, or none, and across a
// reload of the caches (a restart) halfway through.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import type { CanonicalEvent } from '../../src/core/event.ts';
import { applyProfiles } from '../../src/profiles/apply.ts';
import { ProfileCaches } from '../../src/profiles/cache.ts';
import type { ProfilePort } from '../../src/profiles/port.ts';
import { Db } from '../../src/store/duckdb/db.ts';
import { DuckDBProfilePort } from '../../src/store/duckdb/profile-port.ts';
import { MIGRATIONS } from '../../src/store/duckdb/schema.ts';
import { memoryPort, sorted, type Tables } from './memory-port.ts';
import { randomEvents } from './random-events.ts';

const SIZES = [30, 5, 60, 1, 100, 4, 200];
const CAP = 4;

/** The DuckDB tables in the memory port's shape (same names, same order of keys, times in ms). */
const DUMP: { [T in keyof Tables]: string } = {
  identities: 'SELECT workspace_id AS workspace, id, person_id AS person, is_user AS isUser FROM identities',
  persons: 'SELECT workspace_id AS workspace, person_id AS person, state, traits FROM persons',
  groups: `SELECT workspace_id AS workspace, group_id AS "group", state, traits,
             epoch_ms(first_seen)::DOUBLE AS first, epoch_ms(last_seen)::DOUBLE AS last FROM group_profiles`,
  members: `SELECT workspace_id AS workspace, group_id AS "group", member_id AS member,
              epoch_ms(since)::DOUBLE AS since FROM group_members`,
  refusals: `SELECT workspace_id AS workspace, a, b, message_id AS messageId,
               epoch_ms(refused_at)::DOUBLE AS at, reason FROM identity_refusals`,
};

async function duckTables(db: Db): Promise<Tables> {
  const out: Partial<Record<keyof Tables, unknown[]>> = {};
  for (const [t, sql] of Object.entries(DUMP)) out[t as keyof Tables] = sorted(await db.all(sql));
  return out as Tables;
}

interface Engine {
  port: ProfilePort;
  /** Runs `fn` in one transaction (the memory port has none: it never fails halfway here). */
  transaction<T>(fn: () => Promise<T>): Promise<T>;
  tables(): Promise<Tables>;
}

async function duckdb(): Promise<Engine> {
  const db = new Db(await (await DuckDBInstance.create(':memory:')).connect());
  for (const sql of MIGRATIONS) await db.run(sql);
  return {
    port: new DuckDBProfilePort(db),
    async transaction(fn) {
      await db.run('BEGIN TRANSACTION');
      const r = await fn();
      await db.run('COMMIT');
      return r;
    },
    tables: () => duckTables(db),
  };
}

function memory(): Engine {
  const port = memoryPort();
  return { port, transaction: (fn) => fn(), tables: async () => port.tables() };
}

/** Applies `events` in batches of SIZES, as the loader does; reloads the caches from the port after `reloadAt`. */
async function run(e: Engine, limit: number, events: CanonicalEvent[], reloadAt: number): Promise<void> {
  const caches = new ProfileCaches(limit);
  await caches.load(e.port);
  let i = 0;
  for (const [n, size] of SIZES.entries()) {
    const changes = await e.transaction(() => applyProfiles(e.port, events.slice(i, i + size), CAP, caches));
    caches.apply(changes);
    i += size;
    if (n === reloadAt) await caches.load(e.port);
  }
}

for (const [label, limit] of [
  ['every row cached', 500_000],
  ['a few rows cached (the copies are dropped and refilled)', 10],
  ['nothing cached', 0],
] as const) {
  test(`apply over the memory port and over DuckDB leaves the same tables: ${label}`, async () => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const events = randomEvents(seed, 400);
      const [mem, duck] = [memory(), await duckdb()];
      await run(mem, limit, events, seed % SIZES.length);
      await run(duck, limit, events, seed % SIZES.length);
      const [want, got] = [await mem.tables(), await duck.tables()];
      assert.deepEqual(got, want, `seed ${seed}`);
      // The random batches do reach every table.
      for (const [t, rows] of Object.entries(want)) assert.ok(rows.length > 0, `seed ${seed}: ${t} empty`);
      for (const t of ['identities', 'persons'] as const) {
        assert.equal(await duck.port.countRows(t), await mem.port.countRows(t));
        assert.deepEqual(sorted(await duck.port.scanRows(t)), sorted(await mem.port.scanRows(t)));
      }
    }
  });
}
