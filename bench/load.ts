// The load generator, in its own process (forked by bench/run.ts) so it never shares the server's event loop.
// Each job is one autocannon run, bounded in time and in requests, with a unique body per request.
import autocannon from 'autocannon';
import { type BodyTemplate, bodyPool, expectedStored, fillBody } from './events.ts';

export interface LoadJob {
  url: string;
  path: string;
  headers: Record<string, string>;
  /** Events per request (1 = a single event object, as POST /v1/track takes). */
  events: number;
  single: boolean;
  /** Events per request that repeat a messageId of the previous request. */
  dups: number;
  connections: number;
  durationMs: number;
  maxRequests: number;
  /** Prefix of every messageId of this job: unique per job. */
  run: string;
}

export interface LoadResult {
  elapsedMs: number;
  /** Requests answered 2xx, other status, and sent without an answer (timeouts, in flight at the stop). */
  ok: number;
  failed: number;
  unanswered: number;
  statuses: Record<string, number>;
  /** Latency histogram of 2xx answers: [0.1 ms bucket, count]. */
  latency: Array<[number, number]>;
  /** Events the server must hold because of this job: exact when unanswered is 0, else a range. */
  storedMin: number;
  storedMax: number;
  /** Sum of `accepted` in the answers (Intake's batch response), or null when the server does not report it. */
  acceptedReported: number | null;
  bytesSent: number;
}

const pools = new Map<string, BodyTemplate[]>();

function poolFor(job: LoadJob): BodyTemplate[] {
  const key = `${job.events}/${job.single}`;
  let p = pools.get(key);
  if (!p) {
    p = bodyPool(job.single ? 256 : 32, job.events, job.single, job.events);
    pools.set(key, p);
  }
  return p;
}

interface Ctx {
  k?: number;
}

async function runJob(job: LoadJob): Promise<LoadResult> {
  const pool = poolFor(job);
  // Outcome per request counter: 0 issued without answer, 1 2xx, 2 other status.
  const outcome = new Uint8Array(job.maxRequests + job.connections * 2 + 16);
  let next = 0;
  let bytesSent = 0;
  let accepted: number | null = null;
  const hist = new Map<number, number>();
  const statuses: Record<string, number> = {};
  const started = process.hrtime.bigint();
  // autocannon builds each connection's first request while constructing and sends it as is: that build
  // takes a counter like any other, and its answer arrives with the same context.
  const instance = autocannon({
    url: job.url,
    connections: job.connections,
    pipelining: 1,
    amount: job.maxRequests,
    timeout: 30,
    requests: [
      {
        method: 'POST',
        path: job.path,
        headers: { 'content-type': 'application/json', ...job.headers },
        setupRequest: (req, context: Ctx & Record<string, unknown>) => {
          const k = next++;
          if (k >= outcome.length) return req; // cannot happen: amount bounds the requests
          context.k = k;
          const body = fillBody(pool[k % pool.length] as BodyTemplate, job.run, k, job.dups);
          bytesSent += body.length;
          return { ...req, body };
        },
        onResponse: (status, body, context: Ctx & Record<string, unknown>) => {
          if (context.k === undefined) return;
          outcome[context.k] = status >= 200 && status < 300 ? 1 : 2;
          if (status === 200 && body.charCodeAt(body.length - 1) === 125 /* } */) {
            const m = /"accepted":(\d+)/.exec(body);
            if (m) accepted = (accepted ?? 0) + Number(m[1]);
          }
        },
      },
    ],
  });
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (status >= 200 && status < 300) {
      const b = Math.round(ms * 10);
      hist.set(b, (hist.get(b) ?? 0) + 1);
    }
  });
  const timer = setTimeout(() => instance.stop(), job.durationMs);
  await new Promise<void>((resolve, reject) => {
    instance.on('done', () => resolve());
    instance.on('error', reject);
  });
  clearTimeout(timer);
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;

  const issued = Math.min(next, outcome.length);
  let ok = 0;
  let failed = 0;
  let unanswered = 0;
  for (let k = 0; k < issued; k++) {
    if (outcome[k] === 1) ok++;
    else if (outcome[k] === 2) failed++;
    else unanswered++;
  }
  const at = (k: number) => (k >= 0 && k < issued ? (outcome[k] as number) : 2);
  const storedMin = expectedStored((k) => at(k) === 1, issued, job.events, job.dups);
  const storedMax = expectedStored((k) => at(k) !== 2, issued, job.events, job.dups);
  return {
    elapsedMs,
    ok,
    failed,
    unanswered,
    statuses,
    latency: [...hist.entries()],
    storedMin,
    storedMax,
    acceptedReported: accepted,
    bytesSent,
  };
}

process.on('message', (msg: { job: LoadJob }) => {
  runJob(msg.job).then(
    (result) => process.send?.({ result }),
    (err: unknown) => process.send?.({ error: String((err as Error)?.stack ?? err) }),
  );
});
process.send?.({ ready: true });
