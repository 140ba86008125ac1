#!/usr/bin/env node
// Runs every test/**/*.test.ts with the Node test runner through tsx (Node 20's --test takes no globs).
// Extra arguments are passed on: `npm test -- --test-name-pattern=dedupe`, or file paths to run only those.
//
// The whole suite (no file named, INTAKE_TEST_ENGINE unset) then runs the tests that go through the HTTP API
// (those calling startTestApp) a second time on the ClickHouse store, INTAKE_TEST_ENGINE=clickhouse: the cluster's store answers
// the same API the same way, and a test it cannot pass says why (onEngine in test/helpers.ts). Without
// clickhouse-server that pass is skipped with a message, except under CI=true, where it fails.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? find(join(dir, d.name)) : d.name.endsWith('.test.ts') ? [join(dir, d.name)] : [],
  );
}

/** The tests that drive the HTTP API through startTestApp (test/helpers.ts): run again on the ClickHouse store. */
const apiTests = (all) => all.filter((f) => readFileSync(f, 'utf8').includes('startTestApp('));

const args = process.argv.slice(2);
const files = args.filter((a) => a.endsWith('.ts'));
const flags = args.filter((a) => !a.endsWith('.ts'));

function run(list, env = {}) {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...flags, ...list],
    { stdio: 'inherit', env: { ...process.env, ...env } },
  );
  return r.status ?? 1;
}

let status = run(files.length ? files : find('test').sort());
if (files.length === 0 && !process.env.INTAKE_TEST_ENGINE) {
  if (existsSync('/usr/sbin/clickhouse-server')) {
    process.stdout.write('\n# The API tests again on the ClickHouse store (INTAKE_TEST_ENGINE=clickhouse)\n');
    const again = run(apiTests(find('test').sort()), {
      INTAKE_TEST_ENGINE: 'clickhouse',
    });
    status ||= again;
  } else if (process.env.CI === 'true') {
    process.stdout.write(
      '# clickhouse-server is missing: the API tests on ClickHouse cannot run (CI=true)\n',
    );
    status ||= 1;
  } else {
    process.stdout.write('# skipped: the API tests on ClickHouse (clickhouse-server not installed)\n');
  }
}
process.exit(status);
