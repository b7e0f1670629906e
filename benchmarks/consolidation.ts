/**
 * PlanConsolidation on the issue-12 cloud (src/solver/fixtures.ts cloudScenario:
 * 32 vCPU / 128 GiB and 64 vCPU / 256 GiB hosts, VMs of 1–8 vCPU and 2–32 GiB at
 * 5–60 % CPU, random start within capacity; allocation ratio 1, ceiling 0.8) at
 * 100/600, 200/1,200 and 1,000/6,000 hosts/VMs, through the decision layer
 * (planConsolidation, optimizer with javascript-lp-solver in its worker):
 * hosts left on against the capacity bound and the optimizer's own target,
 * migrations, moves off hosts that stay on, time, and whether two identical
 * calls give the same plan.
 *   npm run bench:consolidation
 * BENCH_CONSOLIDATION_BUDGET_MS: the request's time budget (default 1000).
 */
import * as os from 'node:os';
import { PowerState, cpuMillis, epochMs, memBytes, watts } from '../src/domain';
import { DEFAULT_CORE_CONFIG, Wattplace } from '../src/decision';
import { planConsolidation } from '../src/decision/consolidation';
import { cloudCapacityBound, cloudScenario, type Cloud } from '../src/solver/fixtures';

const GiB = 2 ** 30;
const BUDGET = Number(process.env.BENCH_CONSOLIDATION_BUDGET_MS ?? 1000);

function core(cloud: Cloud): Wattplace {
  const now = Date.now();
  const wp = new Wattplace({ ...DEFAULT_CORE_CONFIG, snapshotRefreshMs: 0 }, () => now);
  wp.registerHosts(cloud.hosts.map((h) => ({ id: h.id, site: 'default', capacity: { cpuMillis: cpuMillis(h.vcpus * 1000), memBytes: memBytes(h.memGiB * GiB) }, power: h.power, state: PowerState.ON, labels: {} })));
  const cpu = new Float64Array(cloud.hosts.length);
  const mem = new Float64Array(cloud.hosts.length);
  const used = new Float64Array(cloud.hosts.length);
  for (const v of cloud.vms) {
    cpu[v.host] += v.vcpus * 1000;
    mem[v.host] += v.memGiB * GiB;
    used[v.host] += v.util * v.vcpus;
  }
  wp.report(cloud.hosts.map((h, i) => ({ hostId: h.id, time: epochMs(now - 1000), watts: watts(100), cpuUtil: used[i] / h.vcpus, memUtil: mem[i] / (h.memGiB * GiB), allocated: { cpuMillis: cpuMillis(cpu[i]), memBytes: memBytes(mem[i]) } })));
  return wp;
}

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / GiB)} GiB, budget ${BUDGET} ms, migration 2 W`);
  console.log('| hosts / VMs | capacity bound | optimizer target | plan: hosts on | ≤ 1.05 × bound | migrations | enable / relief moves | pointless | target moves not made | gap (plan) | time (ms) | same plan twice |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const [h, v] of [[100, 600], [200, 1200], [1000, 6000]]) {
    const cloud = cloudScenario(h, v);
    const wp = core(cloud);
    const running = cloud.vms.map((x) => ({ workload: { id: x.id, demand: { cpuMillis: cpuMillis(x.vcpus * 1000), memBytes: memBytes(x.memGiB * GiB) }, selector: {} }, hostId: cloud.hosts[x.host].id }));
    const deps = { core: wp, limits: { maxWorkloads: 10_000 }, migrationWatts: 2 };
    const req = { running, maxMigrations: 0, timeBudgetMs: BUDGET, hostIds: cloud.hosts.map((x) => x.id) };
    const t = performance.now();
    const a = await planConsolidation(deps, req);
    const ms = performance.now() - t;
    const b = await planConsolidation(deps, req);
    const same = JSON.stringify(a.migrations) === JSON.stringify(b.migrations);
    const bound = cloudCapacityBound(cloud);
    const other = a.migrations.filter((m) => m.reason !== 'drain').length;
    console.log(
      `| ${h} / ${cloud.vms.length} | ${bound} | ${a.targetHostsOn} | ${a.hostsOn} | ${a.hostsOn <= 1.05 * bound ? 'yes' : 'NO'} (${(a.hostsOn / bound).toFixed(3)}) | ${a.migrations.length} | ${other} | ${a.pointless} | ${a.unorderedTargetMoves.length} | ${(a.stats.gap * 100).toFixed(1)} % | ${ms.toFixed(0)} | ${same ? 'yes' : 'NO'} |`,
    );
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
