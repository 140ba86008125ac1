// The README's examples run, top to bottom, against a fresh `intake start` process, and answer what the
// README says they answer.
//
// The convention (also in the README's Development section):
// - Every `curl` command in a ```sh block is run with bash and the real curl, in order, with WRITE_KEY,
//   READ_KEY and ADMIN_KEY set to the README's keys and 127.0.0.1:8080 (in commands and answers) pointed
//   at the test server.
//   Other shell lines (npm, export) are not run.
// - The line right after a curl command is its answer: `# 200` (the HTTP status) and, optionally, the JSON
//   body, which may go on over further `#` lines until its brackets close. In the body `...` stands for any
//   value (`"id":...`), for more members of an object (`{"status":"ok",...}`: without it the object must
//   have exactly the members shown) or for more items of an array (`[{...},...]`). A status alone checks
//   the status only.
// - A string `"$NAME"` in an answer is a value later examples use as `$NAME`: the first answer that shows it
//   sets it, later ones must show the same value. A command may only use variables already set.
// - A ```js block is run whole with node (ESM, from the repository, so the SDKs installed as
//   devDependencies resolve) and must exit 0.
// - An example that cannot run here says so on the line after it (sh) or anywhere in it (js):
//   `# not run: needs a browser` / `// not run: needs a browser`. It is reported as skipped.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type ServerProcess, startServerProcess, tempDir } from '../helpers.ts';
import { type Example, extractExamples, matchPattern, parsePattern } from './readme-examples.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const README_HOST = 'http://127.0.0.1:8080';
const KEYS = { WRITE_KEY: 'wk_dev', READ_KEY: 'rk_dev', ADMIN_KEY: 'ak_dev' };

describe('the convention', () => {
  test('patterns: ... for any value, more members, more items; exact otherwise', () => {
    const vars = new Map<string, string>();
    const m = (p: string, v: unknown) => matchPattern(parsePattern(p), v, vars);
    assert.deepEqual(m('{"a":1,"b":...}', { a: 1, b: [2] }), []);
    assert.deepEqual(m('{"a":1,...}', { a: 1, b: 2 }), []);
    assert.equal(m('{"a":1}', { a: 1, b: 2 }).length, 1, 'an unshown member is a difference');
    assert.equal(m('{"a":1}', { a: 2 }).length, 1);
    assert.equal(m('{"a":1,"c":...}', { a: 1 }).length, 1, 'a shown member must be there');
    assert.deepEqual(m('[1,...]', [1, 2, 3]), []);
    assert.equal(m('[1]', [1, 2]).length, 1);
    assert.deepEqual(m('{"id":"$ID"}', { id: 'w-1' }), []);
    assert.equal(vars.get('ID'), 'w-1');
    assert.deepEqual(m('["$ID"]', ['w-1']), []);
    assert.equal(m('["$ID"]', ['w-2']).length, 1, 'a set variable must match');
  });

  test('commands run on over continuation lines and open quotes; an answer is required', () => {
    const md = [
      '```sh',
      "curl -s http://127.0.0.1:8080/a -d '{",
      `  "x": 1}'`,
      '# 200 {"ok":',
      '#  true}',
      '# a comment',
      'npm start',
      'curl -s \\',
      '  http://127.0.0.1:8080/b',
      '# not run: needs a browser',
      '```',
      '```js',
      "console.log('hi');",
      '```',
    ].join('\n');
    const ex = extractExamples(md);
    assert.equal(ex.length, 3);
    assert.equal(ex[0]?.line, 2);
    assert.deepEqual(ex[0]?.expect, { status: 200, body: '{"ok": true}' });
    assert.equal(ex[1]?.notRun, 'needs a browser');
    assert.equal(ex[2]?.kind, 'js');
    assert.throws(() => extractExamples('```sh\ncurl -s http://x\n# list\n```'), /README.md:2/);
  });
});

describe('README.md examples', () => {
  const examples = extractExamples(README);
  const dataDir = tempDir('intake-readme-');
  let server: ServerProcess;
  const vars = new Map<string, string>();

  before(async () => {
    // The keys the README tells readers to start with.
    assert.ok(README.includes('INTAKE_WRITE_KEY=wk_dev INTAKE_READ_KEY=rk_dev INTAKE_ADMIN_KEY=ak_dev'));
    assert.ok(README.includes('export WRITE_KEY=wk_dev READ_KEY=rk_dev ADMIN_KEY=ak_dev'));
    server = await startServerProcess(dataDir, {
      INTAKE_WRITE_KEY: KEYS.WRITE_KEY,
      INTAKE_READ_KEY: KEYS.READ_KEY,
      INTAKE_ADMIN_KEY: KEYS.ADMIN_KEY,
    });
  });
  after(async () => {
    server?.proc.kill('SIGTERM');
    await server?.exited;
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('the README has curl examples, and curl is installed', () => {
    assert.ok(examples.filter((e) => e.kind === 'sh').length >= 20, 'examples found');
    assert.equal(spawnSync('curl', ['--version']).status, 0, 'curl is on the PATH');
  });

  const env = () => ({ ...process.env, ...KEYS, ...Object.fromEntries(vars) });
  const label = (e: Example) => `README.md:${e.line} ${e.code.split('\n')[0]?.slice(0, 90)}`;

  for (const e of examples) {
    test(label(e), { skip: e.notRun ? `not run: ${e.notRun}` : false }, () => {
      const code = e.code.replaceAll(README_HOST, server.url);
      // A variable no earlier answer set would expand to nothing and fail somewhere less clear.
      for (const [, name] of code.matchAll(/(?<!\\)\$\{?([A-Z][A-Z0-9_]*)/g)) {
        assert.ok(name && (name in KEYS || vars.has(name)), `$${name} is not set by any earlier answer`);
      }
      if (e.kind === 'js') {
        const run = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
          cwd: ROOT,
          env: env(),
          encoding: 'utf8',
          timeout: 30_000,
        });
        assert.equal(run.status, 0, `exit ${run.status}: ${run.stderr}`);
        return;
      }
      // Each curl also prints the status after the body; -S shows an error in spite of the examples' -s.
      const wrapper = `curl() { command curl -S --max-time 20 -w '\\n@status %{http_code}\\n' "$@"; }\n`;
      const run = spawnSync('bash', ['-c', wrapper + code], {
        env: env(),
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(run.status, 0, `bash exit ${run.status}: ${run.stderr}`);
      const at = run.stdout.lastIndexOf('\n@status ');
      assert.ok(at >= 0, `no status in ${run.stdout}`);
      const status = Number(run.stdout.slice(at + 9).trim());
      const body = run.stdout.slice(0, at);
      const expect = e.expect;
      assert.ok(expect);
      assert.equal(
        status,
        expect.status,
        `status ${status}, the README says ${expect.status}; body: ${body}`,
      );
      if (expect.body === undefined) return;
      let actual: unknown;
      try {
        actual = JSON.parse(body);
      } catch {
        assert.fail(`the answer is not JSON: ${body}`);
      }
      const pattern = parsePattern(expect.body.replaceAll(README_HOST.slice(7), new URL(server.url).host));
      const diffs = matchPattern(pattern, actual, vars);
      assert.deepEqual(diffs, [], `the answer differs from the README:\n${body}`);
    });
  }
});
