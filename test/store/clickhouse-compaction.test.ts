// Compaction of the data dictionary on ClickHouse (src/store/clickhouse/dictionary-compact.ts), on a real
// clickhouse-server:
// - the store contract's governance and erasure cases pass on a store that compacts after every load and before
//   every dictionary read (so compactions fall between loads and deletions);
// - compactions after every load, interleaved with deletions, on 12 loads: every read answers as on a store that
//   never compacts, and the rows shrink to one per key;
// - a compaction cut off after any of its writes (the process dies there), then a restart, a load and another
//   compaction: every read answers as without compaction, and the rows end folded, one per key;
// - two loaders (lanes 1 and 2) loading interleaved with compactions by either or both at once, one while a load
//   is in flight in the other lane, and a deletion: every read answers as on two loaders that never compact.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ClickHouse, ClickHouseStore } from '../../src/store/clickhouse/index.ts';
import { LANE_SPAN, type StoreLock } from '../../src/store/lanes.ts';
import type { Store } from '../../src/store/types.ts';
import { clickhouseMissing } from '../cluster/clickhouse.ts';
import { databaseOf, engineNamed, testClickHouseUrl } from '../engines.ts';
import { at, event, logBatch } from '../fixtures.ts';
import { tempDir } from '../helpers.ts';
import type { Part } from './contract/common.ts';
import { erasureContract } from './contract/erasure.ts';
import { governanceContract } from './contract/governance.ts';

const missing = process.env.INTAKE_TEST_CLICKHOUSE_URL ? null : clickhouseMissing();
const skip =
  missing !== null && process.env.CI !== 'true' ? `clickhouse-server is not available: ${missing}` : false;

/** Rows folded by the contract's compactions (a final test checks they folded some). */
let folded = 0;

/** The store with a compaction after each load and before each read of the dictionary. */
function compacting(store: ClickHouseStore): Store {
  const compact = async () => {
    const r = await store.compactDictionary();
    if (r) folded += r.days.folded + r.paths.folded;
  };
  const schema = Object.fromEntries(
    Object.entries(store.schema).map(([name, fn]) => [
      name,
      async (...args: unknown[]) => {
        await compact();
        return (fn as (...a: unknown[]) => Promise<unknown>)(...args);
      },
    ]),
  ) as unknown as Store['schema'];
  return {
    sink: {
      ...store.sink,
      load: async (batch) => {
        await store.sink.load(batch);
        await compact();
      },
    },
    admin: store.admin,
    events: store.events,
    profiles: store.profiles,
    sql: store.sql,
    insights: store.insights,
    erasure: store.erasure,
    schema,
    plans: store.plans,
    onTombstones: (l) => store.onTombstones(l),
    close: () => store.close(),
  };
}

describe('the store contract on ClickHouse compacting its dictionary between loads and deletions', () => {
  const engine = engineNamed('clickhouse');
  const part: Part = {
    engine,
    test: (name, fn) => test(name, { skip, timeout: 120_000 }, fn),
    async withStore(fn, opts = {}) {
      const dir = tempDir('intake-compaction-');
      const store = await engine.openStore(dir, opts);
      try {
        await fn(compacting(store as ClickHouseStore), dir);
      } finally {
        await store.close();
      }
    },
  };
  governanceContract(part);
  erasureContract(part);
  test('the compactions folded rows', { skip }, () => {
    assert.ok(folded > 0, `${folded} rows folded`);
  });
});

/** What a reader sees of the dictionary of workspace w. */
async function dictionary(s: Store) {
  const names = await s.schema.listNames('w', { volumeFrom: at(0), orderBy: 'name', limit: 10, offset: 0 });
  const bought = await s.schema.getName('w', 'track', 'Bought', at(0));
  const traits = await s.schema.listTraits('w', { kind: 'identify', limit: 10, offset: 0 });
  return {
    names: names.results.map((n) => [n.name, n.count, n.volume.map((v) => v.count)]),
    bought: bought?.properties.map((p) => [p.path, p.count, p.types, p.examples, p.firstSeen, p.lastSeen]),
    traits: [traits.calls, traits.results.map((p) => [p.path, p.count, p.examples])],
  };
}

const DAY = 86_400;
const batches = [
  [
    event('w', 'a1', { userId: 'a', event: 'Bought', properties: { sku: 'x', n: 1 }, timestamp: at(1) }),
    event('w', 'a2', { type: 'identify', userId: 'a', traits: { email: 'a@x.io' }, timestamp: at(2) }),
  ],
  [
    event('w', 'b1', { userId: 'b', event: 'Bought', properties: { sku: 'y', n: 'two' }, timestamp: at(3) }),
    event('w', 'b2', { userId: 'b', event: 'Left', timestamp: at(DAY + 4) }),
  ],
  [
    event('w', 'c1', {
      userId: 'c',
      event: 'Bought',
      properties: { sku: 'z', n: 3 },
      timestamp: at(DAY + 5),
    }),
    event('w', 'c2', { type: 'identify', userId: 'c', traits: { email: 'c@x.io' }, timestamp: at(6) }),
  ],
  [event('w', 'd1', { userId: 'd', event: 'Bought', properties: { sku: 'x', n: 4 }, timestamp: at(7) })],
];

const physical = async (ch: ClickHouse) => ({
  days: Number((await ch.rows('SELECT count() AS n FROM dictionary_days'))[0]?.n),
  paths: Number((await ch.rows('SELECT count() AS n FROM dictionary_paths'))[0]?.n),
});
/** The dictionary's distinct keys, days and paths: what physical() counts once every row is folded. */
const distinctKeys = async (ch: ClickHouse) => ({
  days: Number(
    (
      await ch.rows(
        'SELECT count() AS n FROM (SELECT DISTINCT workspace_id, kind, name, day FROM dictionary_days)',
      )
    )[0]?.n,
  ),
  paths: Number(
    (
      await ch.rows(
        'SELECT count() AS n FROM (SELECT DISTINCT workspace_id, kind, name, path FROM dictionary_paths)',
      )
    )[0]?.n,
  ),
});

test('a compaction cut off after any of its writes: reads answer as without it, and the next one finishes it', {
  skip,
  timeout: 300_000,
}, async () => {
  const url = await testClickHouseUrl();
  // What a store that never compacts answers after the first three batches, and after all four.
  const refDb = databaseOf(tempDir('intake-compaction-ref-'));
  const ref = await ClickHouseStore.open({ url, database: refDb });
  for (let i = 0; i < 3; i++) await ref.sink.load(logBatch(i + 1, batches[i] ?? []));
  const before = await dictionary(ref);
  await ref.sink.load(logBatch(4, batches[3] ?? []));
  const after = await dictionary(ref);
  await ref.close();
  await new ClickHouse({ url, database: refDb }).exec(`DROP DATABASE ${refDb}`, {}, null);

  const proto = ClickHouse.prototype as unknown as {
    insert: (t: string, rows: readonly object[]) => Promise<void>;
    exec: (sql: string, ...rest: unknown[]) => Promise<void>;
  };
  const { insert, exec } = proto;
  let uncut = 0;
  for (let cut = 1; ; cut++) {
    const database = `intake_compactcut_${process.pid}_${cut}`;
    const a = await ClickHouseStore.open({ url, database });
    for (let i = 0; i < 3; i++) await a.sink.load(logBatch(i + 1, batches[i] ?? []));
    const ch = new ClickHouse({ url, database });
    // The cut: the `cut`-th write of the compaction (an insert or a mutation) lands, and the process is gone.
    let writes = 0;
    let reached = false;
    let release: () => void = () => {};
    const gone = new Promise<void>((r) => {
      release = r;
    });
    const hang = async () => {
      writes++;
      if (writes === cut) {
        reached = true;
        release();
        await new Promise(() => {});
      }
    };
    proto.insert = async function (this: ClickHouse, table, rows) {
      await insert.call(this, table, rows);
      if (rows.length > 0) await hang();
    };
    proto.exec = async function (this: ClickHouse, sql, ...rest) {
      await exec.call(this, sql, ...rest);
      if (sql.startsWith('ALTER')) await hang();
    };
    const run = a.compactDictionary();
    await Promise.race([run, gone]);
    proto.insert = insert;
    proto.exec = exec;
    if (!reached) {
      uncut = writes;
      const r = await run;
      assert.ok(r !== null && r.days.written > 0 && r.paths.written > 0, 'the compaction folded rows');
      assert.deepEqual(await dictionary(a), before, 'uncut');
      await a.close();
      await ch.exec(`DROP DATABASE ${database}`, {}, null);
      break;
    }
    // Cut: a reader (another process) sees what it saw before the compaction.
    const b = await ClickHouseStore.open({ url, database });
    assert.deepEqual(await dictionary(b), before, `cut ${cut}: reads after the cut`);
    // The restarted loader loads on and compacts again.
    await b.sink.load(logBatch(4, batches[3] ?? []));
    assert.deepEqual(await dictionary(b), after, `cut ${cut}: after a load`);
    await b.compactDictionary();
    assert.deepEqual(await dictionary(b), after, `cut ${cut}: after the next compaction`);
    // Folded: one row per key.
    const rows = await physical(ch);
    const keys = await distinctKeys(ch);
    assert.deepEqual(rows, keys, `cut ${cut}: one row per key`);
    await b.close(); // `a` hangs in its cut write for good, as a dead process would
    await ch.exec(`DROP DATABASE ${database}`, {}, null);
  }
  assert.ok(uncut >= 4, `the compaction has several writes (${uncut})`);
});

/** Batch `n` of the interleaved test: users u<n % 4>, two names, paths changing type, two days. */
const mixed = (n: number) => [
  event('w', `m${n}-1`, {
    userId: `u${n % 4}`,
    event: 'Bought',
    properties: { sku: `s${n % 5}`, n: n % 3 === 0 ? 'many' : n, [`only${n % 2}`]: true },
    timestamp: at((n % 2) * DAY + n),
  }),
  event('w', `m${n}-2`, { userId: `u${(n + 1) % 4}`, event: 'Left', timestamp: at(n) }),
  event('w', `m${n}-3`, {
    type: 'identify',
    userId: `u${n % 4}`,
    traits: { email: `u${n % 4}@x.io`, visits: n },
    timestamp: at(DAY + n),
  }),
];

async function seen(s: Store) {
  return (await s.schema.seenSince('w', at(0))).map((n) => [
    n.kind,
    n.name,
    n.count,
    n.properties.map((p) => [p.path, p.count, p.types, p.examples]),
  ]);
}

test('compactions interleaved with loads and deletions: every read answers as on a store that never compacts', {
  skip,
  timeout: 300_000,
}, async () => {
  const url = await testClickHouseUrl();
  const refDb = databaseOf(tempDir('intake-compaction-mixed-ref-'));
  const db = databaseOf(tempDir('intake-compaction-mixed-'));
  const ref = await ClickHouseStore.open({ url, database: refDb });
  const s = await ClickHouseStore.open({ url, database: db });
  const ch = new ClickHouse({ url, database: db });
  const erase = async (store: ClickHouseStore, user: string) => {
    const job = await store.erasure.requestDeletion('w', user);
    for (let i = 0; i < 400 && (await store.profiles.getDeletion('w', job.id))?.status !== 'done'; i++)
      await new Promise((r) => setTimeout(r, 25));
    assert.equal((await store.profiles.getDeletion('w', job.id))?.status, 'done');
  };
  // Reads in the middle of a deletion, once its rows of the state that remains are written and before the
  // older rows are deleted: they answer as the deletion finished (its rows outrank a compaction's at the same seq).
  const proto = ClickHouse.prototype as unknown as {
    exec: (sql: string, ...rest: unknown[]) => Promise<void>;
  };
  const exec = proto.exec;
  let midway: (() => Promise<void>) | null = null;
  const midwayChecked: string[] = [];
  proto.exec = async function (this: ClickHouse, sql, ...rest) {
    const check = midway;
    if (check && sql.startsWith('ALTER TABLE dictionary_paths DELETE WHERE workspace_id')) {
      midway = null;
      await check();
    }
    return exec.call(this, sql, ...rest);
  };
  let foldedHere = 0;
  for (let n = 1; n <= 12; n++) {
    await ref.sink.load(logBatch(n, mixed(n)));
    await s.sink.load(logBatch(n, mixed(n)));
    const r = await s.compactDictionary();
    foldedHere += r ? r.days.folded + r.paths.folded : 0;
    if (n === 5 || n === 9) {
      await erase(ref, `u${n % 4}`);
      const want = [await dictionary(ref), await seen(ref)];
      midway = async () => {
        midwayChecked.push(
          JSON.stringify([await dictionary(s), await seen(s)]) === JSON.stringify(want)
            ? 'same'
            : `batch ${n}: ${JSON.stringify([await dictionary(s), await seen(s)])} != ${JSON.stringify(want)}`,
        );
      };
      await erase(s, `u${n % 4}`);
      if (n === 9) await s.compactDictionary(); // right after a deletion, before the next load
    }
    assert.deepEqual(await dictionary(s), await dictionary(ref), `after batch ${n}: names, paths, traits`);
    assert.deepEqual(await seen(s), await seen(ref), `after batch ${n}: seenSince`);
  }
  proto.exec = exec;
  assert.deepEqual(midwayChecked, ['same', 'same'], 'reads in the middle of the deletions');
  assert.ok(foldedHere > 50, `rows folded: ${foldedHere}`);
  const refRows = await physical(new ClickHouse({ url, database: refDb }));
  const rows = await physical(ch);
  const keys = await distinctKeys(ch);
  assert.deepEqual(rows, keys, 'one row per key');
  assert.ok(
    rows.days < refRows.days && rows.paths < refRows.paths,
    `${JSON.stringify(rows)} < ${JSON.stringify(refRows)}`,
  );
  await ref.close();
  await s.close();
  for (const d of [refDb, db]) await ch.exec(`DROP DATABASE ${d}`, {}, null);
});

/**
 * A read with each path's examples replaced by how many there are, and the examples apart. Across lanes a path's
 * examples are not the same on a store that compacts: "the first 3 distinct in seq order" cannot be folded at a
 * snapshot of several lanes (rows committed at it are not a prefix of the seq order), so the examples of a
 * compacting store are the first of its folded row and then of the rows loaded after it. Checked apart: as many
 * (until a deletion), distinct, and each a value the path held.
 */
function apart(
  read: Awaited<ReturnType<typeof dictionary>> | Awaited<ReturnType<typeof seen>>,
  counts: boolean,
): {
  exact: string;
  examples: Array<[string, unknown[]]>;
} {
  const examples: Array<[string, unknown[]]> = [];
  // A path's row, [path, count, ..., examples at `at`, ...]: its examples out.
  const out = (row: unknown[], at: number) => {
    examples.push([String(row[0]), row[at] as unknown[]]);
    return row.map((y, k) => (k === at ? (counts ? (y as unknown[]).length : '*') : y));
  };
  if (Array.isArray(read))
    return {
      exact: JSON.stringify(
        read.map(([k, n, c, ps]) => [k, n, c, (ps as unknown[][]).map((p) => out(p, 3))]),
      ),
      examples,
    };
  const exact = JSON.stringify({
    names: read.names,
    bought: read.bought?.map((p) => out(p as unknown[], 3)),
    traits: [read.traits[0], (read.traits[1] as unknown[][]).map((p) => out(p, 2))],
  });
  return { exact, examples };
}

/** The values each path held in the events loaded (top-level properties and traits). */
function heldValues(loaded: ReturnType<typeof mixed>): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const e of loaded)
    for (const obj of [e.properties, e.traits])
      for (const [k, v] of Object.entries(obj ?? {})) {
        const set = out.get(k) ?? new Set<string>();
        set.add(JSON.stringify(v));
        out.set(k, set);
      }
  return out;
}

function sameButExamples(
  got: Parameters<typeof apart>[0],
  want: Parameters<typeof apart>[0],
  held: Map<string, Set<string>>,
  what: string,
  erased = false,
) {
  // After a deletion the counts may differ too: it takes the deleted values out of the first examples, and
  // those were not the same ones.
  const [g, w] = [apart(got, !erased), apart(want, !erased)];
  assert.equal(g.exact, w.exact, what);
  for (const [path, ex] of g.examples) {
    assert.equal(
      new Set(ex.map((x) => JSON.stringify(x))).size,
      ex.length,
      `${what}: ${path} examples distinct`,
    );
    for (const x of ex)
      assert.ok(held.get(path)?.has(JSON.stringify(x)), `${what}: ${path} example ${x} held`);
  }
}

/** One holder at a time, never dirty: the two loaders' profile steps and deletions take turns. */
class SerialLock implements StoreLock {
  private tail: Promise<unknown> = Promise.resolve();
  hold<T>(fn: (held: { dirty: boolean; check(): Promise<void> }) => Promise<T>): Promise<T> {
    const run = this.tail.then(() => fn({ dirty: false, check: async () => {} }));
    this.tail = run.catch(() => {});
    return run;
  }
}

test('two lanes loading interleaved with compactions (two at once, one during a load in flight) and a deletion: every read answers as on a store that never compacts', {
  skip,
  timeout: 300_000,
}, async () => {
  const url = await testClickHouseUrl();
  const refDb = `intake_compactlanes_${process.pid}_ref`;
  const db = `intake_compactlanes_${process.pid}`;
  /** Two loaders (lanes 1 and 2) on one database. */
  const loaders = async (database: string) => {
    const lock = new SerialLock();
    const open = async () => {
      const s = await ClickHouseStore.open({ url, database, cleanAtOpen: false });
      s.sink.lanes?.useLock(lock);
      return s;
    };
    return [await open(), await open()] as const;
  };
  const [r1, r2] = await loaders(refDb);
  const [a, b] = await loaders(db);
  const ch = new ClickHouse({ url, database: db });
  const erase = async (store: ClickHouseStore, user: string) => {
    const job = await store.erasure.requestDeletion('w', user);
    for (let i = 0; i < 400 && (await store.profiles.getDeletion('w', job.id))?.status !== 'done'; i++)
      await new Promise((r) => setTimeout(r, 25));
    assert.equal((await store.profiles.getDeletion('w', job.id))?.status, 'done');
  };
  // A load in flight in lane 2 while lane 1's loader compacts: after its dictionary rows are inserted, before its
  // commit, a compaction runs and a reader sees what it saw before that load.
  const proto = ClickHouse.prototype as unknown as {
    insert: (t: string, rows: readonly object[]) => Promise<void>;
  };
  const insert = proto.insert;
  let inFlight: (() => Promise<void>) | null = null;
  const inFlightChecked: string[] = [];
  proto.insert = async function (this: ClickHouse, t, rows) {
    await insert.call(this, t, rows);
    const check = inFlight;
    if (check && t === 'dictionary_paths' && rows.length > 0) {
      inFlight = null;
      await check();
    }
  };
  let foldedHere = 0;
  const loaded: ReturnType<typeof mixed> = [];
  let held = heldValues(loaded);
  const compact = async (s: ClickHouseStore) => {
    const r = await s.compactDictionary();
    foldedHere += r ? r.days.folded + r.paths.folded : 0;
  };
  try {
    for (let n = 1; n <= 12; n++) {
      // Odd batches load in lane 1 (loader a), even ones in lane 2 (loader b), the same on the reference.
      const lane = n % 2 === 0 ? 2 : 1;
      const seq = lane * LANE_SPAN + Math.ceil(n / 2);
      const [rs, s] = lane === 1 ? [r1, a] : [r2, b];
      // What a reader saw before batch n.
      const want = { d: await dictionary(r1), s: await seen(r1), held };
      await rs.sink.load(logBatch(seq, mixed(n)));
      loaded.push(...mixed(n));
      held = heldValues(loaded);
      if (n === 6)
        inFlight = async () => {
          await compact(a);
          sameButExamples(await dictionary(a), want.d, want.held, 'in flight: names, paths, traits');
          sameButExamples(await seen(a), want.s, want.held, 'in flight: seenSince');
          inFlightChecked.push('same');
        };
      await s.sink.load(logBatch(seq, mixed(n)));
      if (n % 3 === 0) await Promise.all([compact(a), compact(b)]);
      else await compact(n % 2 === 0 ? b : a);
      if (n === 7) {
        await erase(r2, 'u3');
        await erase(b, 'u3');
        await compact(a);
      }
      const what = `after batch ${n}`;
      sameButExamples(
        await dictionary(a),
        await dictionary(r1),
        held,
        `${what}: names, paths, traits`,
        n >= 7,
      );
      sameButExamples(await seen(b), await seen(r1), held, `${what}: seenSince`, n >= 7);
    }
  } finally {
    proto.insert = insert;
  }
  assert.deepEqual(inFlightChecked, ['same'], 'reads while a load is in flight in the other lane');
  assert.ok(foldedHere > 50, `rows folded: ${foldedHere}`);
  await compact(b);
  const rows = await physical(ch);
  const keys = await distinctKeys(ch);
  assert.deepEqual(rows, keys, 'one row per key');
  for (const s of [r1, r2, a, b]) await s.close();
  for (const d of [refDb, db]) await ch.exec(`DROP DATABASE ${d}`, {}, null);
});

test('a store made before the snap column gets it at open, and loads, compacts and reads as a new one', {
  skip,
  timeout: 120_000,
}, async () => {
  const url = await testClickHouseUrl();
  const [oldDb, newDb] = [`intake_compactold_${process.pid}`, `intake_compactnew_${process.pid}`];
  const ch = new ClickHouse({ url, database: oldDb });
  await ch.exec(`CREATE DATABASE ${oldDb}`, {}, null);
  // The dictionary tables as main had them before this column.
  await ch.exec(`CREATE TABLE dictionary_days (
     workspace_id String, kind String, name String, day Int32, count Int64, first_ms Int64, last_ms Int64,
     seq UInt64, job String) ENGINE = MergeTree ORDER BY (workspace_id, kind, name, day)`);
  await ch.exec(`CREATE TABLE dictionary_paths (
     workspace_id String, kind String, name String, path String, count Int64, types Array(Int64),
     first_ms Int64, last_ms Int64, examples Array(String), seq UInt64, job String
   ) ENGINE = MergeTree ORDER BY (workspace_id, kind, name, path)`);
  const [old, fresh] = [
    await ClickHouseStore.open({ url, database: oldDb }),
    await ClickHouseStore.open({ url, database: newDb }),
  ];
  const cols = await ch.rows(
    `SELECT table AS t, type AS y FROM system.columns WHERE database = ${JSON.stringify(oldDb).replaceAll('"', "'")}
      AND name = 'snap' ORDER BY t`,
  );
  assert.deepEqual(
    cols.map((r) => [r.t, r.y]),
    [
      ['dictionary_days', 'Array(UInt64)'],
      ['dictionary_paths', 'Array(UInt64)'],
    ],
  );
  for (let i = 0; i < 4; i++)
    for (const s of [old, fresh]) {
      await s.sink.load(logBatch(i + 1, batches[i] ?? []));
      await s.compactDictionary();
    }
  assert.deepEqual(await dictionary(old), await dictionary(fresh));
  await old.close();
  await fresh.close();
  for (const d of [oldDb, newDb]) await ch.exec(`DROP DATABASE ${d}`, {}, null);
});
