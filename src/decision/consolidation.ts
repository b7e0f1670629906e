import { LimitError, PowerState, ValidationError, echo, type Workload } from '../domain';
import type { SolveStats } from '../solver/optimize';
import { planCounts, planDrain, type DrainPlan, type MoveReason } from '../solver/consolidate';
import { currentAssignment, prepare, evaluate, type Problem, type SolverHost, type SolverWorkload } from '../solver/problem';
import { verify, verifyPlan } from '../solver/verify';
import { budgetOf, checkSize, DEFAULT_BATCH_LIMITS, optimizeShared, type BatchDeps } from './batch';
import { checkWorkload } from './workload';

export interface RunningInput {
  readonly workload: Workload;
  readonly hostId: string;
}

export interface ConsolidationRequest {
  /** Running workloads and their hosts; empty = from the snapshot (see planConsolidation). */
  readonly running: readonly RunningInput[];
  /** Most migrations; 0 = no limit. */
  readonly maxMigrations: number;
  readonly timeBudgetMs: number;
  /** Hosts the plan may use; empty = the hosts named in running (all hosts when running is empty). */
  readonly hostIds: readonly string[];
  /**
   * Load on a host that is neither listed nor movable (e.g. servers that are
   * building or already migrating): it stays where it is, and a host holding
   * any is not powered down. Counted as max(this, allocation reported beyond
   * the listed workloads), so a report that already includes it is not doubled.
   */
  readonly fixed?: readonly { readonly hostId: string; readonly cpuMillis: number; readonly memBytes: number }[];
}

export interface PlannedMigration {
  readonly workloadId: string;
  readonly sourceHostId: string;
  readonly targetHostId: string;
  /** drain: empties its source; enable: makes room for the drain of `enablesHostId`; relief: takes its source back within a limit. */
  readonly reason: MoveReason;
  /** The host this move helps to free (its source for a drain move); empty for relief. */
  readonly enablesHostId: string;
}

export interface ConsolidationPlan {
  /** In execution order; every prefix leaves every host within capacity and the ceiling. */
  readonly migrations: PlannedMigration[];
  /** Hosts that are ON now and empty once the migrations are done. */
  readonly standbyHostIds: string[];
  readonly wattsBefore: number;
  readonly wattsAfter: number;
  readonly stats: SolveStats;
  /** Moves of the optimizer's target off hosts the target frees that the plan could not make (those hosts stay on). */
  readonly dropped: number;
  /** The optimizer's target moves the plan does not make as the target has them, as workload → target host. */
  readonly unorderedTargetMoves: PlannedMigration[];
  /** Hosts the plan leaves on, hosts the optimizer's target leaves on. */
  readonly hostsOn: number;
  readonly targetHostsOn: number;
  /** Moves off a host that stays on without making room for another drain (0 by construction). */
  readonly pointless: number;
}

/**
 * PlanConsolidation. The problem, per host in scope, with the hot path's capacity
 * and ceiling rules on the allocated view, and the ceiling on the measured view
 * for each step of the plan (a host's measured CPU is split among what is
 * allocated on it in proportion to the allocations; a moving workload takes its
 * share along and counts on both hosts while it moves):
 *   fixed load     = allocation the orchestrator reported beyond the listed workloads
 *                    (max(0, allocated − Σ listed)) + open reservations
 *   cpuFree        = capCpu × cpuRatio − fixed;  cpuCeilingFree = ceiling × capCpu × cpuRatio − fixed
 *   memFree        = capMem × memRatio − fixedMem
 *   power          = P((fixed + Σ cpu) / capCpu); an empty host without fixed load goes to STANDBY.
 * Hosts in MAINTENANCE, draining for STANDBY or with stale telemetry keep their
 * workloads (those may leave) but take nothing new and are not powered down.
 *
 * "From the snapshot" (running empty): the snapshot has no per-workload view; the
 * workloads wattplace knows individually are its open reservations (placed by
 * Place/PlaceBatch, not yet confirmed by an allocation report). Those are the
 * movable workloads (demand as reserved, no selector); each host's reported
 * allocation is fixed load, so a host with reported allocation stays on.
 *
 * watts before/after are model watts (the hosts' power models at the allocated
 * utilization), so the two are comparable; ON hosts that are empty now count at
 * P(fixed) before and at standby watts after.
 */
export async function planConsolidation(deps: BatchDeps, req: ConsolidationRequest): Promise<ConsolidationPlan> {
  const limits = { ...DEFAULT_BATCH_LIMITS, ...deps.limits };
  const { core } = deps;
  const cfg = core.config;
  if (req.running.length > limits.maxWorkloads) throw new LimitError('running', `at most ${limits.maxWorkloads} entries, got ${req.running.length}`);
  if (req.hostIds.length > limits.maxHosts) throw new LimitError('host_ids', `at most ${limits.maxHosts} hosts, got ${req.hostIds.length}`);
  if (!Number.isInteger(req.maxMigrations) || req.maxMigrations < 0) throw new ValidationError('max_migrations', `must be a whole number ≥ 0, got ${req.maxMigrations}`);
  const budget = budgetOf(req.timeBudgetMs, limits);
  const now = core.clock();
  const book = core.reservations;
  book.expire(now);
  const snap = core.collector.current();
  book.ensureHosts(snap.size);

  // movable workloads: (workload, snapshot host index, is a reservation)
  const movable: { w: Workload; h: number; reservation: boolean }[] = [];
  if (req.running.length > 0) {
    const seen = new Set<string>();
    req.running.forEach((r, i) => {
      checkWorkload(r.workload, `running[${i}].workload`);
      if (!r.workload.id) throw new ValidationError(`running[${i}].workload.id`, 'required');
      if (seen.has(r.workload.id)) throw new ValidationError(`running[${i}].workload.id`, `duplicate workload id ${echo(r.workload.id)}`);
      seen.add(r.workload.id);
      if (!r.hostId) throw new ValidationError(`running[${i}].host_id`, 'required');
      const h = snap.indexOf(r.hostId);
      if (h < 0) throw new ValidationError(`running[${i}].host_id`, `unknown host ${echo(r.hostId)}: not registered with wattplace`);
      movable.push({ w: r.workload, h, reservation: false });
    });
  } else {
    for (const r of book.list()) {
      movable.push({ w: { id: r.workloadId, demand: { cpuMillis: r.cpuMillis, memBytes: r.memBytes } as Workload['demand'], selector: {} }, h: r.hostIndex, reservation: true });
    }
  }

  // hosts in scope
  let scope: number[];
  if (req.hostIds.length > 0) {
    const set = new Set<number>();
    req.hostIds.forEach((id, i) => {
      const h = snap.indexOf(id);
      if (h < 0) throw new ValidationError(`host_ids[${i}]`, `unknown host ${echo(id)}: not registered with wattplace`);
      set.add(h);
    });
    movable.forEach((m, i) => {
      if (!set.has(m.h)) {
        if (req.running.length > 0) throw new ValidationError(`running[${i}].host_id`, `host ${echo(snap.ids[m.h])} is not among host_ids`);
      }
    });
    scope = [...set].sort((a, b) => a - b);
  } else if (req.running.length > 0) {
    scope = [...new Set(movable.map((m) => m.h))].sort((a, b) => a - b);
  } else {
    scope = Array.from({ length: snap.size }, (_, i) => i);
  }
  checkSize(limits, scope.length, movable.length, 'running');
  const inScope = new Int32Array(snap.size).fill(-1);
  scope.forEach((h, i) => (inScope[h] = i));
  const mine = movable.filter((m) => inScope[m.h] >= 0); // snapshot mode with host_ids: reservations elsewhere are not ours to move

  const listedC = new Float64Array(snap.size);
  const listedM = new Float64Array(snap.size);
  const resListedC = new Float64Array(snap.size);
  const resListedM = new Float64Array(snap.size);
  for (const m of mine) {
    if (m.reservation) {
      resListedC[m.h] += m.w.demand.cpuMillis;
      resListedM[m.h] += m.w.demand.memBytes;
    } else {
      listedC[m.h] += m.w.demand.cpuMillis;
      listedM[m.h] += m.w.demand.memBytes;
    }
  }
  const extraC = new Float64Array(snap.size);
  const extraM = new Float64Array(snap.size);
  (req.fixed ?? []).forEach((f, i) => {
    const h = snap.indexOf(f.hostId);
    if (h < 0) throw new ValidationError(`fixed[${i}].host_id`, `unknown host ${echo(f.hostId)}: not registered with wattplace`);
    if (!(f.cpuMillis >= 0) || !(f.memBytes >= 0)) throw new ValidationError(`fixed[${i}]`, 'cpu and memory must be ≥ 0');
    extraC[h] += f.cpuMillis;
    extraM[h] += f.memBytes;
  });
  const ceil = cfg.cpuCeiling;
  const hosts: SolverHost[] = scope.map((h) => {
    const cap = snap.capCpu[h];
    const fixedC = Math.max(snap.allocCpu[h] - listedC[h], extraC[h], 0) + Math.max(0, (book.cpu[h] ?? 0) - resListedC[h]);
    const fixedM = Math.max(snap.allocMem[h] - listedM[h], extraM[h], 0) + Math.max(0, (book.mem[h] ?? 0) - resListedM[h]);
    const stale = now - snap.lastSampleMs[h] > cfg.staleAfterMs;
    const frozen = snap.state[h] === PowerState.MAINTENANCE || snap.draining[h] !== 0 || stale;
    return {
      id: snap.ids[h],
      capCpu: cap,
      cpuFree: cap * cfg.cpuAllocationRatio - fixedC,
      cpuCeilingFree: ceil * cap * cfg.cpuAllocationRatio - fixedC,
      memFree: snap.capMem[h] * cfg.memAllocationRatio - fixedM,
      baseUtil: cap > 0 ? fixedC / cap : 0,
      model: snap.models[h],
      // a stale or draining host is treated like MAINTENANCE: nothing new, not powered down by this plan
      // (a draining host is already being emptied and powered down by the applier)
      state: frozen ? PowerState.MAINTENANCE : (snap.state[h] as PowerState),
      labels: snap.specs[h].labels,
      canStandby: !frozen && fixedC === 0 && fixedM === 0,
      ...(snap.cpuUtil[h] === snap.cpuUtil[h] ? { measuredCpu: snap.cpuUtil[h] * cap, measuredLimit: ceil * cap } : {}),
    };
  });
  // Each workload's share of its host's measured CPU, in proportion to its allocation among all
  // that is allocated there (listed, reserved or reported): the measured view moves with it.
  const measuredShare = (m: (typeof mine)[number]): number => {
    const u = snap.cpuUtil[m.h];
    if (!(u === u)) return 0;
    const total = Math.max(snap.allocCpu[m.h], listedC[m.h] + extraC[m.h]) + (book.cpu[m.h] ?? 0);
    return total > 0 ? (u * snap.capCpu[m.h] * m.w.demand.cpuMillis) / total : 0;
  };
  const ws: SolverWorkload[] = mine.map((m) => ({
    id: m.w.id,
    cpu: m.w.demand.cpuMillis,
    mem: m.w.demand.memBytes,
    selector: m.w.selector ?? {},
    current: inScope[m.h],
    measuredCpu: measuredShare(m),
  }));
  const problem: Problem = { hosts, workloads: ws, maxMigrations: req.maxMigrations === 0 ? Infinity : req.maxMigrations, migrationWatts: deps.migrationWatts ?? 0 };
  const pp = prepare(problem);
  const cur = currentAssignment(problem);
  const curEval = evaluate(pp, cur);
  // before: hosts that are ON now draw P(fixed + load) even when empty
  let wattsBefore = 0;
  for (let i = 0; i < hosts.length; i++) {
    const x = hosts[i];
    const on = curEval.count[i] > 0 || snap.state[scope[i]] !== PowerState.STANDBY;
    wattsBefore += on ? x.model.watts(x.baseUtil + curEval.loadCpu[i] / x.capCpu) : x.model.standbyWatts;
  }

  // the optimizer's answer is the target and the bound; its stats go to the metrics with the plan's own objective
  const outer = deps.observer?.('PlanConsolidation');
  const quiet: BatchDeps = { ...deps, observer: outer ? () => ({ ...outer, solved: undefined }) : undefined };
  const res = ws.length > 0 ? await optimizeShared(quiet, problem, budget, 'PlanConsolidation') : undefined;
  const target = res ? res.assignment : cur;
  // workloads the optimizer could not place stay where they are
  for (let w = 0; w < ws.length; w++) if (target[w] < 0) target[w] = cur[w];
  // the plan: a sequence of live migrations that fit at every step, hosts freed in
  // efficiency order from the current placement. It does not depend on the optimizer's
  // time budget, so the same request on the same snapshot gives the same plan. Only when
  // the optimizer proved its target optimal (which does not depend on time either) is the
  // plan guided by that target, and used when cheaper.
  const maxMig = problem.maxMigrations;
  const own = planDrain(problem, cur, null, { maxMigrations: maxMig });
  const guided = res?.stats.proven ? planDrain(problem, cur, target, { maxMigrations: maxMig }) : own;
  const cost = (d: DrainPlan) => evaluate(pp, d.final).watts + problem.migrationWatts * d.steps.length;
  const plan = cost(guided) < cost(own) - 1e-6 ? guided : own;
  const bad = verifyPlan(problem, cur, plan.steps);
  if (bad.length) throw new Error(`consolidation plan failed its step check: ${bad[0].message}`);
  // the end state must itself satisfy every constraint that held before (a host already over stays only if untouched)
  const finalEval = evaluate(pp, plan.final);
  const standbyHostIds: string[] = [];
  let wattsAfter = 0;
  for (let i = 0; i < hosts.length; i++) {
    const x = hosts[i];
    if (finalEval.count[i] === 0 && x.canStandby) {
      wattsAfter += x.model.standbyWatts;
      // ON now, or running something now (a STANDBY host woken by a reservation): it can go back to STANDBY
      if (snap.state[scope[i]] === PowerState.ON || curEval.count[i] > 0) standbyHostIds.push(x.id);
    } else if (finalEval.count[i] === 0 && snap.state[scope[i]] === PowerState.STANDBY) {
      wattsAfter += x.model.standbyWatts;
    } else {
      wattsAfter += x.model.watts(x.baseUtil + finalEval.loadCpu[i] / x.capCpu);
    }
  }
  const migrations = plan.steps.map((s) => ({
    workloadId: ws[s.workload].id,
    sourceHostId: hosts[s.from].id,
    targetHostId: hosts[s.to].id,
    reason: s.reason,
    enablesHostId: s.enables >= 0 ? hosts[s.enables].id : '',
  }));
  // the target's moves the plan does not make as the target has them
  const tCount = new Int32Array(hosts.length);
  for (let w = 0; w < ws.length; w++) tCount[target[w]]++;
  const unorderedTargetMoves: PlannedMigration[] = [];
  let dropped = 0;
  for (let w = 0; w < ws.length; w++) {
    if (target[w] === cur[w] || plan.final[w] === target[w]) continue;
    unorderedTargetMoves.push({ workloadId: ws[w].id, sourceHostId: hosts[cur[w]].id, targetHostId: hosts[target[w]].id, reason: 'drain', enablesHostId: tCount[cur[w]] === 0 ? hosts[cur[w]].id : '' });
    if (tCount[cur[w]] === 0 && finalEval.count[cur[w]] > 0) dropped++;
  }
  const counts = planCounts(problem, plan.final, plan.steps);
  let targetHostsOn = 0;
  for (let h = 0; h < hosts.length; h++) if (tCount[h] > 0 || !hosts[h].canStandby) targetHostsOn++;
  let stats: SolveStats;
  if (res) {
    const objective = finalEval.objective;
    const bound = res.stats.bound;
    stats = {
      ...res.stats,
      objective,
      gap: Number.isFinite(bound) && bound > 0 ? Math.max(0, (objective - Math.min(bound, objective)) / bound) : NaN,
    };
    // sanity: the end state passes the verifier whenever the start did
    if (verify(problem, cur).length === 0 && verify(problem, plan.final).length > 0) throw new Error('consolidation end state failed verification');
    outer?.solved?.(stats);
  } else {
    stats = { objective: finalEval.objective, bound: finalEval.objective, gap: 0, method: 'none', elapsedMs: 0, proven: true, solves: 0, accepted: 0 };
  }
  outer?.consolidated?.(wattsBefore, wattsAfter);
  return {
    migrations,
    standbyHostIds,
    wattsBefore,
    wattsAfter,
    stats,
    dropped,
    unorderedTargetMoves,
    hostsOn: counts.hostsOn,
    targetHostsOn,
    pointless: counts.pointless,
  };
}
