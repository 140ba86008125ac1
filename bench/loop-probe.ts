// Preloaded into a server by bench/main-thread.ts (node --import): event-loop delay (perf_hooks
// monitorEventLoopDelay, 1 ms resolution) and garbage collection (PerformanceObserver 'gc'), per window. On
// SIGUSR2 it writes the window since the previous signal to $INTAKE_PROBE_FILE (JSON) and starts a new one.
// Memory over the process's whole life (not per window): every 250 ms the RSS, V8's heap, DuckDB's buffer manager
// (the store publishes itself on a diagnostics channel when a probe listens) and the log's dedupe memory and lines
// waiting; kept are the sample of the highest RSS and the highest of each part.
import { subscribe } from 'node:diagnostics_channel';
import { openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';

interface ProbedStore {
  memory(): Promise<{ byTag: Record<string, number>; temporary: number }>;
}
interface ProbedLog {
  pending: number;
  dedupe: { bytes: { exact: number; sealed: number } };
}

/** One memory sample, in MB (lines waiting: a count). */
export type MemorySample = Record<string, number>;

const MB = 2 ** 20;
const mb = (b: number) => Math.round((b / MB) * 10) / 10;
const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental marking',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks',
};

const file = process.env.INTAKE_PROBE_FILE;
if (file) {
  let store: ProbedStore | null = null;
  let log: ProbedLog | null = null;
  subscribe('intake:duckdb-store', (s) => {
    store = s as ProbedStore;
  });
  subscribe('intake:file-log', (l) => {
    log = l as ProbedLog;
  });
  let atPeak: MemorySample = { rssMB: 0 };
  const maxima: MemorySample = {};
  const page = 4096;
  const sample = (duck: { byTag: Record<string, number>; temporary: number }) => {
    const rss = Number(readFileSync('/proc/self/statm', 'utf8').split(' ')[1]) * page;
    const m = process.memoryUsage();
    const young = getHeapSpaceStatistics().find((x) => x.space_name === 'new_space');
    const duckTotal = Object.values(duck.byTag).reduce((a, b) => a + b, 0);
    const s: MemorySample = {
      rssMB: mb(rss),
      heapTotalMB: mb(m.heapTotal),
      heapUsedMB: mb(m.heapUsed),
      newSpaceMB: mb(young?.space_size ?? 0),
      externalMB: mb(m.external),
      arrayBuffersMB: mb(m.arrayBuffers),
      duckdbMB: mb(duckTotal),
      duckdbTempMB: mb(duck.temporary),
      dedupeMB: mb(log ? log.dedupe.bytes.exact + log.dedupe.bytes.sealed : 0),
      linesWaiting: log?.pending ?? 0,
      // What none of the above holds: code, stacks, native allocations outside DuckDB's buffer manager
      // (glibc's arenas, libuv, the driver's result chunks), and pages allocators keep after a free.
      otherMB: mb(rss - m.heapTotal - m.external - duckTotal),
    };
    for (const [tag, b] of Object.entries(duck.byTag)) s[`duckdb.${tag}MB`] = mb(b);
    if ((s.rssMB ?? 0) >= (atPeak.rssMB ?? 0)) atPeak = s;
    for (const [k, v] of Object.entries(s)) maxima[k] = Math.max(maxima[k] ?? 0, v);
  };
  // Sampled as DuckDB's answer arrives, so its figure and the RSS are of the same moment (a few ms apart).
  let asking = false;
  setInterval(() => {
    if (!store) return sample({ byTag: {}, temporary: 0 });
    if (asking) return;
    asking = true;
    store
      .memory()
      .then(sample)
      .catch(() => {})
      .finally(() => {
        asking = false;
      });
  }, 250).unref();

  // $INTAKE_PROBE_TICK_MS (default 5): the stall timer's period, and the delay histogram's resolution (1 ms at the
  // default). Both wake an idle loop: at 5 ms they cost an idle server ~40-60 ms of CPU a second, at 10 ms
  // ~half (bench/ingest.ts uses 10).
  const tick = Number(process.env.INTAKE_PROBE_TICK_MS ?? 5);
  const delay = monitorEventLoopDelay({ resolution: tick <= 5 ? 1 : tick });
  delay.enable();
  let gcMs = 0;
  let gcCount = 0;
  let gcMaxMs = 0;
  const byKind: Record<string, number> = {};
  /** GC pauses of the window and on-CPU stalls of the window ([from, to] in performance.now() ms, held ms). */
  const pauses: Array<[number, number, string]> = [];
  const held: Array<[number, number, number]> = [];
  /** With a profile: each on-CPU stall over 15 ms as [from, to] in µs of the monotonic clock (the profile's). */
  const heldUs: Array<[number, number, number]> = [];
  const monoUs = () => Number(process.hrtime.bigint() / 1000n);
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const code = (e as { detail?: { kind?: number } }).detail?.kind;
      const kind = code === undefined ? '?' : (GC_KINDS[code] ?? String(code));
      pauses.push([e.startTime, e.startTime + e.duration, kind]);
      gcMs += e.duration;
      gcCount++;
      gcMaxMs = Math.max(gcMaxMs, e.duration);
      byKind[kind] = (byKind[kind] ?? 0) + e.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  // Stalls: a `tick` ms timer that fires more than 20 ms late was held by a task that long.
  // The same gaps in the main thread's own CPU time (/proc schedstat, ns): on a machine shared with other work a
  // gap's wall time includes time the scheduler gave to others; its CPU time is what the server held the loop.
  let stalls = 0;
  let cpuStalls = 0;
  let cpuMaxMs = 0;
  // Kept open and read at offset 0 (a /proc file is made anew at each read): an open and a close a tick less.
  const statFd = openSync(`/proc/self/task/${process.pid}/schedstat`, 'r');
  const statBuf = Buffer.alloc(128);
  const threadNs = () => {
    const n = readSync(statFd, statBuf, 0, statBuf.length, 0);
    return Number(statBuf.toString('latin1', 0, n).split(' ')[0]);
  };
  let last = performance.now();
  let lastUs = monoUs();
  let lastCpu = threadNs();
  setInterval(() => {
    const now = performance.now();
    const nowUs = monoUs();
    const cpu = threadNs();
    if (now - last > 20 + tick) stalls++;
    const ms = (cpu - lastCpu) / 1e6;
    if (ms > 20) cpuStalls++;
    if (ms > 15) {
      held.push([last, now, ms]);
      if (session) heldUs.push([lastUs, nowUs, ms]);
    }
    cpuMaxMs = Math.max(cpuMaxMs, ms);
    last = now;
    lastUs = nowUs;
    lastCpu = cpu;
  }, tick).unref();
  let seq = 0;
  // $INTAKE_PROBE_PROFILE: a V8 CPU profile of the main thread over the second window only (no start-up).
  const profile = process.env.INTAKE_PROBE_PROFILE;
  const session = profile ? new Session() : null;
  session?.connect();
  process.on('SIGUSR2', () => {
    if (session && seq === 0) {
      session.post('Profiler.setSamplingInterval', { interval: 1000 });
      session.post('Profiler.enable', () =>
        session.post('Profiler.start', () => {
          // Starting the profiler holds the main thread ~80-100 ms of CPU (measured: a stall with no samples in
          // it, at the start of every profiled window): not the server's, so the window's stalls start after it.
          stalls = 0;
          cpuStalls = 0;
          cpuMaxMs = 0;
          held.length = 0;
          heldUs.length = 0;
          last = performance.now();
          lastUs = monoUs();
          lastCpu = threadNs();
        }),
      );
    } else if (session && seq === 1) {
      const windows = heldUs.map(([fromUs, toUs, ms]) => ({ fromUs, toUs, ms: Math.round(ms * 100) / 100 }));
      session.post('Profiler.stop', (err, r) => {
        if (err || !profile) return;
        writeFileSync(profile, JSON.stringify(r.profile));
        // The stalls of the profiled window, on the profile's clock: bench/stalls.ts FILE --probe shows each.
        writeFileSync(`${profile}.stalls.json`, JSON.stringify(windows));
      });
    }
    const round = (x: number) => Math.round(x * 100) / 100;
    writeFileSync(
      file,
      JSON.stringify({
        seq: ++seq,
        delayMaxMs: round(delay.max / 1e6),
        delayP99Ms: round(delay.percentile(99) / 1e6),
        delayMeanMs: round(delay.mean / 1e6),
        stallsOver20: stalls,
        cpuStallsOver20: cpuStalls,
        cpuMaxMs: round(cpuMaxMs),
        // Each on-CPU stall over 15 ms, with the GC pause time inside it, by kind.
        cpuStalls: held.map(([from, to, ms]) => {
          const gc: Record<string, number> = {};
          for (const [a, b, kind] of pauses) {
            const inside = Math.min(b, to) - Math.max(a, from);
            if (inside > 0) gc[kind] = round((gc[kind] ?? 0) + inside);
          }
          return { ms: round(ms), gcMs: round(Object.values(gc).reduce((x, y) => x + y, 0)), gc };
        }),
        gcMs: round(gcMs),
        gcCount,
        gcMaxMs: round(gcMaxMs),
        gcByKind: byKind,
        cpu: process.cpuUsage(),
        memory: { atPeak, max: maxima },
      }),
    );
    delay.reset();
    gcMs = 0;
    stalls = 0;
    cpuStalls = 0;
    cpuMaxMs = 0;
    pauses.length = 0;
    held.length = 0;
    gcCount = 0;
    gcMaxMs = 0;
    for (const k of Object.keys(byKind)) delete byKind[k];
  });
}
