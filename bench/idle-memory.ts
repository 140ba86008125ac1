// An idle server's memory, split as bench/loop-probe.ts splits it (the baseline of the ingest memory table):
//   npx tsx bench/idle-memory.ts [K=V,...] (the server's environment, e.g. INTAKE_GEOIP_DIR=off)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnv, startIntake } from './procs.ts';

const dir = mkdtempSync(join(tmpdir(), 'intake-idle-'));
const s = await startIntake(join(dir, 'data'), { probe: true, env: parseEnv(process.argv[2]) });
await new Promise((r) => setTimeout(r, 3000));
const w = await s.probe?.();
console.log(JSON.stringify(w?.memory.atPeak));
await s.stop();
rmSync(dir, { recursive: true, force: true });
