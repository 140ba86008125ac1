// Ingest scenarios: each one runs against its own fresh Intake process and against the reference server,
// alternately, in the same run; the figures that count are the ratios.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoadJob, LoadResult } from './load.ts';
import { benchPlan } from './plan.ts';
import {
  basic,
  cpuMicros,
  dirSize,
  KEYS,
  type LoadGenerator,
  type ProbeWindow,
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

/** A scenario of `events`-event requests (1: single `POST /v1/track` calls) from `connections` connections. */
export function requestScenario(id: string, events: number, connections: number): Scenario {
  return {
    id,
    title: `${events}-event requests`,
    path: events === 1 ? '/v1/track' : '/v1/batch',
    events,
    single: events === 1,
    dups: 0,
    connections,
  };
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
  /** The server's CPU time (user + system) during the measured rounds per event acknowledged, in µs. */
  cpuUsPerEvent: number;
}

export type IntakeSide = Side & {
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
  /**
   * From bench/loop-probe.ts in the server: event-loop stalls and GC during the measured rounds (the longest
   * stall on the main thread's CPU with the GC pauses inside it), and memory over the server's life (the sample
   * of its highest RSS, split by part, and each part's highest).
   */
  loop?: {
    delayMaxMs: number;
    stallsOver20: number;
    cpuStallsOver20: number;
    cpuMaxMs: number;
    longest: ProbeWindow['cpuStalls'][number] | null;
    gcMaxMs: number;
    gcByKind: Record<string, number>;
  };
  memory?: ProbeWindow['memory'];
};

export interface IngestResult {
  scenario: Scenario;
  intake: IntakeSide;
  reference: Side;
  ratio: { events: number; requests: number };
  /** With --rate-limit: a second Intake whose write key has limits that never trip, run in the same rounds. */
  rateLimited?: IntakeSide;
  /** With --plan: an Intake whose workspace has the 50-event tracking plan of bench/plan.ts, same rounds. */
  planned?: IntakeSide;
  /** With --compare: an Intake started with other settings (its environment), same rounds. */
  compared?: IntakeSide;
}

/**
 * Limits far above what the machine serves, so none trips and the run measures what the checks cost: the
 * key is read from the headers before the body, both buckets are charged on every request.
 */
export const GENEROUS_LIMIT = {
  events: { perSecond: 1e9, burst: 1e9 },
  requests: { perSecond: 1e9, burst: 1e9 },
};

/** Sets the generous limit on the default workspace of a bench server, through the admin API. */
async function limitWorkspace(url: string): Promise<void> {
  const auth = { authorization: `Bearer ${KEYS.admin}` };
  const list = await fetch(`${url}/admin/workspaces`, { headers: auth });
  const ws = ((await list.json()) as { results: Array<{ id: string; name: string }> }).results.find(
    (w) => w.name === 'default',
  );
  const r = await fetch(`${url}/admin/workspaces/${ws?.id}/settings`, {
    method: 'PATCH',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ rateLimit: GENEROUS_LIMIT }),
  });
  if (r.status !== 200) throw new Error(`PATCH settings: ${r.status} ${await r.text()}`);
}

/** Puts the 50-event tracking plan (bench/plan.ts) in force on a bench server, through the API. */
async function planWorkspace(url: string): Promise<void> {
  const r = await fetch(`${url}/plans/current`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${KEYS.admin}`, 'content-type': 'application/json' },
    body: JSON.stringify(benchPlan()),
  });
  if (r.status !== 200) throw new Error(`PUT /plans/current: ${r.status} ${await r.text()}`);
}

class Tally {
  ok = 0;
  failed = 0;
  unanswered = 0;
  ms = 0;
  /** Server CPU µs during the measured rounds. */
  cpu = 0;
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
      cpuUsPerEvent: round(this.cpu / Math.max(1, this.ok * s.events), 1),
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
  /** Also run each scenario against an Intake with GENEROUS_LIMIT, alternating with the others. */
  rateLimit?: boolean;
  /** Also run each scenario against an Intake with the 50-event tracking plan, alternating with the others. */
  plan?: boolean;
  /** Also run each scenario against an Intake started with this environment (--compare K=V,...), alternating. */
  compare?: Record<string, string>;
  /** A CPU profile of each Intake's main thread over the measured rounds, written there (bench/stalls.ts). */
  stallProfDir?: string;
  log(line: string): void;
}

type Who = 'reference' | 'intake' | 'rateLimited' | 'planned' | 'compared';

export async function runIngest(load: LoadGenerator, opts: IngestOptions): Promise<IngestResult[]> {
  const reference = await startReference();
  const variants: Array<Exclude<Who, 'reference'>> = [
    'intake',
    ...(opts.rateLimit ? (['rateLimited'] as const) : []),
    ...(opts.plan ? (['planned'] as const) : []),
    ...(opts.compare ? (['compared'] as const) : []),
  ];
  const dirs = opts.scenarios.map(() => variants.map(() => mkdtempSync(join(tmpdir(), 'intake-bench-'))));
  const servers: Array<Partial<Record<Who, Server>>> = [];
  try {
    for (const d of dirs) {
      const set: Partial<Record<Who, Server>> = { reference };
      for (const [v, who] of variants.entries()) {
        const prof: Record<string, string> = opts.stallProfDir
          ? {
              INTAKE_PROBE_PROFILE: join(
                opts.stallProfDir,
                `${opts.scenarios[servers.length]?.id}-${who}.cpuprofile`,
              ),
            }
          : {};
        const server = await startIntake(d[v] as string, {
          probe: true,
          // The probe's 10 ms tick: at 5 ms it cost an idle server 51-73 ms of CPU a second, at 10 ms 32-35.
          env: {
            INTAKE_PROBE_TICK_MS: '10',
            ...prof,
            ...(who === 'compared' && opts.compare ? opts.compare : {}),
          },
        });
        if (who === 'rateLimited') await limitWorkspace(server.url);
        if (who === 'planned') await planWorkspace(server.url);
        set[who] = server;
      }
      servers.push(set);
    }
    const whos: Who[] = ['reference', ...variants];
    const tallies = opts.scenarios.map(() => ({
      intake: new Tally(),
      reference: new Tally(),
      rateLimited: new Tally(),
      planned: new Tally(),
      compared: new Tally(),
    }));
    for (const [i, s] of opts.scenarios.entries()) {
      const t = tallies[i] as (typeof tallies)[number];
      for (const who of whos) {
        const target = servers[i]?.[who] as Server;
        t[who].add(await load.run(job(s, target.url, opts.warmupSeconds * 1000, 'warm')), false);
      }
    }
    // The probes' windows start after the warm-up.
    for (const set of servers) for (const who of variants) await set[who]?.probe?.();
    for (let round = 0; round < opts.rounds; round++) {
      for (const [i, s] of opts.scenarios.entries()) {
        const t = tallies[i] as (typeof tallies)[number];
        // Rotate who goes first, so a drift in machine load does not favour one side.
        const k = round % whos.length;
        for (const who of [...whos.slice(k), ...whos.slice(0, k)]) {
          const target = servers[i]?.[who] as Server;
          const cpu0 = cpuMicros(target.proc.pid as number);
          const r = await load.run(job(s, target.url, opts.secondsPerRound * 1000, `${s.id}r${round}`));
          t[who].cpu += cpuMicros(target.proc.pid as number) - cpu0;
          t[who].add(r, true);
          opts.log(
            `  round ${round + 1}/${opts.rounds} ${s.title.padEnd(26)} ${who.padEnd(11)} ` +
              `${Math.round((r.ok * s.events) / (r.elapsedMs / 1000))} events/s` +
              (r.failed + r.unanswered > 0 ? `  (${r.failed} failed, ${r.unanswered} unanswered)` : ''),
          );
        }
      }
    }
    const results: IngestResult[] = [];
    for (const [i, s] of opts.scenarios.entries()) {
      const t = tallies[i] as (typeof tallies)[number];
      const side = async (who: Exclude<Who, 'reference'>, dir: string): Promise<IntakeSide> => {
        const server = servers[i]?.[who] as Server;
        const w = await server.probe?.();
        const stored = await storedTotal(server.url);
        const exit = await server.stop();
        const size = dirSize(dir);
        const tally = t[who];
        const acknowledged = tally.okAll * s.events;
        return {
          ...tally.side(s, server),
          stored,
          expectedMin: tally.storedMin,
          expectedMax: tally.storedMax,
          acknowledgedEvents: acknowledged,
          expectedDuplicates: acknowledged - tally.storedMin,
          acceptedReported: tally.accepted,
          countOk: stored >= tally.storedMin && stored <= tally.storedMax,
          diskBytes: size.disk,
          bytesPerEvent: round(size.disk / Math.max(1, stored), 0),
          exit,
          ...(w
            ? {
                loop: {
                  delayMaxMs: w.delayMaxMs,
                  stallsOver20: w.stallsOver20,
                  cpuStallsOver20: w.cpuStallsOver20,
                  cpuMaxMs: w.cpuMaxMs,
                  longest: [...w.cpuStalls].sort((a, b) => b.ms - a.ms)[0] ?? null,
                  gcMaxMs: w.gcMaxMs,
                  gcByKind: w.gcByKind,
                },
                memory: w.memory,
              }
            : {}),
        };
      };
      const intakeSide = await side('intake', dirs[i]?.[0] as string);
      const refSide = t.reference.side(s, reference);
      results.push({
        scenario: s,
        intake: intakeSide,
        reference: refSide,
        ratio: {
          events: round(intakeSide.eventsPerSec / refSide.eventsPerSec, 2),
          requests: round(intakeSide.requestsPerSec / refSide.requestsPerSec, 2),
        },
        ...(opts.rateLimit
          ? { rateLimited: await side('rateLimited', dirs[i]?.[variants.indexOf('rateLimited')] as string) }
          : {}),
        ...(opts.plan
          ? { planned: await side('planned', dirs[i]?.[variants.indexOf('planned')] as string) }
          : {}),
        ...(opts.compare
          ? { compared: await side('compared', dirs[i]?.[variants.indexOf('compared')] as string) }
          : {}),
      });
    }
    return results;
  } finally {
    for (const set of servers) {
      for (const who of variants) {
        const s = set[who];
        if (s && s.proc.exitCode === null && s.proc.signalCode === null) await s.stop();
      }
    }
    await reference.stop();
    for (const d of dirs.flat()) rmSync(d, { recursive: true, force: true });
  }
}
