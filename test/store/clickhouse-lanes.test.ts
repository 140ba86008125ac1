// Several loaders on one ClickHouse store (src/store/lanes.ts, load.ts), on a real clickhouse-server: two stores
// on one database stand for two loader processes, each loading in its own lane, their profile steps under one
// lock (here an in-process StoreLock; the cluster's is a JetStream lease, test/cluster/loaders.test.ts). A load
// cut off in one lane (its process gone there) is invisible, survives the other lane's commits and cleanups, and
// its re-load stores every row once; a profile step cut off holding the lock is cleaned by the next holder.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClickHouse, ClickHouseStore } from '../../src/store/clickhouse/index.ts';
import { LANE_SPAN, type StoreLock } from '../../src/store/lanes.ts';
import { clickhouseMissing } from '../cluster/clickhouse.ts';
import { testClickHouseUrl } from '../engines.ts';
import { at, event, logBatch } from '../fixtures.ts';
import { ids, query } from './contract/common.ts';

const missing = process.env.INTAKE_TEST_CLICKHOUSE_URL ? null : clickhouseMissing();
const skip =
  missing !== null && process.env.CI !== 'true' ? `clickhouse-server is not available: ${missing}` : false;

/** One holder at a time; dirty after a holder failed, or after expire() (its lease ran out while it hung). */
class TestLock implements StoreLock {
  private tail: Promise<void> = Promise.resolve();
  private dirty = false;
  private expireHolder: (() => void) | null = null;
  hold<T>(fn: (held: { dirty: boolean; check(): Promise<void> }) => Promise<T>): Promise<T> {
    const prev = this.tail;
    let done = () => {};
    this.tail = new Promise<void>((r) => {
      done = r;
    });
    return prev.then(async () => {
      const dirty = this.dirty;
      this.dirty = false;
      let lost = false;
      this.expireHolder = () => {
        lost = true;
        this.dirty = true;
        done();
      };
      try {
        const r = await fn({
          dirty,
          check: async () => {
            if (lost) throw new Error('the lock ran out');
          },
        });
        done();
        return r;
      } catch (err) {
        if (!lost) this.dirty = true;
        done();
        throw err;
      }
    });
  }
  /** The holder's lease runs out (it hangs): the lock goes to the next, dirty. */
  expire(): void {
    this.expireHolder?.();
  }
}

const L1 = LANE_SPAN;
const L2 = 2 * LANE_SPAN;

async function physical(ch: ClickHouse, table: string): Promise<number> {
  return Number((await ch.rows(`SELECT count() AS n FROM ${table}`))[0]?.n);
}

/** Makes the insert into `table` whose rows satisfy `when` land and then hang (the process died there). */
function cutAt(
  table: string,
  when: (rows: readonly object[]) => boolean,
): { restore(): void; reached: () => boolean } {
  const proto = ClickHouse.prototype as unknown as {
    insert: (t: string, rows: readonly object[]) => Promise<void>;
  };
  const insert = proto.insert;
  let reached = false;
  proto.insert = async function (this: ClickHouse, t, rows) {
    await insert.call(this, t, rows);
    if (t === table && rows.length > 0 && when(rows)) {
      reached = true;
      await new Promise(() => {});
    }
  };
  return { restore: () => (proto.insert = insert), reached: () => reached };
}

/** A database for the stores of several loaders (lanes) sharing one profile lock; `open` makes one such store. */
async function lanedDatabase(suffix: string) {
  const url = await testClickHouseUrl();
  const database = `intake_lanes_${process.pid}_${suffix}`;
  const lock = new TestLock();
  const open = async () => {
    const s = await ClickHouseStore.open({ url, database, cleanAtOpen: false });
    s.sink.lanes?.useLock(lock);
    return s;
  };
  return { url, database, lock, open };
}

const until = async (ok: () => boolean) => {
  for (let i = 0; i < 400 && !ok(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(ok(), 'the cut was reached');
};

test('two lanes load one store at once: a load cut off in one is invisible, untouched by the other lane, and loaded once on its re-load', {
  skip,
  timeout: 120_000,
}, async () => {
  const { url, database, open } = await lanedDatabase('a');
  const a = await open();
  const b = await open();
  await a.sink.load(
    logBatch(L1 + 1, [
      event('w', 'a1', {
        type: 'identify',
        userId: 'ada',
        anonymousId: 'anon',
        traits: { plan: 'free' },
        timestamp: at(1),
      }),
    ]),
  );
  assert.equal(await a.sink.lanes?.checkpoint(1), L1 + 1);
  assert.equal(await a.sink.lanes?.checkpoint(2), L2, 'lane 2 has loaded nothing');

  const batchA2 = () =>
    logBatch(L1 + 2, [
      event('w', 'b1', { type: 'identify', userId: 'ada', traits: { plan: 'pro' }, timestamp: at(2) }),
      event('w', 'b2', { type: 'alias', previousId: 'old-ada', userId: 'ada', timestamp: at(3) }),
      event('w', 'b3', {
        type: 'group',
        userId: 'ada',
        groupId: 'acme',
        traits: { size: 3 },
        timestamp: at(4),
      }),
    ]);
  // Lane 1's second load dies right after its events landed.
  const cut = cutAt('events', (rows) => rows.some((r) => (r as { message_id: string }).message_id === 'b1'));
  void a.sink.load(batchA2());
  await until(cut.reached);
  cut.restore();

  // Lane 2 loads and commits meanwhile: its commit (a larger seq) does not show lane 1's rows, and its first
  // load's cleanup of its own lane leaves them.
  await b.sink.load(
    logBatch(L2 + 1, [
      event('w', 'c1', { type: 'identify', userId: 'ada', traits: { seat: 'x' }, timestamp: at(5) }),
    ]),
  );
  const ch = new ClickHouse({ url, database });
  assert.equal(await physical(ch, 'events'), 1 + 3 + 1, "lane 1's uncommitted rows are still there");
  const reader = await ClickHouseStore.open({ url, database, cleanAtOpen: false });
  assert.deepEqual(ids(await reader.events.listEvents('w', query())), ['a1', 'c1']);
  assert.deepEqual((await reader.profiles.getUser('w', 'ada'))?.traits, { plan: 'free', seat: 'x' });
  assert.equal(await reader.profiles.getUser('w', 'old-ada'), null);

  // Lane 1's loader starts again: it cleans its lane and loads the batch again.
  const a2 = await open();
  await a2.sink.load(batchA2());
  assert.equal(await physical(ch, 'events'), 5, 'every event stored once');
  assert.deepEqual(ids(await reader.events.listEvents('w', query())), ['a1', 'b1', 'b2', 'b3', 'c1']);
  const ada = await reader.profiles.getUser('w', 'old-ada');
  assert.deepEqual(
    [ada?.id, ada?.anonymousIds, ada?.traits, ada?.eventCount, ada?.groups],
    ['ada', ['anon', 'old-ada'], { plan: 'pro', seat: 'x' }, 5, ['acme']],
  );
  // A batch at or below its lane's checkpoint is skipped; another lane's checkpoint does not count.
  await a2.sink.load(batchA2());
  assert.equal(await physical(ch, 'events'), 5);
  await ch.exec(`DROP DATABASE ${database}`, {}, null);
});

test("a profile step cut off holding the lock: the next holder cleans lane 0 first, and the cut load's re-load applies once", {
  skip,
  timeout: 120_000,
}, async () => {
  const { url, database, lock, open } = await lanedDatabase('b');
  const a = await open();
  const b = await open();
  await a.sink.load(
    logBatch(L1 + 1, [
      event('w', 'a1', { type: 'identify', userId: 'ada', traits: { plan: 'free' }, timestamp: at(1) }),
    ]),
  );
  const batchA2 = () =>
    logBatch(L1 + 2, [
      event('w', 'b1', { type: 'identify', userId: 'ada', traits: { plan: 'pro' }, timestamp: at(2) }),
      event('w', 'b2', { type: 'alias', previousId: 'old-ada', userId: 'ada', timestamp: at(3) }),
    ]);
  // Lane 1's profile step writes its persons' versions and dies holding the lock.
  const cut = cutAt('persons', () => true);
  void a.sink.load(batchA2());
  await until(cut.reached);
  cut.restore();
  const ch = new ClickHouse({ url, database });
  const orphans = async () =>
    Number(
      (
        await ch.rows(
          `SELECT count() AS n FROM identities WHERE seq > (SELECT max(seq) FROM ingest_log WHERE seq < ${LANE_SPAN})`,
        )
      )[0]?.n,
    );
  assert.ok((await orphans()) > 0, 'the cut profile step left versions above the checkpoint');
  lock.expire();
  await b.sink.load(
    logBatch(L2 + 1, [
      event('w', 'c1', { type: 'identify', userId: 'ada', traits: { seat: 'x' }, timestamp: at(5) }),
    ]),
  );
  assert.equal(await orphans(), 0, 'the next holder deleted them before writing');
  const reader = await ClickHouseStore.open({ url, database, cleanAtOpen: false });
  assert.equal(await reader.profiles.getUser('w', 'old-ada'), null);
  assert.deepEqual((await reader.profiles.getUser('w', 'ada'))?.traits, { plan: 'free', seat: 'x' });

  const a2 = await open();
  await a2.sink.load(batchA2());
  const ada = await reader.profiles.getUser('w', 'old-ada');
  assert.deepEqual([ada?.id, ada?.traits, ada?.eventCount], ['ada', { plan: 'pro', seat: 'x' }, 4]);
  assert.equal(await physical(ch, 'events'), 4);
  await ch.exec(`DROP DATABASE ${database}`, {}, null);
});
