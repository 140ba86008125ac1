// The role tests' cluster (roles, loaders, read-your-writes): each role its own `intake start` process on a real
// 3-node NATS cluster and a real clickhouse-server, all killed and their directories removed after the file.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after } from 'node:test';
import { natsMissing } from '../../scripts/cluster.ts';
import { databaseOf, testClickHouseUrl } from '../engines.ts';
import { type ServerProcess, startServerProcess, tempDir } from '../helpers.ts';
import { streamFor, testCluster } from '../nats-cluster.ts';
import { clickhouseMissing } from './clickhouse.ts';

export function roleNodes(prefix: string) {
  const root = tempDir(prefix);
  const procs: ServerProcess[] = [];
  after(() => {
    for (const p of procs) p.proc.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  });
  const missing = natsMissing() ?? (process.env.INTAKE_TEST_CLICKHOUSE_URL ? null : clickhouseMissing());
  return {
    /** Why the engines cannot run here, else null: the test fails on it under CI=true. */
    missing,
    /** The test's skip option: the reason, except under CI=true. */
    skip: missing !== null && process.env.CI !== 'true' ? missing : undefined,
    /**
     * Starts the NATS cluster (and ClickHouse, unless one is given), and answers the nodes' environment and a
     * starter of role processes.
     */
    async cluster(loadDelayMs: number) {
      const env = {
        INTAKE_NATS_SERVERS: await testCluster(),
        INTAKE_NATS_STREAM: streamFor(root),
        INTAKE_STORE: 'clickhouse',
        INTAKE_CLICKHOUSE_URL: await testClickHouseUrl(),
        INTAKE_CLICKHOUSE_DATABASE: databaseOf(root),
        INTAKE_GEOIP_DIR: 'off',
        INTAKE_LOAD_DELAY_MS: String(loadDelayMs),
      };
      const start = async (name: string, role: string, extra: Record<string, string> = {}) => {
        const p = await startServerProcess(join(root, name), { ...env, INTAKE_ROLE: role, ...extra });
        procs.push(p);
        return p;
      };
      return { env, start };
    },
  };
}
