// Runs the log contract (contract.ts) on every engine of test/engines.ts.
import { forEachEngine } from '../engines.ts';
import { logContract } from './contract.ts';

await forEachEngine('log', logContract);
