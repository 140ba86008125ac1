// Durability, tested: the real server process is killed mid-load (SIGKILL) or stopped (SIGTERM); every
// event whose request got a 2xx must be stored after a restart on the same data directory, and stored once.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { basic, bearer, KEYS, type ServerProcess, startServerProcess, tempDir } from '../helpers.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Load {
  acked: Set<string>;
  /** Statuses other than 200 and 503 (which is what a closing server answers). */
  unexpected: number[];
  sent: Map<string, unknown>;
  stop(): void;
  done: Promise<void>;
}

/** Concurrent writers posting 20-event batches until stopped, or at most 60 s / 2000 requests each. */
function load(url: string, workers: number, tag: string): Load {
  const acked = new Set<string>();
  const unexpected: number[] = [];
  const sent = new Map<string, unknown>();
  let stopped = false;
  const deadline = Date.now() + 60_000;
  const worker = async (w: number) => {
    for (let i = 0; i < 2000 && !stopped && Date.now() < deadline; i++) {
      const batch = Array.from({ length: 20 }, (_, j) => ({
        type: 'track',
        event: 'Load',
        userId: `user-${w}`,
        messageId: `${tag}-${w}-${i}-${j}`,
        properties: { i, j },
      }));
      const body = { batch };
      sent.set(`${w}-${i}`, body);
      try {
        const r = await fetch(`${url}/v1/batch`, {
          method: 'POST',
          headers: { authorization: basic(KEYS.write), 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        if (r.ok) {
          const res = (await r.json()) as { accepted: number; duplicates: number };
          assert.equal(res.accepted + res.duplicates, 20);
          for (const e of batch) acked.add(e.messageId);
        } else if (r.status !== 503) {
          unexpected.push(r.status);
          return;
        }
      } catch {
        return; // the server is gone
      }
    }
  };
  const done = Promise.all(Array.from({ length: workers }, (_, w) => worker(w))).then(() => undefined);
  return {
    acked,
    unexpected,
    sent,
    done,
    stop: () => {
      stopped = true;
    },
  };
}

async function storedMessageIds(url: string): Promise<string[]> {
  const ids: string[] = [];
  for (let offset = 0; ; offset += 1000) {
    const r = await fetch(
      `${url}/events?limit=1000&offset=${offset}&orderByField=receivedAt&orderByDirection=ASC`,
      {
        headers: { authorization: bearer(KEYS.read) },
      },
    );
    assert.equal(r.status, 200);
    const page = (await r.json()) as { results: { messageId: string }[] };
    ids.push(...page.results.map((e) => e.messageId));
    if (page.results.length < 1000) return ids;
  }
}

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

function assertStoredOnce(acked: Set<string>, stored: string[]): void {
  const counts = new Map<string, number>();
  for (const id of stored) counts.set(id, (counts.get(id) ?? 0) + 1);
  const twice = [...counts].filter(([, n]) => n > 1);
  assert.deepEqual(twice, [], 'no messageId is stored twice');
  const missing = [...acked].filter((id) => !counts.has(id));
  assert.deepEqual(missing.slice(0, 10), [], `${missing.length} acknowledged events are missing`);
}

test('SIGKILL mid-load: every acknowledged event is stored exactly once after restart', async () => {
  const dataDir = tempDir();
  dirs.push(dataDir);
  let server: ServerProcess = await startServerProcess(dataDir);
  const l = load(server.url, 8, 'kill');
  await waitFor(() => l.acked.size >= 3000, 30_000);
  assert.ok(l.acked.size >= 3000, 'the load got going before the kill');
  server.proc.kill('SIGKILL');
  assert.equal(await server.exited, 'SIGKILL');
  l.stop();
  await l.done;
  assert.deepEqual(l.unexpected, []);

  server = await startServerProcess(dataDir);
  try {
    const stored = await storedMessageIds(server.url);
    assertStoredOnce(l.acked, stored);
    // Requests cut off by the kill may or may not have been committed; never more than was sent.
    assert.ok(stored.length >= l.acked.size && stored.length <= l.sent.size * 20);

    // Clients retry what was not acknowledged (and some of what was): still exactly once.
    for (const body of l.sent.values()) {
      const r = await fetch(`${server.url}/v1/batch`, {
        method: 'POST',
        headers: { authorization: basic(KEYS.write), 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      assert.equal(r.status, 200);
    }
    const after = await storedMessageIds(server.url);
    assert.equal(after.length, l.sent.size * 20);
    assertStoredOnce(l.acked, after);
  } finally {
    server.proc.kill('SIGKILL');
    await server.exited;
  }
});

test('SIGTERM mid-load: in-flight commits finish, the process exits 0, nothing acknowledged is lost', async () => {
  const dataDir = tempDir();
  dirs.push(dataDir);
  let server = await startServerProcess(dataDir);
  const l = load(server.url, 8, 'term');
  await waitFor(() => l.acked.size >= 2000, 30_000);
  server.proc.kill('SIGTERM');
  assert.equal(await server.exited, 0, server.output());
  l.stop();
  await l.done;
  assert.deepEqual(l.unexpected, []);

  server = await startServerProcess(dataDir);
  try {
    assertStoredOnce(l.acked, await storedMessageIds(server.url));
  } finally {
    server.proc.kill('SIGTERM');
    await server.exited;
  }
});

/** The log's segment files that hold lines (the open one is usually empty). */
function segmentsWithLines(dataDir: string): string[] {
  const dir = join(dataDir, 'log');
  return readdirSync(dir).filter((f) => f.endsWith('.ndjson') && statSync(join(dir, f)).size > 0);
}

test('SIGKILL after loads past the last checkpoint: the log kept their segments, and a restart loads them once', async () => {
  const dataDir = tempDir();
  dirs.push(dataDir);
  // A checkpoint every 2,000 rows: some rows are in row groups on disk, the rest committed since the last
  // checkpoint, which DuckDB (writing no WAL) holds only in memory.
  const env = { INTAKE_DUCKDB_CHECKPOINT_ROWS: '2000' };
  let server: ServerProcess = await startServerProcess(dataDir, env);
  const l = load(server.url, 4, 'wal');
  await waitFor(() => l.acked.size >= 5000, 30_000);
  l.stop();
  await l.done;
  assert.deepEqual(l.unexpected, []);
  // A read waits for every acknowledged event to be loaded. Then 20 more, until rows are committed after the
  // last checkpoint (a load that checkpointed leaves nothing uncovered).
  const read = async () => {
    const r = await fetch(`${server.url}/events?limit=1`, { headers: { authorization: bearer(KEYS.read) } });
    assert.equal(r.status, 200);
    await r.arrayBuffer();
  };
  await read();
  for (let i = 0; i < 5 && segmentsWithLines(dataDir).length === 0; i++) {
    const batch = Array.from({ length: 20 }, (_, j) => ({
      type: 'track',
      event: 'Tail',
      userId: 'tail',
      messageId: `wal-tail-${i}-${j}`,
    }));
    const r = await fetch(`${server.url}/v1/batch`, {
      method: 'POST',
      headers: { authorization: basic(KEYS.write), 'content-type': 'application/json' },
      body: JSON.stringify({ batch }),
    });
    assert.equal(r.status, 200);
    for (const e of batch) l.acked.add(e.messageId);
    await read();
  }
  assert.ok(segmentsWithLines(dataDir).length > 0, 'loaded segments wait for a checkpoint');
  assert.ok(!existsSync(join(dataDir, 'intake.duckdb.wal')), 'DuckDB writes no WAL');
  server.proc.kill('SIGKILL');
  assert.equal(await server.exited, 'SIGKILL');

  server = await startServerProcess(dataDir, env);
  try {
    const stored = await storedMessageIds(server.url);
    assertStoredOnce(l.acked, stored);
    assert.equal(stored.length, l.acked.size);
  } finally {
    server.proc.kill('SIGKILL');
    await server.exited;
  }
});
