// The Store contract on a real DuckDB file.
import { rmSync } from 'node:fs';
import { after } from 'node:test';
import { DuckDBStore } from '../../src/store/duckdb/index.ts';
import { tempDir } from '../helpers.ts';
import { storeContract } from './contract.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

storeContract('duckdb', async () => {
  const dir = tempDir();
  dirs.push(dir);
  return DuckDBStore.open({ dataDir: dir, memoryLimit: '256MB' });
});
