/**
 * In-process DecisionEngine.place latency (no gRPC): p50/p99 for 100, 1,000,
 * 5,000 and 10,000 hosts. Each reservation is released right after its Place
 * (outside the timed region), so the cluster never fills up.
 *   npm run bench:place
 */
import { Wattplace, DEFAULT_CORE_CONFIG } from '../src/decision';
import { BENCH_STALE_AFTER_MS, buildFleet, buildWorkloads } from './lib/fleet';
import { ms, printJson, printTable, sizes, summarize } from './lib/stats';

const WARMUP = Number(process.env.BENCH_WARMUP ?? 1000);
const ITER = Number(process.env.BENCH_ITER ?? 5000);

function run(n: number) {
  const core = new Wattplace({ ...DEFAULT_CORE_CONFIG, staleAfterMs: BENCH_STALE_AFTER_MS });
  const fleet = buildFleet(n, Date.now());
  core.registerHosts(fleet.hosts);
  const ing = core.report(fleet.samples);
  if (ing.rejected > 0) throw new Error(`fleet telemetry rejected: ${JSON.stringify(ing.errors.slice(0, 3))}`);
  core.collector.refresh();
  const workloads = buildWorkloads(1024);
  const engine = core.engine;
  const lat: number[] = [];
  let rejected = 0;
  let failed = 0;
  let cpu0 = process.cpuUsage();
  for (let i = 0; i < WARMUP + ITER; i++) {
    if (i === WARMUP) cpu0 = process.cpuUsage();
    const w = workloads[i % workloads.length];
    const t0 = process.hrtime.bigint();
    let r;
    try {
      r = engine.place({ workload: w });
    } catch {
      failed++;
      continue;
    }
    const t1 = process.hrtime.bigint();
    engine.release(r.reservationId);
    if (i >= WARMUP) {
      lat.push(Number(t1 - t0));
      rejected += r.rejected.length;
    }
  }
  const cpu = process.cpuUsage(cpu0);
  core.close();
  const s = summarize(lat);
  return { hosts: n, iterations: ITER, p50Ms: ms(s.p50), p90Ms: ms(s.p90), p99Ms: ms(s.p99), maxMs: ms(s.max), meanMs: ms(s.mean),
    // Process CPU per Place + Release (robust on a busy machine, where wall-clock percentiles include preemption).
    cpuUsPerPlace: Math.round((cpu.user + cpu.system) / ITER),
    rejectedPerPlace: Math.round(rejected / ITER), noFeasible: failed };
}

const results = sizes().map(run);
printTable('DecisionEngine.place, in process (target p99 ≤ 0.5 ms at 5,000 hosts)', results);
printJson('place-inprocess', results);
