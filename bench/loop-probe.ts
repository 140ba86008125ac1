// Preloaded into a server by bench/main-thread.ts (node --import): event-loop delay (perf_hooks
// monitorEventLoopDelay, 1 ms resolution) and garbage collection (PerformanceObserver 'gc'), per window. On
// SIGUSR2 it writes the window since the previous signal to $INTAKE_PROBE_FILE (JSON) and starts a new one.
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';

const file = process.env.INTAKE_PROBE_FILE;
if (file) {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  let gcMs = 0;
  let gcCount = 0;
  let gcMaxMs = 0;
  const byKind: Record<string, number> = {};
  /** GC pauses of the window and on-CPU stalls of the window ([from, to] in performance.now() ms, held ms). */
  const pauses: Array<[number, number]> = [];
  const held: Array<[number, number, number]> = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      pauses.push([e.startTime, e.startTime + e.duration]);
      gcMs += e.duration;
      gcCount++;
      gcMaxMs = Math.max(gcMaxMs, e.duration);
      const kind = String((e as { detail?: { kind?: number } }).detail?.kind ?? '?');
      byKind[kind] = (byKind[kind] ?? 0) + e.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  // Stalls: a 5 ms timer that fires more than 20 ms late was held by a task that long.
  // The same gaps in the main thread's own CPU time (/proc schedstat, ns): on a machine shared with other work a
  // gap's wall time includes time the scheduler gave to others; its CPU time is what the server held the loop.
  let stalls = 0;
  let cpuStalls = 0;
  let cpuMaxMs = 0;
  const stat = `/proc/self/task/${process.pid}/schedstat`;
  const threadNs = () => Number(readFileSync(stat, 'utf8').split(' ')[0]);
  let last = performance.now();
  let lastCpu = threadNs();
  setInterval(() => {
    const now = performance.now();
    const cpu = threadNs();
    if (now - last > 25) stalls++;
    const ms = (cpu - lastCpu) / 1e6;
    if (ms > 20) cpuStalls++;
    if (ms > 15) held.push([last, now, ms]);
    cpuMaxMs = Math.max(cpuMaxMs, ms);
    last = now;
    lastCpu = cpu;
  }, 5).unref();
  let seq = 0;
  // $INTAKE_PROBE_PROFILE: a V8 CPU profile of the main thread over the second window only (no start-up).
  const profile = process.env.INTAKE_PROBE_PROFILE;
  const session = profile ? new Session() : null;
  session?.connect();
  process.on('SIGUSR2', () => {
    if (session && seq === 0) {
      session.post('Profiler.setSamplingInterval', { interval: 1000 });
      session.post('Profiler.enable', () => session.post('Profiler.start'));
    } else if (session && seq === 1) {
      session.post('Profiler.stop', (err, r) => {
        if (!err && profile) writeFileSync(profile, JSON.stringify(r.profile));
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
        // Each on-CPU stall over 15 ms, with the GC pause time inside it.
        cpuStalls: held.map(([from, to, ms]) => ({
          ms: round(ms),
          gcMs: round(
            pauses.reduce((sum, [a, b]) => sum + Math.max(0, Math.min(b, to) - Math.max(a, from)), 0),
          ),
        })),
        gcMs: round(gcMs),
        gcCount,
        gcMaxMs: round(gcMaxMs),
        gcByKind: byKind,
        cpu: process.cpuUsage(),
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
