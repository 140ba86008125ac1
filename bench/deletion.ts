// npx tsx bench/deletion.ts [--events 10000000] [--dataset DIR [--build-only]]
// What deleting users and purging their bytes cost on the query data set (bench/queries.ts: N Segment track
// events, N/10 users, 50 names, 90 days), on the real `intake start`: DELETE /users/:id until the job is done
// (a real user, an unknown id, another real user), then POST /admin/purge. Meanwhile a reader sends
// GET /events (one name, 7 days) every 200 ms and a writer a 100-event batch every 100 ms, to show what waits.
// --dataset keeps the bulk-loaded file there and reuses it (each run works on a copy: a purge replaces it);
// --build-only stops once it is built.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { EVENT_NAMES, loadSyntheticEvents } from '../src/store/duckdb/bulk.ts';
import { bodyPool, fillBody } from './events.ts';
import { round } from './ingest.ts';
import { basic, KEYS, ROOT, startIntake } from './procs.ts';

const { values: args } = parseArgs({
  args: process.argv.slice(2),
  options: {
    events: { type: 'string' },
    dataset: { type: 'string' },
    'build-only': { type: 'boolean', default: false },
  },
});
const events = Number(args.events ?? 1_000_000);
const users = events / 10;
const log = (line: string) => process.stdout.write(`${line}\n`);
const DAY = 86_400_000;

/** The bulk-loaded file, built once per directory (as bench/queries.ts builds it). */
async function dataset(dir: string): Promise<string> {
  const file = join(dir, 'intake.duckdb');
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  const first = await startIntake(dir); // the real server makes the tables and the bench workspace
  await first.stop();
  const instance = await DuckDBInstance.create(file, { memory_limit: '2GB', threads: '2' });
  const conn = await instance.connect();
  const ws = (await conn.runAndReadAll('SELECT id FROM workspaces LIMIT 1')).getRowObjectsJS()[0]
    ?.id as string;
  const t0 = performance.now();
  await loadSyntheticEvents(conn, {
    workspaceId: ws,
    events,
    users,
    eventNames: EVENT_NAMES,
    days: 90,
    end: new Date(Math.floor(Date.now() / DAY) * DAY),
    onProgress: (n) =>
      log(`  loaded ${n.toLocaleString('en')} events (${Math.round((performance.now() - t0) / 1000)} s)`),
  });
  await conn.run('CHECKPOINT');
  conn.closeSync();
  instance.closeSync();
  return file;
}

interface Sample {
  at: number;
  ms: number;
  status: number;
}

/** Sends `request` over and over (every `everyMs` at most) until stopped; keeps each latency. */
function loop(request: (i: number) => Promise<number>, everyMs: number) {
  const samples: Sample[] = [];
  let stop = false;
  const done = (async () => {
    for (let i = 0; !stop; i++) {
      const at = performance.now();
      let status = 0;
      try {
        status = await request(i);
      } catch {
        status = -1;
      }
      const ms = performance.now() - at;
      samples.push({ at, ms, status });
      if (ms < everyMs) await new Promise((r) => setTimeout(r, everyMs - ms));
    }
  })();
  return {
    samples,
    async stop() {
      stop = true;
      await done;
    },
  };
}

interface Phase {
  phase: string;
  ms: number;
  reads: Stats;
  writes: Stats;
  detail?: unknown;
}
interface Stats {
  n: number;
  p50Ms: number;
  maxMs: number;
  failed: number;
}

function stats(samples: Sample[], from: number, to: number): Stats {
  // Every request that overlapped the phase, so one held for all of it counts.
  const s = samples.filter((x) => x.at < to && x.at + x.ms > from);
  const ms = s.map((x) => x.ms).sort((a, b) => a - b);
  return {
    n: s.length,
    p50Ms: round(ms[Math.floor(ms.length / 2)] ?? Number.NaN, 1),
    maxMs: round(ms[ms.length - 1] ?? Number.NaN, 1),
    failed: s.filter((x) => x.status < 200 || x.status >= 300).length,
  };
}

async function main(): Promise<void> {
  const keep = args.dataset;
  const dataDir = keep ?? mkdtempSync(join(tmpdir(), 'intake-bench-del-data-'));
  const runDir = mkdtempSync(join(tmpdir(), 'intake-bench-del-'));
  try {
    log(`deletion bench: ${events.toLocaleString('en')} events, ${users.toLocaleString('en')} users`);
    const source = await dataset(dataDir);
    if (args['build-only']) return;
    copyFileSync(source, join(runDir, 'intake.duckdb'));
    const size = statSync(join(runDir, 'intake.duckdb')).size;
    log(`  database file ${round(size / 2 ** 20, 0)} MB`);
    const server = await startIntake(runDir);
    let phases: Phase[] = [];
    const loops: Array<ReturnType<typeof loop>> = [];
    try {
      const url = server.url;
      const admin = { authorization: `Bearer ${KEYS.admin}` };
      const end = Math.floor(Date.now() / DAY) * DAY;
      const reader = loop(async (i) => {
        const start = new Date(end - (8 + (i % 60)) * DAY).toISOString();
        const stop = new Date(Date.parse(start) + 7 * DAY).toISOString();
        const r = await fetch(
          `${url}/events?limit=100&event=Signed%20In&startDate=${start}&endDate=${stop}`,
          {
            headers: { authorization: `Bearer ${KEYS.read}` },
          },
        );
        await r.arrayBuffer();
        return r.status;
      }, 200);
      const pool = bodyPool(4, 100, false);
      const writer = loop(async (i) => {
        const r = await fetch(`${url}/v1/batch`, {
          method: 'POST',
          headers: { authorization: basic(KEYS.write), 'content-type': 'application/json' },
          body: fillBody(pool[i % pool.length] as (typeof pool)[number], 'del', i, 0),
        });
        await r.arrayBuffer();
        return r.status;
      }, 100);
      loops.push(reader, writer);
      const spans: Array<{ phase: string; from: number; to: number; detail: unknown }> = [];
      const phase = async (name: string, run: () => Promise<unknown>) => {
        const from = performance.now();
        const detail = await run();
        spans.push({ phase: name, from, to: performance.now(), detail });
        log(
          `  ${name}: ${Math.round(performance.now() - from)} ms${detail ? ` ${JSON.stringify(detail)}` : ''}`,
        );
      };
      const ino = () => statSync(join(runDir, 'intake.duckdb')).ino;
      const deleteUser = async (id: string) => {
        const before = ino();
        const res = await fetch(`${url}/users/${id}`, { method: 'DELETE', headers: admin });
        const job = (await res.json()) as { id: string };
        for (;;) {
          const s = (await (await fetch(`${url}/deletions/${job.id}`, { headers: admin })).json()) as Record<
            string,
            unknown
          >;
          if (s.status === 'done' || s.status === 'failed') {
            return { status: s.status, eventsDeleted: s.eventsDeleted, rewritten: ino() !== before };
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      };

      await phase('baseline, 5 s', () => new Promise((r) => setTimeout(r, 5000)));
      await phase('DELETE a user until done', () => deleteUser('user-4242'));
      await phase('DELETE an unknown id until done', () => deleteUser('no-such-user'));
      await phase('DELETE another user until done', () => deleteUser('user-777'));
      // wait=false and polling: a purge of a large file outlasts fetch's 300 s header timeout.
      await phase('POST /admin/purge', async () => {
        const res = await fetch(`${url}/admin/purge?wait=false`, { method: 'POST', headers: admin });
        if (res.status === 404) return 'no purge route (this version rewrites in each deletion)';
        for (;;) {
          await new Promise((r) => setTimeout(r, 200));
          const s = (await (await fetch(`${url}/admin/purge`, { headers: admin })).json()) as Record<
            string,
            unknown
          >;
          if (s.lastError) throw new Error(String(s.lastError));
          if (s.last && !s.running && s.waiting === 0) return s.last;
        }
      });
      await phase('after, 5 s', () => new Promise((r) => setTimeout(r, 5000)));
      await reader.stop();
      await writer.stop();
      // Once the loops stopped: a request still held when its phase ended is counted in it too.
      phases = spans.map(({ phase, from, to, detail }) => ({
        phase,
        ms: round(to - from, 0),
        reads: stats(reader.samples, from, to),
        writes: stats(writer.samples, from, to),
        detail,
      }));
      log('\nphase: ms; reads p50 / max ms (n); ingest p50 / max ms (n, non-2xx)');
      for (const p of phases) {
        log(
          `  ${p.phase}: ${p.ms}; ${p.reads.p50Ms} / ${p.reads.maxMs} (${p.reads.n}); ` +
            `${p.writes.p50Ms} / ${p.writes.maxMs} (${p.writes.n}, ${p.writes.failed})`,
        );
      }
      const gone = await fetch(`${url}/events?userId=user-4242`, {
        headers: { authorization: `Bearer ${KEYS.read}` },
      });
      const left = ((await gone.json()) as { results: unknown[] }).results.length;
      await server.stop();
      const slowest = [...reader.samples].sort((a, b) => b.ms - a.ms).slice(0, 3);
      for (const x of slowest) {
        const during = spans.find((p) => x.at >= p.from && x.at < p.to)?.phase ?? 'between phases';
        log(
          `  slow read: ${Math.round(x.ms)} ms, started ${Math.round(x.at - (spans[0]?.from ?? 0))} ms in (${during})`,
        );
      }
      log(`  events of user-4242 left: ${left}`);
    } finally {
      // Also when a phase failed.
      for (const l of loops) await l.stop();
      if (server.proc.exitCode === null) await server.stop();
    }
    const out = join(ROOT, 'bench/results');
    mkdirSync(out, { recursive: true });
    const file = join(out, `${new Date().toISOString().replace(/[:.]/g, '-')}-deletion.json`);
    writeFileSync(file, `${JSON.stringify({ events, users, fileBytes: size, phases }, null, 2)}\n`);
    log(`results: ${file}`);
  } finally {
    rmSync(runDir, { recursive: true, force: true });
    if (!keep) rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
