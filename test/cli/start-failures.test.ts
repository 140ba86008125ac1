// `intake start` as a new user meets it when something is wrong: each failure is one line on stderr naming the
// flag or the cause, a non-zero exit, no stack trace, and nothing created or printed (no keys) before it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { freePort, startServerProcess, tempDir } from '../helpers.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const root = tempDir();
after(() => rmSync(root, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `intake start ...args` to its end; no keys in the environment, so a start that got far would print some. */
function run(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: ROOT,
    env: {
      ...process.env,
      INTAKE_WRITE_KEY: '',
      INTAKE_READ_KEY: '',
      INTAKE_ADMIN_KEY: '',
      LOG_LEVEL: 'info',
      INTAKE_GEOIP_DIR: 'off',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d) => {
    stdout += d;
  });
  proc.stderr.on('data', (d) => {
    stderr += d;
  });
  // The old code spun forever on --data-dir /proc/nope: give up and fail rather than hang the suite.
  const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    proc.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

/** One line on stderr matching `line`, exit 1, no stack trace, no keys. */
function assertOneLine(r: Run, line: RegExp): void {
  assert.equal(r.code, 1, `exit code; stderr: ${r.stderr}`);
  assert.match(r.stderr, /^intake: [^\n]+\n$/, 'one line on stderr');
  assert.match(r.stderr, line);
  assert.doesNotMatch(r.stderr + r.stdout, /\n\s+at |node:internal|Node\.js v/, 'no stack trace');
  assert.doesNotMatch(r.stdout, /key:/, 'no keys printed');
}

const busy = (): Promise<{ server: Server; port: number }> =>
  new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve({ server, port: typeof a === 'object' && a ? a.port : 0 });
    });
  });

test('intake start --help lists the options and exits 0', async () => {
  const r = await run(['start', '--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  for (const option of ['--port', '--data-dir', '--read-wait-ms', 'INTAKE_DATA_DIR'])
    assert.ok(r.stdout.includes(option));
});

test('an unknown option is one line that points at --help', async () => {
  const r = await run(['start', '--colour', 'blue']);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    'intake: bad configuration: unknown option --colour (intake start --help lists them)\n',
  );
});

test('a port in use: one line naming --port, and no data directory or keys created', async () => {
  const { server, port } = await busy();
  try {
    const dir = join(root, 'port-in-use');
    const r = await run(['start', '--port', String(port), '--data-dir', dir]);
    assertOneLine(
      r,
      new RegExp(`--port \\(PORT\\) ${port} is already in use on 127\\.0\\.0\\.1: .*another --port`),
    );
    assert.equal(existsSync(dir), false, 'the data directory was not created');
  } finally {
    server.close();
  }
});

test('a second server on the same data directory: one line naming the PID that holds it', async () => {
  const dir = tempDir();
  const first = await startServerProcess(dir);
  try {
    const r = await run(['start', '--port', String(await freePort()), '--data-dir', dir]);
    assertOneLine(
      r,
      new RegExp(`--data-dir \\(INTAKE_DATA_DIR\\) "${dir}" is in use by .*PID ${first.proc.pid}\\b`),
    );
    const health = await fetch(`${first.url}/health`);
    assert.equal(health.status, 200, 'the first server is untouched');
  } finally {
    first.proc.kill('SIGTERM');
    await first.exited;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--data-dir naming a file: one line, the file untouched', async () => {
  const file = join(root, 'a-file');
  writeFileSync(file, 'mine');
  const r = await run(['start', '--port', '0', '--data-dir', file]);
  assertOneLine(r, /--data-dir \(INTAKE_DATA_DIR\) ".*a-file" is a file, not a directory: give a directory/);
});

test('--data-dir /proc/nope: one line at once, not a process spinning forever', async () => {
  const started = Date.now();
  const r = await run(['start', '--port', '0', '--data-dir', '/proc/nope']);
  assertOneLine(
    r,
    /--data-dir \(INTAKE_DATA_DIR\) "\/proc\/nope" cannot be created \(ENOENT.*\): give a directory/,
  );
  assert.ok(Date.now() - started < 25_000);
});

test('a bad --geoip-dir: one line naming it, before the data directory is created', async () => {
  const dir = join(root, 'geo');
  const r = await run(['start', '--port', '0', '--data-dir', dir], {
    INTAKE_GEOIP_DIR: join(root, 'no-geo'),
  });
  assertOneLine(r, /--geoip-dir \(INTAKE_GEOIP_DIR\) ".*no-geo": cannot open the geolocation database/);
  assert.equal(existsSync(dir), false);
});

test('an unexpected error during start: one line, the details at debug level, no keys left behind', async () => {
  const dir = join(root, 'corrupt');
  mkdirSync(join(dir, 'log'), { recursive: true });
  // A segment that is not the last one with an unreadable line: the log refuses to start.
  writeFileSync(join(dir, 'log', '000000000001.ndjson'), 'not json\n');
  writeFileSync(join(dir, 'log', '000000000002.ndjson'), '');
  const r = await run(['start', '--port', '0', '--data-dir', dir]);
  assertOneLine(
    r,
    /^intake: start failed: ingest log .* is unreadable: .*\(--log-level debug logs the details\)\n$/,
  );
  const debug = await run(['start', '--port', '0', '--data-dir', dir], { LOG_LEVEL: 'debug' });
  assert.equal(debug.code, 1);
  assert.match(debug.stdout, /"msg":"start failed"/);
  assert.match(debug.stdout, /"stack":"Error: ingest log/, 'the stack is in the debug log');
  assert.match(debug.stderr, /^intake: start failed: [^\n]+\n$/);
  assert.deepEqual(readdirSync(join(dir, 'log')).sort(), ['000000000001.ndjson', '000000000002.ndjson']);
  // The failed starts made no workspace: once the log is repaired, the first start that listens shows its keys.
  rmSync(join(dir, 'log', '000000000001.ndjson'));
  const server = await startServerProcess(dir, {
    INTAKE_WRITE_KEY: '',
    INTAKE_READ_KEY: '',
    INTAKE_ADMIN_KEY: '',
  });
  try {
    await new Promise((r) => setTimeout(r, 200));
    assert.match(server.output(), /New keys for workspace "default"/);
  } finally {
    server.proc.kill('SIGTERM');
    await server.exited;
  }
});
