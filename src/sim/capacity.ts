import type { HostTypeEntry, Scenario } from './scenario';
import { runJobs, type JobResult, type RunOptions, type SimJob } from './run';

export interface FleetCandidate {
  readonly family: string;
  readonly hostTypes: HostTypeEntry[];
  readonly hosts: number;
  readonly overloadFraction: number;
  readonly energyKwh: number;
  readonly rejected: number;
  readonly activeHostsMax: number;
  readonly purchase: number;
  /** Energy cost over the planning period (energy of the simulated span scaled to the period). */
  readonly energyCost: number;
  readonly totalCost: number;
}

export interface CapacityPlan {
  readonly target: number;
  readonly policy: string;
  /** The smallest feasible fleet of each family. */
  readonly best: FleetCandidate[];
  /** Cheapest (with costs) or smallest feasible fleet overall. */
  readonly choice: FleetCandidate | null;
  /** Every fleet simulated, in order. */
  readonly tried: FleetCandidate[];
  readonly byCost: boolean;
}

/** The scenario's fleet scaled to `n` hosts, keeping the type shares (at least one host of each type present). */
export function scaleFleet(types: readonly HostTypeEntry[], n: number): HostTypeEntry[] {
  const total = types.reduce((a, t) => a + t.count, 0);
  const present = types.filter((t) => t.count > 0);
  let left = n;
  const out = types.map((t, i) => {
    if (t.count === 0) return { ...t, count: 0 };
    const last = present[present.length - 1] === t;
    const c = last ? left : Math.max(0, Math.round((n * t.count) / total));
    left -= c;
    void i;
    return { ...t, count: Math.max(0, c) };
  });
  return out;
}

/**
 * Smallest fleet keeping real overload (host time with demand above capacity,
 * as a fraction of active host time) at or under the target, for each family:
 * the scenario's mix scaled, and each host type alone. Binary search over the
 * host count (overload does not grow with more hosts); one round runs the
 * families in parallel. With host costs and an energy price, the choice is the
 * cheapest by purchase + energy over the period; otherwise the fewest hosts.
 */
export async function planCapacity(s: Scenario, opts: RunOptions = {}): Promise<CapacityPlan> {
  const cp = s.capacityPlan;
  if (!cp) throw new Error('the scenario has no capacityPlan section');
  const base = s.hostTypes;
  const families: { family: string; make: (n: number) => HostTypeEntry[] }[] = [{ family: 'mix', make: (n) => scaleFleet(base, n) }];
  if (base.filter((t) => t.count > 0).length > 1) {
    for (const t of base) families.push({ family: t.name, make: (n) => [{ ...t, count: n }] });
  }
  const maxHosts = cp.maxHosts ?? base.reduce((a, t) => a + t.count, 0);
  const spanDays = ((s.steps ?? 288) * s.stepSeconds) / 86400;
  const byCost = cp.energyPrice !== undefined && base.some((t) => t.cost > 0);
  const tried: FleetCandidate[] = [];
  const evalRound = async (ns: { f: number; n: number }[]): Promise<FleetCandidate[]> => {
    const jobs: SimJob[] = ns.map(({ f, n }) => ({ scenario: s, policy: cp.policy, hostTypes: families[f].make(n), real: true, tag: `${families[f].family}:${n}` }));
    const res: JobResult[] = await runJobs(jobs, opts);
    return res.map((r, i) => {
      const ht = jobs[i].hostTypes as HostTypeEntry[];
      const purchase = ht.reduce((a, t) => a + t.count * t.cost, 0);
      const energyCost = (cp.energyPrice ?? 0) * r.metrics.energyKwh * (cp.periodDays / spanDays);
      const c: FleetCandidate = {
        family: families[ns[i].f].family,
        hostTypes: ht,
        hosts: ns[i].n,
        overloadFraction: r.metrics.rejected > 0 ? 1 : r.metrics.overloadFraction,
        energyKwh: r.metrics.energyKwh,
        rejected: r.metrics.rejected,
        activeHostsMax: r.metrics.activeHostsMax,
        purchase,
        energyCost,
        totalCost: purchase + energyCost,
      };
      tried.push(c);
      return c;
    });
  };
  const lo = families.map(() => 1);
  const hi = families.map(() => maxHosts);
  const best: (FleetCandidate | null)[] = families.map(() => null);
  // the largest fleet first: a family that fails there is infeasible
  const top = await evalRound(families.map((_, f) => ({ f, n: maxHosts })));
  const live = new Set<number>();
  top.forEach((c, f) => {
    if (c.overloadFraction <= cp.overloadTarget) {
      best[f] = c;
      live.add(f);
    }
  });
  while (live.size > 0) {
    const round: { f: number; n: number }[] = [];
    for (const f of [...live]) {
      if (lo[f] >= hi[f]) {
        live.delete(f);
        continue;
      }
      round.push({ f, n: Math.floor((lo[f] + hi[f]) / 2) });
    }
    if (round.length === 0) break;
    const res = await evalRound(round);
    res.forEach((c, i) => {
      const f = round[i].f;
      if (c.overloadFraction <= cp.overloadTarget) {
        hi[f] = round[i].n;
        best[f] = c;
      } else lo[f] = round[i].n + 1;
    });
  }
  const feasible = best.filter((b): b is FleetCandidate => b !== null);
  const choice = feasible.length === 0 ? null : feasible.reduce((a, b) => (byCost ? (b.totalCost < a.totalCost ? b : a) : b.hosts < a.hosts ? b : a));
  return { target: cp.overloadTarget, policy: typeof cp.policy === 'string' ? cp.policy : cp.policy.name, best: feasible, choice, tried, byCost };
}

export function formatCapacity(p: CapacityPlan): string {
  const lines = [`Capacity plan: smallest fleet with real overload ≤ ${(p.target * 100).toFixed(2)} % (policy ${p.policy}${p.byCost ? ', by purchase + energy cost' : ''})`];
  for (const b of p.best) {
    lines.push(
      `  ${b.family.padEnd(16)} ${String(b.hosts).padStart(5)} hosts  overload ${(b.overloadFraction * 100).toFixed(3)} %  energy ${b.energyKwh.toFixed(1)} kWh  peak active ${b.activeHostsMax}` +
        (p.byCost ? `  cost ${b.totalCost.toFixed(0)} (purchase ${b.purchase.toFixed(0)} + energy ${b.energyCost.toFixed(0)})` : ''),
    );
  }
  lines.push(p.choice ? `  → ${p.choice.family}: ${p.choice.hostTypes.filter((t) => t.count > 0).map((t) => `${t.count} × ${t.name}`).join(' + ')}` : '  → no fleet up to the maximum meets the target');
  return lines.join('\n');
}

export interface WhatIfRow {
  readonly variant: string;
  readonly result: JobResult;
}

/** Each what-if fleet with each policy, side by side with the scenario's own fleet. */
export async function runWhatIf(s: Scenario, opts: RunOptions = {}): Promise<WhatIfRow[]> {
  const variants = [{ name: 'baseline', hostTypes: s.hostTypes }, ...s.whatIf];
  const jobs: SimJob[] = [];
  for (const v of variants) for (const p of s.policies) jobs.push({ scenario: s, policy: p, hostTypes: v.hostTypes, tag: `${v.name}` });
  const res = await runJobs(jobs, opts);
  return res.map((r, i) => ({ variant: jobs[i].tag as string, result: r }));
}

export function formatWhatIf(rows: readonly WhatIfRow[]): string {
  const head = ['variant', 'policy', 'energy kWh', 'overload', 'migrations', 'hosts needed (peak active)'];
  const cells = [head, ...rows.map((r) => [r.variant, r.result.metrics.policy, r.result.metrics.energyKwh.toFixed(1), `${(r.result.metrics.overloadFraction * 100).toFixed(3)} %`, String(r.result.metrics.migrations), String(r.result.metrics.activeHostsMax)])];
  const w = head.map((_, i) => Math.max(...cells.map((c) => c[i].length)));
  return cells.map((c) => c.map((x, i) => (i < 2 ? x.padEnd(w[i]) : x.padStart(w[i]))).join('  ')).join('\n');
}
