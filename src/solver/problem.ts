import { PowerState } from '../domain';
import type { PowerModel } from '../power';

/**
 * The batch / consolidation problem in domain terms. Hosts carry what is left of
 * their capacity after the load the problem does not move ("fixed" load:
 * allocations the orchestrator reported that are not listed as movable
 * workloads, open reservations, measured baseline); workloads carry their demand,
 * selector and, for consolidation, the host they run on now.
 *
 * Semantics are those of the hot path (src/placement/filters):
 *   capacity:  Σ cpu ≤ cpuFree = capCpu × cpuRatio − fixed          (same for memory)
 *   ceiling:   Σ cpu ≤ cpuCeilingFree = ceiling × capCpu × cpuRatio − fixed
 *              (and, with a measured baseline, ceiling × capCpu − measured − reserved)
 *   power:     P(baseUtil + Σ cpu / capCpu) when the host holds anything or cannot
 *              go to STANDBY; standbyWatts when it is empty and may go to STANDBY.
 */
export interface SolverHost {
  readonly id: string;
  /** Physical CPU in millicores: utilization = load / capCpu drives power. */
  readonly capCpu: number;
  /** CPU (millicores) the movable workloads may take before the capacity rule is broken. */
  readonly cpuFree: number;
  /** CPU (millicores) the movable workloads may take before the utilization ceiling is broken. */
  readonly cpuCeilingFree: number;
  /** Memory (bytes) the movable workloads may take. */
  readonly memFree: number;
  /** Utilization of the fixed load, for power. */
  readonly baseUtil: number;
  readonly model: PowerModel;
  /**
   * MAINTENANCE: takes nothing new (not a migration target); its workloads may
   * leave. Callers also give it to hosts they freeze the same way: stale
   * telemetry, or draining for STANDBY (src/decision/consolidation.ts).
   */
  readonly state: PowerState;
  readonly labels: Readonly<Record<string, string>>;
  /** An empty host may be put in (or left in) STANDBY; otherwise it stays at P(baseUtil). */
  readonly canStandby: boolean;
  /**
   * Measured view (consolidation plans): CPU in use now as measured (millicores, the
   * workloads on it included) and the most it may reach (ceiling × capCpu). Absent when
   * the host reports no utilization: then only the allocated view is checked.
   */
  readonly measuredCpu?: number;
  readonly measuredLimit?: number;
}

export interface SolverWorkload {
  readonly id: string;
  readonly cpu: number;
  readonly mem: number;
  readonly selector: Readonly<Record<string, string>>;
  /** Index of the host it runs on now (consolidation), or -1 for a new workload. */
  readonly current: number;
  /** Its share of its host's measured CPU (millicores), for the measured view; 0 when unknown. */
  readonly measuredCpu?: number;
}

export interface Problem {
  readonly hosts: readonly SolverHost[];
  readonly workloads: readonly SolverWorkload[];
  /** Most workloads that may change host (consolidation); Infinity = no limit. */
  readonly maxMigrations: number;
  /**
   * Watts a migration must save to be worth it (added to the objective per
   * migration, so a move is only made when it saves at least this much).
   */
  readonly migrationWatts: number;
}

/** host index per workload; -1 = unplaced. */
export type Assignment = Int32Array;

export const UNPLACED = -1;
const EPS = 1e-9;

/** Flat per-host / per-pair numbers every algorithm shares, computed once per problem. */
export interface Prepared {
  readonly p: Problem;
  readonly nh: number;
  readonly nw: number;
  /** min(cpuFree, cpuCeilingFree) per host. */
  readonly cpuLim: Float64Array;
  readonly memLim: Float64Array;
  /** Watts of the host when it holds nothing movable. */
  readonly emptyW: Float64Array;
  /** P(baseUtil) − emptyW: what switching it on costs before any load. */
  readonly openCost: Float64Array;
  /** Whether workload w may go on host h at all (selector, MAINTENANCE rule, fits alone): allowed[w*nh+h]. */
  readonly allowed: Uint8Array;
  readonly cpu: Float64Array;
  readonly mem: Float64Array;
  readonly current: Int32Array;
}

export function selectorMatches(sel: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean {
  for (const k in sel) if (labels[k] !== sel[k]) return false;
  return true;
}

export function prepare(p: Problem): Prepared {
  const nh = p.hosts.length;
  const nw = p.workloads.length;
  const cpuLim = new Float64Array(nh);
  const memLim = new Float64Array(nh);
  const emptyW = new Float64Array(nh);
  const openCost = new Float64Array(nh);
  for (let h = 0; h < nh; h++) {
    const host = p.hosts[h];
    cpuLim[h] = Math.min(host.cpuFree, host.cpuCeilingFree);
    memLim[h] = host.memFree;
    const on = host.model.watts(host.baseUtil);
    emptyW[h] = host.canStandby ? host.model.standbyWatts : on;
    openCost[h] = on - emptyW[h];
  }
  const cpu = new Float64Array(nw);
  const mem = new Float64Array(nw);
  const current = new Int32Array(nw);
  const allowed = new Uint8Array(nw * nh);
  for (let w = 0; w < nw; w++) {
    const wl = p.workloads[w];
    cpu[w] = wl.cpu;
    mem[w] = wl.mem;
    current[w] = wl.current;
    for (let h = 0; h < nh; h++) {
      const host = p.hosts[h];
      if (host.state === PowerState.MAINTENANCE && wl.current !== h) continue;
      if (wl.cpu > cpuLim[h] + EPS || wl.mem > memLim[h] + EPS) continue;
      if (!selectorMatches(wl.selector, host.labels)) continue;
      allowed[w * nh + h] = 1;
    }
  }
  return { p, nh, nw, cpuLim, memLim, emptyW, openCost, allowed, cpu, mem, current };
}

/** Watts of host h carrying `load` movable millicores. */
export function hostWatts(pp: Prepared, h: number, load: number, count: number): number {
  if (count === 0) return pp.emptyW[h];
  const host = pp.p.hosts[h];
  return host.model.watts(host.baseUtil + load / host.capCpu);
}

export interface Evaluation {
  /** Σ host watts + migrationWatts × migrations. */
  readonly objective: number;
  readonly watts: number;
  readonly migrations: number;
  readonly loadCpu: Float64Array;
  readonly loadMem: Float64Array;
  readonly count: Int32Array;
}

/** Objective of an assignment (no feasibility check: see verify). */
export function evaluate(pp: Prepared, a: Assignment): Evaluation {
  const loadCpu = new Float64Array(pp.nh);
  const loadMem = new Float64Array(pp.nh);
  const count = new Int32Array(pp.nh);
  let migrations = 0;
  for (let w = 0; w < pp.nw; w++) {
    const h = a[w];
    if (h < 0) continue;
    loadCpu[h] += pp.cpu[w];
    loadMem[h] += pp.mem[w];
    count[h]++;
    if (pp.current[w] >= 0 && pp.current[w] !== h) migrations++;
  }
  let watts = 0;
  for (let h = 0; h < pp.nh; h++) watts += hostWatts(pp, h, loadCpu[h], count[h]);
  return { objective: watts + pp.p.migrationWatts * migrations, watts, migrations, loadCpu, loadMem, count };
}

/** Watts with every workload where it is now (consolidation's "before"). */
export function currentAssignment(p: Problem): Assignment {
  return Int32Array.from(p.workloads, (w) => w.current);
}
