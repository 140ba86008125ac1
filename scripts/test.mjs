#!/usr/bin/env node
// Runs every test/**/*.test.ts with the Node test runner through tsx (Node 20's --test takes no globs).
// Extra arguments are passed on: `npm test -- --test-name-pattern=dedupe`, or file paths to run only those.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? find(join(dir, d.name)) : d.name.endsWith('.test.ts') ? [join(dir, d.name)] : [],
  );
}

const args = process.argv.slice(2);
const files = args.filter((a) => a.endsWith('.ts'));
const flags = args.filter((a) => !a.endsWith('.ts'));
const run = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=2',
    '--test-reporter=spec',
    ...flags,
    ...(files.length ? files : find('test').sort()),
  ],
  { stdio: 'inherit' },
);
process.exit(run.status ?? 1);
