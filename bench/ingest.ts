// Ingest scenarios: each one runs against its own fresh Intake process and against the reference server,
// alternately, in the same run; the figures that count are the ratios.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoadJob, LoadResult } from './load.ts';
import {
  basic,
  dirSize,
  KEYS,
  type LoadGenerator,
  type Server,
  startIntake,
  startReference,
} from './procs.ts';

export interface Scenario {
  id: string;
  title: string;
  path: string;
  events: number;
  single: boolean;
  dups: number;
  connections: number;
}

export const SCENARIOS: Scenario[] = [
  {
    id: 's1',
    title: '1. /v1/batch, 100 events',
    path: '/v1/batch',
    events: 100,
    single: false,
    dups: 0,
    connections: 8,
  },
  {
    id: 's2',
    title: '2. /v1/batch, 20 events',
    path: '/v1/batch',
    events: 20,
    single: false,
    dups: 0,
    connections: 8,
  },
  {
    id: 's3',
    title: '3. /v1/track, 1 event',
    path: '/v1/track',
    events: 1,
    single: true,
    dups: 0,
    connections: 32,
  },
  {
    id: 's4',
    title: '4. as 1, 10% duplicates',
    path: '/v1/batch',
    events: 100,
    single: false,
    dups: 10,
    connections: 8,
  },
];

export interface Side {
  events: number;
  requests: number;
  seconds: number;
  eventsPerSec: number;
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  failed: number;
  unanswered: number;
  statuses: Record<string, number>;
  peakRssMB: number;
}

export interface IngestResult {
  scenario: Scenario;
  intake: Side & {
    stored: number;
    expectedMin: number;
    expectedMax: number;
    acknowledgedEvents: number;
    expectedDuplicates: number;
    acceptedReported: number | null;
    countOk: boolean;
    diskBytes: number;
    bytesPerEvent: number;
    exit: number | string;
  };
  reference: Side;
  ratio: { events: number; requests: number };
}

class Tally {
  ok = 0;
  failed = 0;
  unanswered = 0;
  ms = 0;
  storedMin = 0;
  storedMax = 0;
  accepted: number | null = null;
  statuses: Record<string, number> = {};
  hist = new Map<number, number>();

  /** Requests answered 2xx, warm-up included: what the stored count is checked against. */
  okAll = 0;

  add(r: LoadResult, measured: boolean): void {
    this.okAll += r.ok;
    this.storedMin += r.storedMin;
    this.storedMax += r.storedMax;
    if (r.acceptedReported !== null) this.accepted = (this.accepted ?? 0) + r.acceptedReported;
    if (!measured) return;
    this.ok += r.ok;
    this.failed += r.failed;
    this.unanswered += r.unanswered;
    this.ms += r.elapsedMs;
    for (const [s, n] of Object.entries(r.statuses)) this.statuses[s] = (this.statuses[s] ?? 0) + n;
    for (const [b, n] of r.latency) this.hist.set(b, (this.hist.get(b) ?? 0) + n);
  }

  percentile(p: number): number {
    const total = [...this.hist.values()].reduce((a, b) => a + b, 0);
    if (total === 0) return Number.NaN;
    const want = Math.ceil((p / 100) * total);
    let seen = 0;
    for (const b of [...this.hist.keys()].sort((x, y) => x - y)) {
      seen += this.hist.get(b) ?? 0;
      if (seen >= want) return b / 10;
    }
    return Number.NaN;
  }

  side(s: Scenario, server: Server): Side {
    const seconds = this.ms / 1000;
    return {
      events: this.ok * s.events,
      requests: this.ok,
      seconds: round(seconds, 1),
      eventsPerSec: round((this.ok * s.events) / seconds, 0),
      requestsPerSec: round(this.ok / seconds, 0),
      p50Ms: this.percentile(50),
      p99Ms: this.percentile(99),
      failed: this.failed,
      unanswered: this.unanswered,
      statuses: this.statuses,
      peakRssMB: round(server.rss.peak / 2 ** 20, 0),
    };
  }
}

export const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

let jobSeq = 0;
export function job(s: Scenario, url: string, durationMs: number, tag: string): LoadJob {
  return {
    url,
    path: s.path,
    headers: { authorization: basic(KEYS.write) },
    events: s.events,
    single: s.single,
    dups: s.dups,
    connections: s.connections,
    durationMs,
    // A generous count bound (400k events/s); the time bound is the one that normally ends a job.
    maxRequests: Math.ceil((durationMs / 1000) * (400_000 / s.events)),
    run: `${tag}-${Date.now().toString(36)}-${jobSeq++}`,
  };
}

/** GET /events?limit=1 → total: what the store holds for the bench workspace. */
export async function storedTotal(url: string): Promise<number> {
  const r = await fetch(`${url}/events?limit=1`, { headers: { authorization: `Bearer ${KEYS.read}` } });
  if (r.status !== 200) throw new Error(`GET /events: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { total: number }).total;
}

export interface IngestOptions {
  scenarios: Scenario[];
  rounds: number;
  secondsPerRound: number;
  warmupSeconds: number;
  log(line: string): void;
}

export async function runIngest(load: LoadGenerator, opts: IngestOptions): Promise<IngestResult[]> {
  const reference = await startReference();
  const dirs = opts.scenarios.map(() => mkdtempSync(join(tmpdir(), 'intake-bench-')));
  const servers: Server[] = [];
  try {
    for (const d of dirs) servers.push(await startIntake(d));
    const tallies = opts.scenarios.map(() => ({ intake: new Tally(), reference: new Tally() }));
    for (const [i, s] of opts.scenarios.entries()) {
      const server = servers[i] as Server;
      const t = tallies[i] as (typeof tallies)[number];
      t.reference.add(await load.run(job(s, reference.url, opts.warmupSeconds * 1000, 'warm')), false);
      t.intake.add(await load.run(job(s, server.url, opts.warmupSeconds * 1000, 'warm')), false);
    }
    for (let round = 0; round < opts.rounds; round++) {
      for (const [i, s] of opts.scenarios.entries()) {
        const server = servers[i] as Server;
        const t = tallies[i] as (typeof tallies)[number];
        // Alternate who goes first, so a drift in machine load does not favour one side.
        const order: Array<['intake' | 'reference', Server]> = [
          ['reference', reference],
          ['intake', server],
        ];
        if (round % 2 === 1) order.reverse();
        for (const [who, target] of order) {
          const r = await load.run(job(s, target.url, opts.secondsPerRound * 1000, `${s.id}r${round}`));
          t[who].add(r, true);
          opts.log(
            `  round ${round + 1}/${opts.rounds} ${s.title.padEnd(26)} ${who.padEnd(9)} ` +
              `${Math.round((r.ok * s.events) / (r.elapsedMs / 1000))} events/s` +
              (r.failed + r.unanswered > 0 ? `  (${r.failed} failed, ${r.unanswered} unanswered)` : ''),
          );
        }
      }
    }
    const results: IngestResult[] = [];
    for (const [i, s] of opts.scenarios.entries()) {
      const server = servers[i] as Server;
      const t = tallies[i] as (typeof tallies)[number];
      const stored = await storedTotal(server.url);
      const exit = await server.stop();
      const size = dirSize(dirs[i] as string);
      const intakeSide = t.intake.side(s, server);
      const refSide = t.reference.side(s, reference);
      const acknowledged = t.intake.okAll * s.events;
      results.push({
        scenario: s,
        intake: {
          ...intakeSide,
          stored,
          expectedMin: t.intake.storedMin,
          expectedMax: t.intake.storedMax,
          acknowledgedEvents: acknowledged,
          expectedDuplicates: acknowledged - t.intake.storedMin,
          acceptedReported: t.intake.accepted,
          countOk: stored >= t.intake.storedMin && stored <= t.intake.storedMax,
          diskBytes: size.disk,
          bytesPerEvent: round(size.disk / Math.max(1, stored), 0),
          exit,
        },
        reference: refSide,
        ratio: {
          events: round(intakeSide.eventsPerSec / refSide.eventsPerSec, 2),
          requests: round(intakeSide.requestsPerSec / refSide.requestsPerSec, 2),
        },
      });
    }
    return results;
  } finally {
    for (const s of servers) if (s.proc.exitCode === null && s.proc.signalCode === null) await s.stop();
    await reference.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}
