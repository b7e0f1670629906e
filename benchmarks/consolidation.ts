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
import { cloudCore, cloudRunning } from '../src/decision/fixtures';
import { planConsolidation } from '../src/decision/consolidation';
import { cloudCapacityBound, cloudScenario, type Cloud } from '../src/solver/fixtures';

const GiB = 2 ** 30;
const BUDGET = Number(process.env.BENCH_CONSOLIDATION_BUDGET_MS ?? 1000);

const core = (cloud: Cloud) => cloudCore(cloud, Date.now());

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / GiB)} GiB, budget ${BUDGET} ms, migration 2 W`);
  console.log('| hosts / VMs | capacity bound | optimizer target | plan: hosts on | ≤ 1.05 × bound | migrations | enable / relief moves | pointless | target moves not made | gap (plan) | time (ms) | same plan twice |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const [h, v] of [[100, 600], [200, 1200], [1000, 6000]]) {
    const cloud = cloudScenario(h, v);
    const wp = core(cloud);
    const running = cloudRunning(cloud);
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
