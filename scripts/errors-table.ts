// Rewrites the README's error table from the registry in src/core/errors.ts (npm run docs:errors).
import { readFileSync, writeFileSync } from 'node:fs';
import { ERRORS } from '../src/core/errors.ts';

const path = new URL('../README.md', import.meta.url);
const readme = readFileSync(path, 'utf8');
const rows = Object.entries(ERRORS).map(
  ([code, def]) => `| \`${code}\` | ${def.status} | ${def.doc.replace(/\|/g, '\\|')} |`,
);
const table = ['| code | status | meaning |', '|---|---|---|', ...rows].join('\n');
const out = readme.replace(/(<!-- errors:start[^>]*-->\n)[\s\S]*?(<!-- errors:end -->)/, `$1${table}\n$2`);
if (out === readme && !readme.includes(table))
  throw new Error('README has no errors:start/errors:end markers');
writeFileSync(path, out);
