// The ClickHouse insight compilers' own pieces on a real clickhouse-server: a property read at its exact JSON path
// where visitParamExtract* would find another key of the same name, and a statement past its time limit answered
// INTAKE_ERR_QUERY_TIMEOUT. The answers themselves are tested through the API (test/http/insights/, and
// test/query/insights/compare.test.ts against the reference) with INTAKE_TEST_ENGINE=clickhouse.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IntakeError } from '../../src/core/errors.ts';
import { ClickHouse, lit } from '../../src/store/clickhouse/http.ts';
import { runInsight } from '../../src/store/clickhouse/insights/run.ts';
import { Props } from '../../src/store/clickhouse/insights/sql.ts';
import { clickhouseMissing } from '../cluster/clickhouse.ts';
import { testClickHouseUrl } from '../engines.ts';

const missing = process.env.INTAKE_TEST_CLICKHOUSE_URL ? null : clickhouseMissing();
const skip =
  missing !== null && process.env.CI !== 'true' ? `clickhouse-server is not available: ${missing}` : false;

const client = async () => new ClickHouse({ url: await testClickHouseUrl(), database: 'default' });

test('a property is read at its path: not a same-named key nested elsewhere or inside a string', {
  skip,
}, async () => {
  const docs = [
    { address: { plan: 'nested' }, plan: 'top', a: { b: { c: [1, { d: 2 }] } } },
    { z: '"plan":"in a string"', x: { plan: 'deep' }, a: { b: null }, n: '12' },
    { plan: { k: 'v,}' }, n: -3.5, s: 'q"u\\o,}te', a: 7 },
    { plan: null, n: 1e21, s: 'é☃', a: { b: { c: true } } },
  ];
  const refs = [['plan'], ['a', 'b', 'c'], ['n'], ['s'], ['address', 'plan']];
  const p = new Props();
  const cols = refs.flatMap((path) => {
    const ref = { source: 'properties' as const, path };
    return [`${p.setOf(ref)}`, `${p.textOf(ref)}`, `${p.isNumber(ref)}`, `${p.numberOf(ref)}`];
  });
  const rows = `(SELECT arrayJoin([${docs.map((d) => lit(JSON.stringify(d))).join(', ')}]) AS properties)`;
  const res = await (await client()).compact(`SELECT ${cols.join(', ')} FROM ${p.wrap(rows)}`);
  // Per doc and path: [set, text, is a number, number]; text and number only mean something when set.
  const read = res.data.map((r) =>
    refs.map((_, i) => {
      const [set, text, isNum, num] = r.slice(4 * i, 4 * i + 4);
      return set ? [text, isNum ? num : 'not a number'] : 'not set';
    }),
  );
  assert.deepEqual(read, [
    [
      ['top', 'not a number'],
      ['[1,{"d":2}]', 'not a number'],
      'not set',
      'not set',
      ['nested', 'not a number'],
    ],
    ['not set', 'not set', ['12', 'not a number'], 'not set', 'not set'],
    [['{"k":"v,}"}', 'not a number'], 'not set', ['-3.5', -3.5], ['q"u\\o,}te', 'not a number'], 'not set'],
    ['not set', ['true', 'not a number'], ['1e+21', 1e21], ['é☃', 'not a number'], 'not set'],
  ]);
});

test('an insight statement past its time limit answers INTAKE_ERR_QUERY_TIMEOUT', { skip }, async () => {
  // 5 blocks of a row each, each sleeping 1 s: past a 1 s limit whatever the machine's speed.
  const sql = {
    sql: 'SELECT sleep(1) FROM system.numbers LIMIT 5 SETTINGS max_block_size = 1',
    params: [],
  };
  await assert.rejects(runInsight(await client(), sql, 1000), (err: unknown) => {
    assert.ok(err instanceof IntakeError);
    assert.equal(err.code, 'INTAKE_ERR_QUERY_TIMEOUT');
    return true;
  });
});
