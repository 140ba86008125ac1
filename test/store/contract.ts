// The store contract (src/store/types.ts) as tests: written once, run on every engine of test/engines.ts against
// its real engine (contract.test.ts). Batches are built in memory and loaded through entries(), the portable
// path; an engine's own fast paths are tested in its own file (duckdb.test.ts). Small handmade data, and every
// expected value written out. One file per part of the contract, in contract/.
import { rmSync } from 'node:fs';
import type { ContractTest, TestEngine } from '../engines.ts';
import { tempDir } from '../helpers.ts';
import { adminContract } from './contract/admin.ts';
import type { Part } from './contract/common.ts';
import { erasureContract } from './contract/erasure.ts';
import { eventsContract } from './contract/events.ts';
import { governanceContract } from './contract/governance.ts';
import { profilesContract } from './contract/profiles.ts';
import { restartContract } from './contract/restart.ts';
import { sinkContract } from './contract/sink.ts';

export { finished, query } from './contract/common.ts';

export function storeContract(engine: TestEngine, test: ContractTest): void {
  const part: Part = {
    engine,
    test,
    async withStore(fn, opts = {}) {
      const dir = tempDir('intake-store-contract-');
      const store = await engine.openStore(dir, opts);
      try {
        await fn(store, dir);
      } finally {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  sinkContract(part);
  eventsContract(part);
  profilesContract(part);
  erasureContract(part);
  adminContract(part);
  governanceContract(part);
  restartContract(part);
}
