// Runs the store contract (contract.ts) on every engine of test/engines.ts.
import { forEachEngine } from '../engines.ts';
import { storeContract } from './contract.ts';

await forEachEngine('store', storeContract);
