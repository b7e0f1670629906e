import { Gauge, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { cloudCapacityBound, cloudScenario, type Cloud } from '../solver/fixtures';
import { planConsolidation, type ConsolidationPlan } from './consolidation';
import { SolverMetrics } from './batch-metrics';
import { cloudCore, cloudRunning } from './fixtures';

/**
 * PlanConsolidation on the issue-12 cloud (src/solver/fixtures.ts cloudScenario:
 * 32 vCPU / 128 GiB and 64 vCPU / 256 GiB hosts, VMs of 1–8 vCPU and 2–32 GiB at
 * 5–60 % CPU, random start within capacity; allocation ratio 1, ceiling 0.8).
 * Every plan is replayed here, independently of the solver's own checks: a moving
 * VM counts on source and target until its step is done, and the target must stay
 * within 0.8 × vCPUs allocated, 0.8 × vCPUs measured (Σ util × vCPUs) and its memory.
 */

const core = (cloud: Cloud) => cloudCore(cloud, 1_700_000_000_000);

/** Replays the plan; returns hosts left on and the moves off a host left on that neither make room for a freed host nor relieve an over-full one. */
function replay(cloud: Cloud, plan: ConsolidationPlan): { hostsOn: number; pointless: number } {
  const idx = new Map(cloud.hosts.map((h, i) => [h.id, i]));
  const vm = new Map(cloud.vms.map((v) => [v.id, v]));
  const where = new Map(cloud.vms.map((v) => [v.id, v.host]));
  const n = cloud.hosts.length;
  const alloc = new Float64Array(n);
  const meas = new Float64Array(n);
  const mem = new Float64Array(n);
  const count = new Int32Array(n);
  for (const v of cloud.vms) {
    alloc[v.host] += v.vcpus;
    meas[v.host] += v.util * v.vcpus;
    mem[v.host] += v.memGiB;
    count[v.host]++;
  }
  const overAtStart = cloud.hosts.map((h, i) => alloc[i] > 0.8 * h.vcpus + 1e-9);
  for (const m of plan.migrations) {
    const v = vm.get(m.workloadId)!;
    const s = idx.get(m.sourceHostId)!;
    const d = idx.get(m.targetHostId)!;
    expect(where.get(v.id)).toBe(s);
    alloc[d] += v.vcpus;
    meas[d] += v.util * v.vcpus;
    mem[d] += v.memGiB;
    expect(alloc[d]).toBeLessThanOrEqual(0.8 * cloud.hosts[d].vcpus + 1e-9);
    expect(meas[d]).toBeLessThanOrEqual(0.8 * cloud.hosts[d].vcpus + 1e-9);
    expect(mem[d]).toBeLessThanOrEqual(cloud.hosts[d].memGiB + 1e-9);
    alloc[s] -= v.vcpus;
    meas[s] -= v.util * v.vcpus;
    mem[s] -= v.memGiB;
    count[s]--;
    count[d]++;
    where.set(v.id, d);
  }
  let hostsOn = 0;
  for (let h = 0; h < n; h++) if (count[h] > 0) hostsOn++;
  let pointless = 0;
  for (const m of plan.migrations) {
    const s = idx.get(m.sourceHostId)!;
    if (count[s] === 0) continue; // frees its source
    const e = m.enablesHostId ? idx.get(m.enablesHostId)! : -1;
    if (m.reason === 'enable' && e >= 0 && count[e] === 0) continue; // makes room for a host that ends empty
    if (m.reason === 'relief' && overAtStart[s]) continue; // takes a host back under the ceiling
    pointless++;
  }
  // every host freed is in STANDBY in the answer
  expect(plan.standbyHostIds.length).toBe(n - hostsOn);
  return { hostsOn, pointless };
}

describe('PlanConsolidation on the issue-12 cloud', () => {
  // bound = fewest hosts whose 0.8 × vCPUs and memory hold every VM (largest first)
  it.each([
    { hosts: 100, vms: 600 },
    { hosts: 200, vms: 1200 },
    { hosts: 1000, vms: 6000 },
  ])('$hosts hosts / $vms VMs: ≤ 1.05 × the capacity bound on, every step within limits, ≤ 5 % pointless moves, the same plan twice', async ({ hosts, vms }) => {
    const cloud = cloudScenario(hosts, vms);
    const wp = core(cloud);
    const running = cloudRunning(cloud);
    const deps = { core: wp, limits: { maxWorkloads: 10_000 }, migrationWatts: 2 };
    const req = { running, maxMigrations: 0, timeBudgetMs: 1000, hostIds: cloud.hosts.map((h) => h.id) };
    const a = await planConsolidation(deps, req);
    const b = await planConsolidation(deps, req);
    const bound = cloudCapacityBound(cloud);
    const r = replay(cloud, a);
    expect(r.hostsOn).toBeLessThanOrEqual(1.05 * bound);
    // within 3 % of the optimizer's own target
    expect(r.hostsOn).toBeLessThanOrEqual(1.03 * a.targetHostsOn);
    expect(r.pointless).toBeLessThanOrEqual(0.05 * a.migrations.length);
    expect(b.migrations).toEqual(a.migrations);
    expect(b.standbyHostIds).toEqual(a.standbyHostIds);
    // the gap in the answer is the plan's own: (objective − bound) / bound
    expect(a.stats.gap).toBeCloseTo((a.stats.objective - a.stats.bound) / a.stats.bound, 9);
  }, 60_000);

  it('the gap in the answer, wattplace_solver_gap and wattplace_solver_gap_ratio are the same number: the plan\'s own', async () => {
    const cloud = cloudScenario(30, 180, 5);
    const registry = new Registry();
    const gauge = new Gauge({ name: 'wattplace_solver_gap', help: 'gap', labelNames: ['rpc'] as const, registers: [registry] });
    const sm = new SolverMetrics(registry);
    const running = cloudRunning(cloud);
    const a = await planConsolidation({ core: core(cloud), migrationWatts: 2, observer: (rpc) => sm.observer(rpc) }, { running, maxMigrations: 0, timeBudgetMs: 500, hostIds: [] });
    expect(a.migrations.length).toBeGreaterThan(0);
    expect((await gauge.get()).values[0].value).toBe(a.stats.gap);
    const hist = (await sm.gap.get()).values;
    expect(hist.find((x) => x.metricName === 'wattplace_solver_gap_ratio_sum')?.value).toBe(a.stats.gap);
    expect(hist.find((x) => x.metricName === 'wattplace_solver_gap_ratio_count')?.value).toBe(1);
  });
});
