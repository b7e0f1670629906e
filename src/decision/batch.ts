import { LimitError, PowerState, ValidationError, echo, type Rejection, type Workload } from '../domain';
import { optimize, type ExactBackend, type OptimizeResult, type SolveStats, type SolverObserver } from '../solver/optimize';
import { selectorMatches, type Problem, type SolverHost, type SolverWorkload } from '../solver/problem';
import type { ClusterSnapshot } from '../telemetry';
import type { Wattplace } from './wattplace';
import { checkWorkload } from './workload';

/** Limits of the batch RPCs (documented in the README's limits table). */
export interface BatchLimits {
  /** Budget when the request sends 0. */
  readonly defaultBudgetMs: number;
  /** Largest budget a request may ask for. */
  readonly maxBudgetMs: number;
  /** Most workloads in one PlaceBatch / running entries in one PlanConsolidation. */
  readonly maxWorkloads: number;
  /** Most hosts one optimization may consider. */
  readonly maxHosts: number;
  /** Most (workload, host) pairs one optimization may consider: its memory and time grow with it. */
  readonly maxPairs: number;
}

export const DEFAULT_BATCH_LIMITS: BatchLimits = { defaultBudgetMs: 1000, maxBudgetMs: 60_000, maxWorkloads: 5000, maxHosts: 20_000, maxPairs: 10_000_000 };

/** Refuses a problem larger than the limits, naming the request field that makes it so. */
export function checkSize(limits: BatchLimits, hosts: number, workloads: number, field: string): void {
  if (hosts > limits.maxHosts) throw new LimitError(field === 'running' ? 'host_ids' : 'hosts', `at most ${limits.maxHosts} hosts per optimization, got ${hosts}`);
  if (hosts * workloads > limits.maxPairs) {
    throw new LimitError(field, `at most ${limits.maxPairs} workload × host pairs per optimization: ${workloads} workloads × ${hosts} hosts; send at most ${Math.floor(limits.maxPairs / Math.max(1, hosts))} workloads`);
  }
}

/**
 * Most optimizations that use an exact-solver thread at once (process-wide). A call
 * beyond that still gets a verified answer within its budget, from the heuristic
 * alone (method "heuristic"), instead of another thread.
 */
export const MAX_SOLVER_THREADS = 4;
let threadsInUse = 0;

/** Runs the optimizer with the exact backend when a thread is free, the heuristic alone otherwise. */
export async function optimizeShared(deps: BatchDeps, p: Problem, budgetMs: number, rpc: string): Promise<OptimizeResult> {
  const observer = deps.observer?.(rpc);
  if (deps.backend === null || threadsInUse >= MAX_SOLVER_THREADS) return optimize(p, { budgetMs, backend: null, observer });
  threadsInUse++;
  try {
    return await optimize(p, { budgetMs, backend: deps.backend, observer });
  } finally {
    threadsInUse--;
  }
}

export interface BatchDeps {
  readonly core: Wattplace;
  readonly limits?: Partial<BatchLimits>;
  /** Exact backend factory (default javascript-lp-solver in a worker); null = heuristic only. */
  readonly backend?: (() => ExactBackend) | null;
  readonly observer?: (rpc: string) => BatchObserver;
  /** PlanConsolidation: watts each migration must save (priced into the objective); default 0. */
  readonly migrationWatts?: number;
}

/** Optimizer events plus the outcome of a consolidation plan (for metrics). */
export interface BatchObserver extends SolverObserver {
  consolidated?(wattsBefore: number, wattsAfter: number): void;
}

export interface BatchAssignment {
  readonly workloadId: string;
  readonly hostId: string;
  readonly reservationId: string;
}

export interface BatchResult {
  readonly assignments: BatchAssignment[];
  /** One per workload that was not placed; hostId is empty, the reason starts with the workload id. */
  readonly unplaced: Rejection[];
  readonly stats: SolveStats;
  /** ON hosts that were empty and that the batch leaves empty: priced at standby watts, free to power down. */
  readonly standbyHostIds: string[];
}

export function budgetOf(ms: number, limits: BatchLimits, field = 'time_budget_ms'): number {
  if (!Number.isFinite(ms) || ms < 0) throw new ValidationError(field, `must be a whole number ≥ 0, got ${ms}`);
  if (ms === 0) return limits.defaultBudgetMs;
  if (ms > limits.maxBudgetMs) throw new LimitError(field, `at most ${limits.maxBudgetMs} ms, got ${ms}`);
  return ms;
}

/**
 * A snapshot host as the batch problem sees it, with the hot path's rules
 * (src/placement filters and marginal-power score):
 *   cpuFree        = capCpu × cpuRatio − allocated − reserved
 *   cpuCeilingFree = min(ceiling × capCpu × cpuRatio − allocated − reserved,
 *                        ceiling × capCpu − measured × capCpu − reserved)   (measured view when reported)
 *   memFree        = capMem × memRatio − allocatedMem − reservedMem
 *   baseUtil       = measured utilization (or allocated / capCpu) + reserved / capCpu
 * An empty host (nothing allocated, no open reservation, not even a zero-size
 * one), in STANDBY or ON, is priced from standby watts when the batch leaves it
 * empty: a STANDBY one stays there, an ON one can go there (the answer lists
 * those in standbyHostIds). Using it costs P(base + load) − P_standby. Every
 * other host stays on.
 */
export function batchHost(core: Wattplace, snap: ClusterSnapshot, h: number): SolverHost {
  const cfg = core.config;
  const book = core.reservations;
  const cap = snap.capCpu[h];
  const capMem = snap.capMem[h];
  const allocC = snap.allocCpu[h];
  const allocM = snap.allocMem[h];
  const resC = h < book.cpu.length ? book.cpu[h] : 0;
  const resM = h < book.mem.length ? book.mem[h] : 0;
  const meas = snap.cpuUtil[h];
  let ceilingFree = cfg.cpuCeiling * cap * cfg.cpuAllocationRatio - allocC - resC;
  if (meas === meas) ceilingFree = Math.min(ceilingFree, cfg.cpuCeiling * cap - meas * cap - resC);
  const base = (meas === meas ? meas : cap > 0 ? allocC / cap : 0) + (cap > 0 ? resC / cap : 0);
  const state = snap.state[h];
  // a zero-size reservation still holds the host for a workload on its way
  const empty = book.countOn(h) === 0 && resC === 0 && resM === 0 && allocC === 0 && allocM === 0;
  const idleStandby = empty && (state === PowerState.STANDBY || state === PowerState.ON);
  return {
    id: snap.ids[h],
    capCpu: cap,
    cpuFree: Math.max(0, cap * cfg.cpuAllocationRatio - allocC - resC),
    cpuCeilingFree: Math.max(0, ceilingFree),
    memFree: Math.max(0, capMem * cfg.memAllocationRatio - allocM - resM),
    baseUtil: base,
    model: snap.models[h],
    state: snap.state[h] as PowerState,
    labels: snap.specs[h].labels,
    canStandby: idleStandby,
  };
}

/** Why no host could take `w`, summarized over the hosts (for the unplaced list). */
function explain(w: SolverWorkload, hosts: readonly SolverHost[], excluded: { maintenance: number; draining: number; stale: number }, room: boolean): string {
  if (room) return `workload ${w.id}: fits a host on its own, but no room was left after placing the rest of the batch`;
  let sel = 0;
  let cpu = 0;
  let ceil = 0;
  let mem = 0;
  for (const h of hosts) {
    if (!selectorMatches(w.selector, h.labels)) sel++;
    else if (w.cpu > h.cpuFree) cpu++;
    else if (w.cpu > h.cpuCeilingFree) ceil++;
    else if (w.mem > h.memFree) mem++;
  }
  const parts = [
    excluded.maintenance && `${excluded.maintenance} in MAINTENANCE`,
    excluded.draining && `${excluded.draining} draining for standby`,
    excluded.stale && `${excluded.stale} with stale telemetry`,
    sel && `${sel} do not match the selector`,
    cpu && `${cpu} lack cpu`,
    ceil && `${ceil} would exceed the cpu ceiling`,
    mem && `${mem} lack memory`,
  ].filter(Boolean);
  return `workload ${w.id}: no host can take it (${parts.join(', ') || 'no hosts registered'})`;
}

/** PlaceBatch: places many workloads jointly and reserves them like Place. */
export async function placeBatch(deps: BatchDeps, workloads: readonly Workload[], timeBudgetMs: number): Promise<BatchResult> {
  const limits = { ...DEFAULT_BATCH_LIMITS, ...deps.limits };
  const { core } = deps;
  if (workloads.length === 0) throw new ValidationError('workloads', 'at least one workload is required');
  if (workloads.length > limits.maxWorkloads) throw new LimitError('workloads', `at most ${limits.maxWorkloads} per batch, got ${workloads.length}`);
  const budget = budgetOf(timeBudgetMs, limits);
  const seen = new Set<string>();
  workloads.forEach((w, i) => {
    checkWorkload(w, `workloads[${i}]`);
    if (!w.id) throw new ValidationError(`workloads[${i}].id`, 'required');
    if (seen.has(w.id)) throw new ValidationError(`workloads[${i}].id`, `duplicate workload id ${echo(w.id)} in one batch`);
    seen.add(w.id);
  });
  const now = core.clock();
  const book = core.reservations;
  book.expire(now);
  const snap = core.collector.current();
  book.ensureHosts(snap.size);
  checkSize(limits, snap.size, workloads.length, 'workloads');
  const hostIdx: number[] = [];
  const hosts: SolverHost[] = [];
  const excluded = { maintenance: 0, draining: 0, stale: 0 };
  for (let h = 0; h < snap.size; h++) {
    if (snap.state[h] === PowerState.MAINTENANCE) {
      excluded.maintenance++;
      continue;
    }
    // a host being drained for STANDBY takes nothing new (the Draining filter)
    if (snap.draining[h] !== 0) {
      excluded.draining++;
      continue;
    }
    if (now - snap.lastSampleMs[h] > core.config.staleAfterMs) {
      excluded.stale++;
      continue;
    }
    hostIdx.push(h);
    hosts.push(batchHost(core, snap, h));
  }
  const ws: SolverWorkload[] = workloads.map((w) => ({ id: w.id, cpu: w.demand.cpuMillis, mem: w.demand.memBytes, selector: w.selector ?? {}, current: -1 }));
  const problem: Problem = { hosts, workloads: ws, maxMigrations: Infinity, migrationWatts: 0 };
  const res = await optimizeShared(deps, problem, budget, 'PlaceBatch');

  // Reserve. The solve was asynchronous: Place calls may have reserved meanwhile,
  // so each assignment is checked again against the live reservations.
  const now2 = core.clock();
  book.expire(now2);
  const snap2 = core.collector.current();
  book.ensureHosts(snap2.size);
  const assignments: BatchAssignment[] = [];
  const unplaced: Rejection[] = [];
  const unplacedSet = new Set(res.unplaced);
  for (let w = 0; w < ws.length; w++) {
    if (unplacedSet.has(w)) {
      const fitsAlone = hosts.some((h) => selectorMatches(ws[w].selector, h.labels) && ws[w].cpu <= Math.min(h.cpuFree, h.cpuCeilingFree) && ws[w].mem <= h.memFree);
      unplaced.push({ hostId: '', reason: explain(ws[w], hosts, excluded, fitsAlone) });
      continue;
    }
    const h = hostIdx[res.assignment[w]];
    const live = h < snap2.size ? batchHost(core, snap2, h) : undefined;
    // the host's free room now, less what this batch already reserved on it
    if (!live || ws[w].cpu > Math.min(live.cpuFree, live.cpuCeilingFree) + 1e-6 || ws[w].mem > live.memFree + 1e-6 || live.state === PowerState.MAINTENANCE) {
      unplaced.push({ hostId: '', reason: `workload ${ws[w].id}: host ${snap.ids[h]} was taken by a concurrent placement while the batch was solved` });
      continue;
    }
    if (snap2.draining[h] !== 0) {
      unplaced.push({ hostId: '', reason: `workload ${ws[w].id}: host ${snap.ids[h]} started draining for standby while the batch was solved` });
      continue;
    }
    const r = book.reserve(ws[w].id, h, snap2.ids[h], ws[w].cpu, ws[w].mem, now2, core.store.allocatedNow(h));
    assignments.push({ workloadId: ws[w].id, hostId: snap2.ids[h], reservationId: r.id });
  }
  // Empty ON hosts the batch did not use: the objective counted them at standby watts.
  const used = new Uint8Array(snap2.size);
  for (const a of assignments) used[snap2.indexOf(a.hostId)] = 1;
  const standbyHostIds: string[] = [];
  for (let i = 0; i < hosts.length; i++) {
    const h = hostIdx[i];
    if (!hosts[i].canStandby || hosts[i].state !== PowerState.ON || used[h]) continue;
    // still empty now (a concurrent Place may have reserved on it while the batch was solved)
    const live = batchHost(core, snap2, h);
    // and its telemetry is still fresh (a host gone quiet is not one to power down blind)
    const fresh = !(now2 - snap2.lastSampleMs[h] > core.config.staleAfterMs);
    if (live.canStandby && live.state === PowerState.ON && fresh) standbyHostIds.push(snap2.ids[h]);
  }
  return { assignments, unplaced, stats: res.stats, standbyHostIds };
}
