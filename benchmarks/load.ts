/**
 * Load and soak: 1,000 decisions/s (Place; every 10th released after 0.5 s,
 * the rest expire with a 5 s reservation TTL) plus 10,000 samples/s (10
 * telemetry agents, each one Report of 1,000 samples per second, in time
 * order) over loopback gRPC against the real `wattplace serve` in a child
 * process, on a 1,200-host mixed fleet. Reports decision and Report latency
 * (p50/p99/max), achieved rates, the server's CPU and its memory over time.
 *
 *   npm run bench:load          60 s   (BENCH_LOAD_SECONDS to change)
 *   npm run soak                10 min, memory every 10 s; "flat" = heap and
 *                               RSS slopes after a 2-minute warm-up
 *
 * Exit code 1 when a request failed or went unanswered.
 */
import { buildFleet } from './lib/fleet';
import { registerFleet, runLoad, slope, startServerProcess } from './lib/load';
import { processCpuMs } from './lib/server';
import { printJson, printTable } from './lib/stats';

const SOAK = process.argv.includes('--soak');
const SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? (SOAK ? 600 : 60));
const HOSTS = Number(process.env.BENCH_LOAD_HOSTS ?? 1200);
const DECISIONS = Number(process.env.BENCH_LOAD_DECISIONS ?? 1000);
const SAMPLES = Number(process.env.BENCH_LOAD_SAMPLES ?? 10_000);
const WARMUP_S = SOAK ? 120 : 10;
const MB = 1024 * 1024;

async function main() {
  const server = await startServerProcess(['--reservation-ttl-ms', '5000']);
  let failed = false;
  try {
    const fleet = buildFleet(HOSTS, Date.now());
    await registerFleet(server.grpc, fleet);
    const cpu0 = processCpuMs(server.proc.pid!);
    process.stdout.write(`${SOAK ? 'soak' : 'load'}: ${DECISIONS} decisions/s + ${SAMPLES} samples/s for ${SECONDS} s on ${HOSTS} hosts\n`);
    const r = await runLoad(server, fleet, {
      hosts: HOSTS,
      decisionsPerSec: DECISIONS,
      samplesPerSec: SAMPLES,
      durationMs: SECONDS * 1000,
      memoryEveryMs: SOAK ? 10_000 : 1000,
      onSecond: (s) => {
        if (!SOAK || s.t % 60 === 0) process.stdout.write(`  t=${s.t}s rss=${(s.rssBytes / MB).toFixed(1)} MB heap=${(s.heapUsedBytes / MB).toFixed(1)} MB\n`);
      },
    });
    const cpuMs = processCpuMs(server.proc.pid!) - cpu0;
    const after = r.memory.filter((m) => m.t >= WARMUP_S * 1000);
    const minutes = after.map((m) => m.t / 60_000);
    const heapSlope = after.length > 2 ? slope(minutes, after.map((m) => m.heapUsedBytes / MB)) : NaN;
    const rssSlope = after.length > 2 ? slope(minutes, after.map((m) => m.rssBytes / MB)) : NaN;
    const peak = (k: 'rssBytes' | 'heapUsedBytes') => Math.max(...r.memory.map((m) => m[k])) / MB;
    printTable('latency (ms) and rates', [
      { what: 'Place', sent: r.decisions.sent, ok: r.decisions.ok, shed: r.decisions.shed, p50: r.decisions.p50Ms, p99: r.decisions.p99Ms, max: r.decisions.maxMs, 'answered/s': r.decisions.perSec },
      { what: 'Report (1,000 samples)', sent: r.reports.sent, ok: r.reports.ok, shed: 0, p50: r.reports.p50Ms, p99: r.reports.p99Ms, max: r.reports.maxMs, 'answered/s': Math.round((r.reports.ok / r.totalMs) * 1000) },
    ]);
    printTable('samples and server', [
      {
        'samples accepted': r.samples.accepted,
        rejected: r.samples.rejected,
        'samples/s': r.samples.perSec,
        'server CPU (cores)': Math.round((cpuMs / r.totalMs) * 100) / 100,
        'RSS start/peak/end MB': `${(r.memory[0].rssBytes / MB).toFixed(0)}/${peak('rssBytes').toFixed(0)}/${(r.memory.at(-1)!.rssBytes / MB).toFixed(0)}`,
        'heap start/peak/end MB': `${(r.memory[0].heapUsedBytes / MB).toFixed(0)}/${peak('heapUsedBytes').toFixed(0)}/${(r.memory.at(-1)!.heapUsedBytes / MB).toFixed(0)}`,
        [`heap slope after ${WARMUP_S} s (MB/min)`]: Math.round(heapSlope * 100) / 100,
        'RSS slope (MB/min)': Math.round(rssSlope * 100) / 100,
      },
    ]);
    if (SOAK) {
      printTable(
        'memory over time',
        r.memory.filter((_, i) => i % 3 === 0).map((m) => ({ 't (s)': Math.round(m.t / 1000), 'RSS MB': (m.rssBytes / MB).toFixed(1), 'heap MB': (m.heapUsedBytes / MB).toFixed(1) })),
      );
    }
    printJson(SOAK ? 'soak' : 'load', { seconds: SECONDS, hosts: HOSTS, ...r, serverCpuMs: Math.round(cpuMs), heapSlopeMbPerMin: heapSlope, rssSlopeMbPerMin: rssSlope });
    const errs = { ...r.decisions.errors, ...r.reports.errors, ...r.releases.errors };
    if (r.unanswered > 0 || Object.keys(errs).length > 0 || r.samples.rejected > 0) {
      process.stdout.write(`\nFAILED: unanswered ${r.unanswered}, errors ${JSON.stringify(errs)}, rejected samples ${r.samples.rejected} ${JSON.stringify(r.samples.firstRejections)}\n`);
      failed = true;
    }
  } finally {
    await server.stop();
  }
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
