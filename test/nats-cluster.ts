// The NATS cluster tests share: three nats-server processes (scripts/cluster.ts) started by the first test that
// needs them and killed when the test process exits. A child process (test/engine-child.ts) finds the same
// cluster through INTAKE_TEST_NATS_SERVERS, which the parent sets once its cluster is up.
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { type Cluster, startCluster } from '../scripts/cluster.ts';

let started: Promise<Cluster> | null = null;

/** The cluster of this test process, started on first use. */
export function sharedCluster(): Promise<Cluster> {
  if (started) return started;
  if (process.env.INTAKE_TEST_NATS_CHILD)
    throw new Error(
      'a child process uses the cluster of its parent (INTAKE_TEST_NATS_SERVERS), never its own',
    );
  started = startCluster().then((c) => {
    process.env.INTAKE_TEST_NATS_SERVERS = c.servers;
    process.env.INTAKE_TEST_NATS_CHILD = '1'; // inherited by child processes only: see above
    process.once('exit', () => {
      for (const n of c.nodes) n.process?.kill('SIGKILL');
      rmSync(c.dir, { recursive: true, force: true });
    });
    return c;
  });
  return started;
}

/** The servers (comma-separated) tests point the log at: the parent's cluster in a child, else this one's. */
export async function testCluster(): Promise<string> {
  return process.env.INTAKE_TEST_NATS_SERVERS ?? (await sharedCluster()).servers;
}

/** A stream name of its own for each test directory (the same directory reopened: the same stream). */
export const streamFor = (dir: string) =>
  `T${createHash('md5').update(dir).digest('hex').slice(0, 12).toUpperCase()}`;
