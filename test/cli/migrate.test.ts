// `intake migrate` as a user runs it: on the data directory of a server that was SIGKILLed under load (so some
// acknowledged events are still only in its log), into another store; then again, which copies nothing.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadConfig } from '../../src/core/config.ts';
import { ENGINES } from '../../src/runtime/engines.ts';
import { basic, KEYS, startServerProcess, tempDir } from '../helpers.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const root = tempDir('intake-migrate-cli-');
after(() => rmSync(root, { recursive: true, force: true }));

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, INTAKE_GEOIP_DIR: 'off', LOG_LEVEL: 'warn' },
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
  const timer = setTimeout(() => proc.kill('SIGKILL'), 120_000);
  return new Promise((resolve) =>
    proc.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

test("migrate a SIGKILLed server's data directory: every acknowledged event, verified; a second run copies nothing", async () => {
  const from = join(root, 'from');
  const to = join(root, 'to');
  // A load delay longer than the test: what is acknowledged stays in the log, unloaded, until migrate loads it.
  const server = await startServerProcess(from, { INTAKE_LOAD_DELAY_MS: '60000' });
  let acked = 0;
  try {
    for (let b = 0; b < 5; b++) {
      const batch = Array.from({ length: 20 }, (_, i) => ({
        type: 'track',
        event: 'Clicked',
        userId: `u${i % 7}`,
        messageId: `b${b}-${i}`,
      }));
      const res = await fetch(`${server.url}/v1/batch`, {
        method: 'POST',
        headers: { authorization: basic(KEYS.write), 'content-type': 'application/json' },
        body: JSON.stringify({ batch }),
      });
      assert.equal(res.status, 200);
      acked += batch.length;
    }
  } finally {
    server.proc.kill('SIGKILL');
    await server.exited;
  }

  const first = await run(['migrate', '--data-dir', from, '--to-data-dir', to, '--batch-size', '30']);
  assert.equal(first.code, 0, first.stderr + first.stdout);
  assert.match(first.stdout, /verified: every count matches/);
  assert.match(first.stdout, new RegExp(`events\\s+${acked}\\s+${acked}`));
  assert.match(first.stderr, /events\s+\[#+\] 100 \/ 100 \(100%\)/, 'a progress line');

  const second = await run(['migrate', '--data-dir', from, '--to-data-dir', to]);
  assert.equal(second.code, 0, second.stderr);
  assert.match(
    second.stdout,
    /copied in this run: workspaces 0, keys 0, plans 0, events 0, rejected 0, tombstones 0/,
  );

  const target = await ENGINES.embedded.openStore({ ...loadConfig([], {}), dataDir: to });
  try {
    const counts = await target.admin.counts();
    assert.deepEqual([counts.events, counts.persons, counts.keys], [acked, 7, 3]);
  } finally {
    await target.close();
  }
});

test('migrate without a target, or into its own directory, is one line and exit 2', async () => {
  const none = await run(['migrate', '--data-dir', join(root, 'x')]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^intake: bad configuration: a target is required: --to-data-dir DIR[^\n]*\n$/);
  const same = await run(['migrate', '--data-dir', join(root, 'x'), '--to-data-dir', join(root, 'x')]);
  assert.equal(same.code, 2);
  assert.match(same.stderr, /--to-data-dir must differ from --data-dir/);
});
