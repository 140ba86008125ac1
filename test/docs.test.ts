// The docs stay true: every error code is documented in the README, and every route is in the OpenAPI document.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { ERRORS } from '../src/core/errors.ts';
import { startTestApp, type TestApp } from './helpers.ts';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
let t: TestApp;
before(async () => {
  t = await startTestApp();
});
after(() => t.close());

test('every error code is listed in the README with its status', () => {
  for (const [code, def] of Object.entries(ERRORS)) {
    assert.match(readme, new RegExp(`\\| \`${code}\` \\| ${def.status} \\|`), `${code} is documented`);
  }
});

test('every public route is in /openapi.json, and every documented path is in the README', async () => {
  const r = await t.app.inject({ method: 'GET', url: '/openapi.json' });
  assert.equal(r.statusCode, 200);
  const doc = r.json() as { openapi: string; paths: Record<string, Record<string, unknown>> };
  assert.match(doc.openapi, /^3\./);
  const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
  );
  for (const route of [
    'POST /v1/batch',
    'POST /v1/track',
    'POST /events',
    'GET /events',
    'GET /rejected',
    'GET /health',
    'POST /admin/workspaces',
  ]) {
    assert.ok(documented.includes(route), `${route} is in the OpenAPI document`);
  }
  for (const route of documented) {
    const path = route.split(' ')[1] as string;
    const readmeForm = path.replace(/\{(\w+)\}/g, ':$1');
    assert.ok(readme.includes(readmeForm), `${route} is in the README`);
  }
});
