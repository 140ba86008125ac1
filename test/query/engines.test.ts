// Intake SQL on both stores: the same handmade events loaded into the embedded store (DuckDB) and the cluster
// store (ClickHouse 18.16, through the compiler of src/store/clickhouse/sql/), each statement run on both, and the
// answers (column names, types and rows) compared, with a few written out by hand. What the cluster engine
// cannot run faithfully must be refused there with INTAKE_ERR_QUERY_UNSUPPORTED, and still run on DuckDB.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { IntakeError } from '../../src/core/errors.ts';
import type { SqlResult, Store } from '../../src/store/types.ts';
import { engineNamed } from '../engines.ts';
import { at, event, logBatch } from '../fixtures.ts';
import { tempDir } from '../helpers.ts';

const W = 'w1';
let duck: Store;
let click: Store | undefined;
let missing: string | null = null;

const events = [
  event(W, 'm1', { event: 'Signed Up', userId: 'a', timestamp: at(0), properties: { plan: 'pro', n: 1 } }),
  event(W, 'm2', { event: 'Signed Up', userId: 'b', timestamp: at(60), properties: { plan: 'free', n: 2 } }),
  event(W, 'm3', {
    event: 'Signed Up',
    userId: 'c',
    timestamp: at(3600),
    properties: { n: 3, nested: { plan: 'inner' }, tags: ['x', 'y'] },
  }),
  event(W, 'm4', {
    event: 'Paid',
    userId: 'a',
    timestamp: at(86_400),
    properties: { total: 42.5, plan: 'pro' },
  }),
  event(W, 'm5', { event: 'Paid', userId: 'b', timestamp: at(90_000), properties: { total: 10 } }),
  event(W, 'm6', {
    event: 'viewed page',
    anonymousId: 'anon1',
    timestamp: at(172_800),
    properties: { q: "it's" },
  }),
  event(W, 'm7', {
    type: 'identify',
    userId: 'a',
    timestamp: at(100),
    traits: { email: 'a@example.com', age: 30 },
  }),
  event('w2', 'x1', { event: 'Secret', userId: 'z', properties: { secret: 'other' } }),
];

before(async () => {
  duck = await engineNamed('embedded').openStore(tempDir());
  await duck.sink.load(logBatch(1, events));
  const ch = engineNamed('clickhouse');
  missing = (await ch.available?.()) ?? null;
  if (missing === null) {
    click = await ch.openStore(tempDir());
    await click.sink.load(logBatch(1, events));
  }
});

after(async () => {
  await duck?.close();
  await click?.close();
});

const run = (store: Store, sql: string, params: Array<string | number | boolean | null> = []) =>
  store.sql.query(W, { sql, params, timeoutMs: 10_000 });

/** Both engines' answers, or the coded error each gave. */
async function both(sql: string, params: Array<string | number | boolean | null> = []) {
  const answer = (p: Promise<SqlResult>) =>
    p.then(
      (r) => ({ ok: r }) as const,
      (err: unknown) =>
        ({ err: err instanceof IntakeError ? `${err.code}: ${err.message}` : String(err) }) as const,
    );
  return {
    duck: await answer(run(duck, sql, params)),
    click: click ? await answer(run(click, sql, params)) : null,
  };
}

/** Each runs on both engines with the same answer. */
const SAME: Array<string | [string, Array<string | number | boolean | null>]> = [
  'SELECT event, count(*) AS n FROM events GROUP BY event ORDER BY event NULLS FIRST',
  'SELECT event, count(*) AS n FROM events GROUP BY 1 HAVING count(*) > 1 ORDER BY 2 DESC, 1',
  'SELECT user_id, anonymous_id, type FROM events ORDER BY user_id NULLS FIRST, type, anonymous_id',
  'SELECT user_id FROM events ORDER BY user_id DESC NULLS LAST, timestamp LIMIT 3 OFFSET 1',
  "SELECT e.user_id, p.event FROM events e JOIN events p ON e.user_id = p.user_id WHERE e.type = 'identify' ORDER BY 2",
  "SELECT e.message_id, p.n FROM events e LEFT JOIN (SELECT user_id, count(*) AS n FROM events WHERE event = 'Paid' GROUP BY user_id) p ON e.user_id = p.user_id ORDER BY 1",
  "WITH s AS (SELECT user_id FROM events WHERE event = 'Signed Up'), p AS (SELECT user_id, sum((properties->>'total')::DOUBLE) AS total FROM events WHERE event = 'Paid' GROUP BY user_id) SELECT s.user_id, p.total FROM s LEFT JOIN p ON s.user_id = p.user_id ORDER BY 1",
  "SELECT user_id FROM events WHERE user_id IN (SELECT user_id FROM events WHERE event = 'Paid') AND event = 'Signed Up' ORDER BY 1",
  "SELECT count(*) AS n, (SELECT count(*) FROM events WHERE event = 'Paid') AS paid FROM events",
  "SELECT EXISTS (SELECT 1 FROM events WHERE event = 'Paid') AS yes, NOT EXISTS (SELECT 1 FROM events WHERE event = 'Nope') AS no",
  "SELECT message_id, CASE WHEN event = 'Paid' THEN 'money' WHEN event LIKE 'Sign%' THEN 'new' ELSE 'other' END AS kind FROM events ORDER BY 1",
  "SELECT message_id, CASE event WHEN 'Paid' THEN 1 ELSE 0 END AS paid FROM events ORDER BY 1",
  "SELECT message_id FROM events WHERE event IN ('Paid', 'viewed page') ORDER BY 1",
  "SELECT message_id FROM events WHERE event NOT IN ('Paid') ORDER BY 1",
  "SELECT message_id FROM events WHERE timestamp BETWEEN '2026-01-01 00:01:00' AND '2026-01-02' ORDER BY 1",
  "SELECT message_id FROM events WHERE timestamp >= TIMESTAMP '2026-01-02 00:00:00' ORDER BY 1",
  "SELECT message_id FROM events WHERE event ILIKE 'VIEWED%' OR event NOT LIKE '%a%' ORDER BY 1",
  "SELECT CAST(properties->>'n' AS INTEGER) + 1 AS n1, (properties->>'total')::DOUBLE * 2 AS t2 FROM events WHERE type = 'track' ORDER BY message_id",
  "SELECT properties->>'plan' AS plan, properties->'nested' AS nested, properties->>'$.nested.plan' AS inner_plan, properties->'tags'->>1 AS tag FROM events ORDER BY message_id",
  ["SELECT properties->>'q' AS q FROM events WHERE properties->>'q' = $1", ["it's"]],
  ["SELECT count(*) FROM events WHERE user_id = $1 AND (properties->>'n')::INT >= $2", ['b', '2']],
  ['SELECT count(*) AS n FROM events WHERE user_id = $1', ["a' OR '1'='1"]],
  "SELECT date_trunc('day', timestamp) AS day, count(*) AS n FROM events GROUP BY day ORDER BY day",
  "SELECT date_trunc('hour', timestamp) AS h, date_part('hour', timestamp) AS hh, year(timestamp) AS y, dayofweek(timestamp) AS dow FROM events ORDER BY message_id",
  'SELECT count(DISTINCT user_id) AS users, count(user_id) AS with_user, min(timestamp) AS first, max(timestamp) AS last FROM events',
  "SELECT user_id, sum((properties->>'n')::INT) AS s, avg((properties->>'n')::INT) AS a FROM events WHERE event = 'Signed Up' GROUP BY user_id ORDER BY s DESC",
  'SELECT user_id FROM events UNION SELECT anonymous_id FROM events ORDER BY 1 NULLS FIRST',
  "SELECT event FROM events WHERE event = 'Paid' UNION ALL SELECT event FROM events WHERE event = 'Paid' ORDER BY 1",
  'SELECT DISTINCT type FROM events ORDER BY type',
  "SELECT lower(event) AS event FROM events WHERE event = 'Paid' ORDER BY event",
  "SELECT upper(coalesce(user_id, anonymous_id)) AS who, length(message_id) AS len, concat(event, '!', user_id) AS c, event || '?' AS q FROM events ORDER BY message_id",
  "SELECT replace(event, ' ', '_') AS r, substr(event, 1, 4) AS s, starts_with(event, 'Si') AS sw, contains(event, 'ai') AS has FROM events WHERE event IS NOT NULL ORDER BY message_id",
  "SELECT id, traits->>'email' AS email, (traits->>'age')::INT AS age FROM users ORDER BY id",
  'SELECT id, person_id, is_user FROM identities ORDER BY id',
  'SELECT * FROM (SELECT user_id, count(*) AS n FROM events GROUP BY user_id) t WHERE n > 1 ORDER BY user_id',
  'SELECT i, i * 2 AS d FROM range(3) t(i) ORDER BY i',
  'SELECT 1 + 2 AS three, 7 // 2 AS q, 7 % 3 AS r, 2.5 AS dec, abs(-3) AS a, round(2.567, 2) AS rd, NULL AS z',
  "SELECT nullif(event, 'Paid') AS e, ifnull(user_id, 'none') AS u FROM events ORDER BY message_id",
  "SELECT event = 'Paid' AS paid, user_id IS NULL AS anon FROM events ORDER BY message_id",
  'SELECT timestamp, received_at, original_timestamp FROM events ORDER BY message_id LIMIT 2',
  "SELECT message_id FROM events WHERE regexp_matches(event, '^S.*p$') ORDER BY 1",
  'SELECT * FROM events ORDER BY message_id',
  "SELECT properties->>'plan' AS plan, count(*) AS n FROM events GROUP BY properties->>'plan' ORDER BY n DESC, properties->>'plan' NULLS FIRST",
  "SELECT properties->>'plan', count(*) FROM events WHERE properties->>'plan' IS NOT NULL GROUP BY properties->>'plan' HAVING properties->>'plan' <> 'x' AND count(*) > 0 ORDER BY 1",
  // The JSON path's short cuts (flat objects, absent keys) and what keeps a text off them.
  `SELECT j->>'a' AS a, j->>'b' AS b, j->>'c' AS c, j->'k' AS k FROM (SELECT CAST(s AS JSON) AS j FROM (
     SELECT '{"a":1,"b":"x\\"y"}' AS s UNION ALL SELECT '{"a" : 2, "b": [1, 2]}' UNION ALL
     SELECT '{"k":{"a":3,"c":"deep"},"a":4}' UNION ALL SELECT '{"xa":5,"c":null}' UNION ALL SELECT '[{"a":6}]')) ORDER BY a`,
  'SELECT * FROM users ORDER BY id',
  'SELECT * FROM identities ORDER BY id',
  'SELECT * FROM groups',
  'SELECT * FROM group_members',
  'SELECT * FROM rejected',
  "SELECT e.*, u.traits FROM events e JOIN users u ON e.user_id = u.id WHERE e.type = 'identify'",
];

/** Each runs on DuckDB and is refused on ClickHouse with INTAKE_ERR_QUERY_UNSUPPORTED naming what. */
const REFUSED_ON_CLICKHOUSE: Array<[string, RegExp]> = [
  ['SELECT user_id, row_number() OVER (ORDER BY timestamp) AS r FROM events', /row_number/],
  ['SELECT median(1) FROM events', /median/],
  [
    'SELECT count(*) FROM events a JOIN events b ON a.id = b.id JOIN events c ON a.id = c.id',
    /more than one JOIN/,
  ],
  [
    'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT count(*) FROM r',
    /RECURSIVE/,
  ],
  ['SELECT user_id FROM events EXCEPT SELECT user_id FROM events', /EXCEPT/],
  ['SELECT list_value(1, 2)', /list_value/],
];

test('the same statement gives the same columns and rows on DuckDB and on ClickHouse', async (t) => {
  if (missing !== null) {
    t.skip(`clickhouse is not available: ${missing}`);
    return;
  }
  const wrong: string[] = [];
  for (const item of SAME) {
    const [sql, params] = typeof item === 'string' ? [item, []] : item;
    const r = await both(sql, params);
    if (!('ok' in r.duck)) {
      wrong.push(`${sql}: DuckDB failed: ${r.duck.err}`);
      continue;
    }
    if (!r.click || !('ok' in r.click)) {
      wrong.push(`${sql}: ClickHouse failed: ${r.click && 'err' in r.click ? r.click.err : ''}`);
      continue;
    }
    try {
      assert.deepEqual(r.click.ok, r.duck.ok);
    } catch {
      wrong.push(
        `${sql}:\n  duckdb     ${JSON.stringify(r.duck.ok)}\n  clickhouse ${JSON.stringify(r.click.ok)}`,
      );
    }
  }
  assert.deepEqual(wrong, [], wrong.join('\n'));
});

test('a few of them, answered as written by hand', async (t) => {
  if (missing !== null) {
    t.skip(`clickhouse is not available: ${missing}`);
    return;
  }
  for (const store of [duck, click as Store]) {
    const r = await run(
      store,
      'SELECT event, count(*) AS n FROM events GROUP BY event ORDER BY event NULLS FIRST',
    );
    assert.deepEqual(r.columns, [
      { name: 'event', type: 'VARCHAR' },
      { name: 'n', type: 'BIGINT' },
    ]);
    assert.deepEqual(r.rows, [
      [null, 1],
      ['Paid', 2],
      ['Signed Up', 3],
      ['viewed page', 1],
    ]);
    const json = await run(
      store,
      "SELECT properties->>'plan', properties->'nested', properties->'tags'->>0 FROM events WHERE message_id = 'm3'",
    );
    assert.deepEqual(json.rows, [[null, { plan: 'inner' }, 'x']], 'a nested key is not a top-level one');
    const days = await run(
      store,
      "SELECT date_trunc('day', timestamp) AS d, count(*) FROM events GROUP BY d ORDER BY d",
    );
    assert.deepEqual(days.rows, [
      ['2026-01-01T00:00:00.000Z', 4],
      ['2026-01-02T00:00:00.000Z', 2],
      ['2026-01-03T00:00:00.000Z', 1],
    ]);
  }
});

test('what ClickHouse 18.16 cannot run faithfully is refused there, naming it, and runs on DuckDB', async (t) => {
  if (missing !== null) {
    t.skip(`clickhouse is not available: ${missing}`);
    return;
  }
  for (const [sql, names] of REFUSED_ON_CLICKHOUSE) {
    const r = await both(sql);
    assert.ok('ok' in r.duck, `${sql} runs on DuckDB: ${'err' in r.duck ? r.duck.err : ''}`);
    assert.ok(r.click && 'err' in r.click, `${sql} is refused on ClickHouse`);
    assert.match(r.click.err, /^INTAKE_ERR_QUERY_UNSUPPORTED: /, sql);
    assert.match(r.click.err, names, sql);
  }
});

test('a text parameter reaches ClickHouse as the same text, whatever it holds (one quoting function, lit)', async (t) => {
  if (missing !== null) {
    t.skip(`clickhouse is not available: ${missing}`);
    return;
  }
  const texts = [
    "'",
    "''",
    '\\',
    "\\'",
    "\\\\'); DROP TABLE events; --",
    'a\nb\tc\r',
    '\\n is not a newline',
    '/* not a comment */ -- nor this',
    'é € 😀',
    '%_ [x] {y}',
    '`backquoted` "quoted"',
  ];
  for (const text of texts) {
    for (const store of [duck, click as Store]) {
      const r = await run(store, 'SELECT $1 AS v, $1 = $2 AS same, length($1) AS n', [text, text]);
      assert.deepEqual(r.rows, [[text, true, [...text].length]], JSON.stringify(text));
    }
    const count = await run(click as Store, 'SELECT count(*) FROM events WHERE user_id = $1', [text]);
    assert.deepEqual(count.rows, [[0]], `${JSON.stringify(text)} is a value, never SQL`);
  }
});

test('names with quotes and backquotes are names on ClickHouse, never SQL', async (t) => {
  if (missing !== null) {
    t.skip(`clickhouse is not available: ${missing}`);
    return;
  }
  const sql =
    'SELECT "we`ird\\name" FROM (SELECT user_id AS "we`ird\\name", event AS "a""b" FROM events AS "t`1") AS "x y" ' +
    'WHERE "a""b" = \'Paid\' ORDER BY 1';
  const r = await both(sql);
  assert.ok('ok' in r.duck, JSON.stringify(r.duck));
  assert.deepEqual(r.click, r.duck);
  assert.deepEqual('ok' in r.duck && r.duck.ok.rows, [['a'], ['b']]);
});

test('ClickHouse hands a long answer on in chunks, and stops when told', async (t) => {
  if (missing !== null || !click) {
    t.skip(`clickhouse is not available: ${missing}`);
    return;
  }
  const sizes: number[] = [];
  const all = await click.sql.stream(
    W,
    { sql: 'SELECT i FROM range(10000) t(i) ORDER BY i', params: [], timeoutMs: 10_000 },
    {
      onColumns: () => {},
      onRows: (rows) => {
        sizes.push(rows.length);
        return true;
      },
    },
  );
  assert.equal(all.truncated, false);
  assert.equal(
    sizes.reduce((a, b) => a + b, 0),
    10000,
  );
  assert.ok(sizes.length > 1, `more than one chunk (${sizes.join(', ')})`);
  let calls = 0;
  await click.sql.stream(
    W,
    { sql: 'SELECT i FROM range(1000000) t(i)', params: [], timeoutMs: 10_000 },
    {
      onColumns: () => {},
      onRows: () => {
        calls++;
        return false;
      },
    },
  );
  assert.equal(calls, 1, 'no rows after onRows said stop');
  const cut = await click.sql.query(W, {
    sql: 'SELECT i FROM range(1000000) t(i)',
    params: [],
    limit: 7,
    timeoutMs: 10_000,
  });
  assert.deepEqual([cut.rows.length, cut.truncated], [7, true]);
  const after = await run(click, 'SELECT count(*) FROM events');
  assert.deepEqual(after.rows, [[7]]);
});
