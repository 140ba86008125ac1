// Fails when a module imports from a layer above its own (src/README.md draws the layers). Run by `npm run lint`.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** Each top folder of src/ (or file at its top) and its layer: a module may import its own layer and those below. */
export const LAYERS: Record<string, number> = {
  core: 0,
  pipeline: 1,
  profiles: 1,
  store: 2,
  ingest: 3,
  query: 3,
  auth: 3,
  plans: 3,
  http: 4,
  dialects: 4,
  runtime: 5,
  cli: 6,
};

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '..', 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const layerOf = (file: string): [string, number | undefined] => {
  const top = relative(ROOT, file).split('/')[0] ?? '';
  const name = top.replace(/\.ts$/, '');
  return [name, LAYERS[name]];
};

const problems: string[] = [];
for (const file of files(ROOT)) {
  const [from, rank] = layerOf(file);
  if (rank === undefined) {
    problems.push(`${relative(ROOT, file)}: src/${from} has no layer in scripts/check-layers.ts`);
    continue;
  }
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
    const target = resolve(dirname(file), m[1] as string);
    const [to, toRank] = layerOf(target);
    if (toRank === undefined || toRank > rank) {
      problems.push(
        `${relative(ROOT, file)} (${from}, layer ${rank}) imports ${m[1]} (${to}, layer ${toRank})`,
      );
    }
  }
}
if (problems.length > 0) {
  process.stderr.write(`layer violations:\n  ${problems.join('\n  ')}\n`);
  process.exit(1);
}
process.stdout.write(`layers: ${files(ROOT).length} modules, no upward import\n`);
