import { rng } from '../domain';
import { fluidBound, typeBoundModel } from './bound';
import { heuristic, objectiveOf, PackState } from './heuristic';
import { LpWorker, type LpOutcome } from './lp-worker';
import { buildMilp, type LpModel } from './milp';
import { prepare, UNPLACED, type Assignment, type Prepared, type Problem } from './problem';
import { verify, type Violation } from './verify';

/** An exact MILP backend: solves a javascript-lp-solver JSON model within `hardMs` or reports a timeout. */
export interface ExactBackend {
  readonly name: string;
  /** Optional: start up ahead of the first solve. */
  warm?(): void;
  solve(model: LpModel, hardMs: number): Promise<LpOutcome>;
  close(): Promise<void>;
}

/** javascript-lp-solver in a worker thread (lp-worker.ts). */
export function jsLpBackend(): ExactBackend {
  const w = new LpWorker();
  return { name: 'jslp', warm: () => w.warm(), solve: (m, ms) => w.solve(m, ms), close: () => w.close() };
}

export interface SolveStats {
  /** Watts of the answer (all hosts in the problem) plus migration watts. */
  readonly objective: number;
  /** A proven lower bound on the optimum. */
  readonly bound: number;
  /** (objective − bound) / bound: the answer is within this fraction of the optimum. */
  readonly gap: number;
  /** What produced the answer: heuristic, milp (whole problem), lns (re-solved neighbourhoods), current (no change). */
  readonly method: string;
  readonly elapsedMs: number;
  /** The MILP finished on the whole problem: the answer is optimal for the (convexified) power model. */
  readonly proven: boolean;
  /** Exact sub-solves tried and accepted, for the record. */
  readonly solves: number;
  readonly accepted: number;
}

export interface SolverObserver {
  /** An exact answer was not used: its verification failed, it timed out, or the backend failed. */
  fallback?(reason: 'verify' | 'timeout' | 'error' | 'infeasible-heuristic', backend: string): void;
  verificationFailed?(method: string, violations: readonly Violation[]): void;
  solved?(stats: SolveStats): void;
}

export interface OptimizeOptions {
  /** Wall-clock budget for the whole call; the answer comes back within it. */
  readonly budgetMs: number;
  /** Exact backend factory; null = heuristic only. Default: javascript-lp-solver in a worker. */
  readonly backend?: (() => ExactBackend) | null;
  readonly observer?: SolverObserver;
  /** Largest whole-problem MILP (binaries) tried before switching to neighbourhoods. */
  readonly wholeLimit?: number;
  /** Skip the neighbourhood search (for measuring the parts). */
  readonly lns?: boolean;
  /** Skip the heuristic's answer as the start (for measuring the MILP alone): the MILP must find its own. */
  readonly milpOnly?: boolean;
  readonly seed?: number;
}

export interface OptimizeResult {
  /** Host index per workload; −1 = unplaced. */
  readonly assignment: Assignment;
  readonly unplaced: readonly number[];
  readonly stats: SolveStats;
}

/** Longest the (synchronous) heuristic may run; the exact phase after it runs in a worker and does not block. */
export const HEURISTIC_MAX_MS = 1500;


/**
 * The combined optimizer:
 *  1. the heuristic (construction + local search), always, first;
 *  2. lower bound: fluid bound, then the host-type MILP when it finishes in time;
 *  3. small problems: the whole MILP (with the incumbent as cutoff); larger
 *     ones: large-neighbourhood search re-solving a few hosts and their
 *     workloads at a time from the incumbent;
 *  every exact answer runs in a worker killed at the deadline and is used only
 *  when the independent verifier accepts the whole assignment; otherwise the
 *  best verified answer so far stands.
 */
export async function optimize(p: Problem, opts: OptimizeOptions): Promise<OptimizeResult> {
  const t0 = Date.now();
  const budget = Math.max(1, opts.budgetMs);
  const deadline = t0 + budget * 0.9;
  const obs = opts.observer;
  const pp = prepare(p);
  const nw = pp.nw;

  const factory = opts.backend === undefined ? jsLpBackend : opts.backend;
  let backend: ExactBackend | null = null;
  try {
    backend = factory ? factory() : null;
    backend?.warm?.();
  } catch {
    // no thread to be had (resource limits): the heuristic answer still stands
    obs?.fallback?.('error', 'backend');
    backend = null;
  }
  let best: Assignment;
  let method = 'heuristic';
  if (opts.milpOnly) {
    best = new Int32Array(nw).fill(UNPLACED);
    method = 'none';
  } else {
    // the heuristic runs on the caller's thread: capped so a long budget never stalls the event loop for long
    best = heuristic(pp, t0 + Math.min(budget * (opts.backend === null ? 0.85 : 0.4), HEURISTIC_MAX_MS));
  }
  const unplacedSet = new Set<number>();
  if (opts.milpOnly) {
    // the MILP alone must place every workload that has a host at all
    for (let w = 0; w < nw; w++) {
      let any = false;
      for (let h = 0; h < pp.nh && !any; h++) any = pp.allowed[w * pp.nh + h] === 1;
      if (!any) unplacedSet.add(w);
    }
  } else for (let w = 0; w < nw; w++) if (best[w] < 0) unplacedSet.add(w);
  if (!opts.milpOnly) {
    const v = verify(p, best, { mayBeUnplaced: unplacedSet });
    if (v.length) {
      // a bug in the heuristic; never hand out an infeasible answer
      obs?.verificationFailed?.('heuristic', v);
      obs?.fallback?.('infeasible-heuristic', 'heuristic');
      const cur = Int32Array.from(pp.current);
      best = cur;
      method = 'current';
      unplacedSet.clear();
      for (let w = 0; w < nw; w++) if (cur[w] < 0) unplacedSet.add(w);
      if (verify(p, cur, { mayBeUnplaced: unplacedSet }).length) throw new Error(`heuristic answer infeasible: ${v[0].message}`);
    }
  }
  let bestObj = opts.milpOnly ? Infinity : objectiveOf(pp, best);
  const placed: number[] = [];
  let demandCpu = 0;
  for (let w = 0; w < nw; w++) {
    if (unplacedSet.has(w)) continue;
    placed.push(w);
    demandCpu += pp.cpu[w];
  }
  // a bound on placing the workloads that are placed (the unplaceable ones are out of the problem)
  let bound = placed.length > 0 || unplacedSet.size === 0 ? fluidBound(pp, demandCpu) : -Infinity;
  if (!Number.isFinite(bound)) bound = -Infinity;
  let proven = false;
  let solves = 0;
  let accepted = 0;

  const left = () => deadline - Date.now();
  /** Solves a model with both the library's timeout and the hard kill; null when there is no usable answer. */
  const run = async (model: LpModel, ms: number): Promise<{ out: LpOutcome; finished: boolean } | null> => {
    if (!backend) return null;
    const hard = Math.min(ms, left());
    if (hard < 5) return null;
    model.options = { ...(model.options ?? {}), timeout: Math.max(1, Math.floor(hard * 0.8)) };
    solves++;
    const out = await backend.solve(model, hard);
    if (out.status !== 'solved') {
      obs?.fallback?.(out.status === 'timeout' ? 'timeout' : 'error', backend.name);
      return null;
    }
    return { out, finished: out.elapsedMs < hard * 0.8 - 1 };
  };
  const consider = (cand: Assignment, how: string): boolean => {
    const v = verify(p, cand, { mayBeUnplaced: unplacedSet });
    if (v.length) {
      obs?.verificationFailed?.(how, v);
      obs?.fallback?.('verify', backend?.name ?? how);
      return false;
    }
    const o = objectiveOf(pp, cand);
    if (o < bestObj - 1e-7) {
      best = cand;
      bestObj = o;
      method = how;
      accepted++;
      return true;
    }
    return false;
  };

  try {
    if (backend && placed.length > 0) {
      // 2. host-type bound
      if (unplacedSet.size === 0 && !opts.milpOnly) {
        const tb = typeBoundModel(pp);
        if (tb.types <= 60) {
          // tiny model; most of this allowance is for the thread's start-up on a busy machine
          const r = await run(tb.model, Math.min(Math.max(200, budget * 0.3), 1000));
          if (r && r.finished && r.out.result?.feasible === true && typeof r.out.result.result === 'number') {
            bound = Math.max(bound, tb.constant + r.out.result.result - 1e-6);
          }
        }
      }
      // 3a. whole problem
      const closed = () => bestObj - bound <= 1e-6 * Math.abs(bound);
      let pairsAllowed = 0;
      for (const w of placed) for (let h = 0; h < pp.nh; h++) pairsAllowed += pp.allowed[w * pp.nh + h];
      if (opts.milpOnly || (!closed() && pairsAllowed <= (opts.wholeLimit ?? 160))) {
        const whole = buildMilp(pp, { hosts: range(pp.nh), workloads: placed, budget: p.maxMigrations, cutoff: Number.isFinite(bestObj) ? bestObj : undefined });
        const r = await run(whole.model, left());
        if (r) {
          const pairs = whole.decode(r.out.result ?? {});
          if (pairs) {
            const cand = new Int32Array(nw).fill(UNPLACED);
            for (const [w, h] of pairs) cand[w] = cand[w] === UNPLACED ? h : -2;
            if (cand.includes(-2)) {
              obs?.verificationFailed?.('milp', [{ kind: 'assignment', message: 'a workload assigned to several hosts' }]);
              obs?.fallback?.('verify', backend.name);
            } else consider(cand, 'milp');
          }
          if (r.finished) {
            // optimum of the model (≤ true watts everywhere) or no answer below the cutoff: either way a bound
            const val = pairs ? whole.constant + (r.out.result?.result as number) : bestObj - 1e-4;
            if (pairs || Number.isFinite(bestObj)) {
              bound = Math.max(bound, val - 1e-6);
              proven = true;
            }
          }
        }
      }
      // 3b. neighbourhoods
      if (!proven && !closed() && opts.lns !== false && Number.isFinite(bestObj)) await lns();
    }
  } finally {
    await backend?.close();
  }

  async function lns(): Promise<void> {
    const rand = rng(opts.seed ?? 1);
    let maxWl = 10;
    const perIter = Math.max(40, Math.min(250, budget / 10));
    let stale = 0;
    for (let iter = 0; left() > 15 && stale < 2000 && bestObj - bound > 1e-6 * Math.abs(bound); iter++) {
      const st = new PackState(pp, best);
      const hosts = pickNeighbourhood(pp, st, iter, rand);
      if (hosts.length < 2) break;
      const inS = new Uint8Array(pp.nh);
      for (const h of hosts) inS[h] = 1;
      const onS: number[] = [];
      for (let w = 0; w < nw; w++) if (best[w] >= 0 && inS[best[w]]) onS.push(w);
      if (onS.length === 0) {
        stale++;
        continue;
      }
      const free = shuffle(onS, rand).slice(0, maxWl);
      const sub = restrict(pp, best, hosts, free);
      const spp = prepare(sub.problem);
      const m = buildMilp(spp, { hosts: range(spp.nh), workloads: range(spp.nw), budget: sub.problem.maxMigrations, cutoff: sub.cutoff });
      const r = await run(m.model, perIter);
      if (!r) {
        maxWl = Math.max(4, maxWl - 2);
        stale++;
        continue;
      }
      if (r.finished && r.out.elapsedMs < perIter * 0.15) maxWl = Math.min(24, maxWl + 1);
      else if (!r.finished) maxWl = Math.max(4, maxWl - 1);
      const pairs = m.decode(r.out.result ?? {});
      if (!pairs) {
        stale++;
        continue;
      }
      const cand = Int32Array.from(best);
      const seen = new Uint8Array(free.length);
      let dup = false;
      for (const w of free) cand[w] = UNPLACED;
      for (const [sw, sh] of pairs) {
        if (seen[sw]) dup = true;
        seen[sw] = 1;
        cand[free[sw]] = hosts[sh];
      }
      if (dup) {
        obs?.verificationFailed?.('lns', [{ kind: 'assignment', message: 'a workload assigned to several hosts' }]);
        obs?.fallback?.('verify', backend?.name ?? 'lns');
        stale++;
        continue;
      }
      if (consider(cand, 'lns')) stale = 0;
      else stale++;
    }
  }

  if (method === 'none') {
    // MILP alone found nothing verifiable
    best = new Int32Array(nw).fill(UNPLACED);
    for (let w = 0; w < nw; w++) unplacedSet.add(w);
  }
  const objective = Number.isFinite(bestObj) ? bestObj : NaN;
  const b = Number.isFinite(bound) ? Math.min(bound, objective) : NaN;
  const gap = Number.isFinite(b) && b > 0 ? Math.max(0, (objective - b) / b) : NaN;
  const stats: SolveStats = { objective, bound: b, gap, method, elapsedMs: Date.now() - t0, proven, solves, accepted };
  obs?.solved?.(stats);
  const unplaced = [...unplacedSet].sort((x, y) => x - y);
  return { assignment: best, unplaced, stats };
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/**
 * A neighbourhood: a few hosts whose workloads (a random part of them, the rest
 * staying put) are re-solved together. Rotates between (a) the most wasteful
 * loaded hosts (watts per unit of load), (b) the least-loaded hosts, (c) random
 * loaded hosts; each joined by one or two empty hosts, efficient ones more likely.
 * At most two hosts of one type: identical hosts make the MILP symmetric and slow.
 */
function pickNeighbourhood(pp: Prepared, st: PackState, iter: number, rand: () => number): number[] {
  const loaded: number[] = [];
  const empty: number[] = [];
  for (let h = 0; h < pp.nh; h++) {
    if (st.count[h] > 0) loaded.push(h);
    else if (pp.cpuLim[h] > 0) empty.push(h);
  }
  const waste = new Float64Array(pp.nh);
  for (const h of loaded) waste[h] = (st.watts(h) - pp.emptyW[h]) / Math.max(st.loadCpu[h], 1);
  const mode = iter % 3;
  let order: number[];
  if (mode === 0 || mode === 1) {
    order = loaded.slice().sort(mode === 0 ? (a, b) => waste[b] - waste[a] : (a, b) => st.loadCpu[a] / pp.cpuLim[a] - st.loadCpu[b] / pp.cpuLim[b]);
    const k = Math.min(order.length, 1 + Math.floor(rand() * Math.min(4, order.length)));
    order = order.slice(0, k).concat(shuffle(order.slice(k), rand));
  } else {
    order = shuffle(loaded.slice(), rand);
  }
  const key = new Float64Array(pp.nh);
  for (const h of empty) {
    const host = pp.p.hosts[h];
    key[h] = ((host.model.watts(host.baseUtil + pp.cpuLim[h] / host.capCpu) - pp.emptyW[h]) / Math.max(pp.cpuLim[h], 1e-9)) * (0.7 + 0.6 * rand());
  }
  empty.sort((a, b) => key[a] - key[b]);
  const out: number[] = [];
  const perType = new Map<string, number>();
  const typeOf = (h: number) => JSON.stringify([pp.cpuLim[h], pp.memLim[h], pp.p.hosts[h].model.spec]);
  const take = (h: number) => {
    const t = typeOf(h);
    const n = perType.get(t) ?? 0;
    if (n >= 2) return false;
    perType.set(t, n + 1);
    out.push(h);
    return true;
  };
  const nLoaded = 2 + Math.floor(rand() * 2);
  for (const h of order) if (out.length < nLoaded) take(h);
  const nEmpty = 1 + Math.floor(rand() * 2);
  let added = 0;
  for (const h of empty) if (added < nEmpty && take(h)) added++;
  return out;
}

/**
 * The sub-problem of an LNS step: hosts `hosts`, workloads `free` (all now on
 * those hosts). Everything else on those hosts stays and becomes fixed load
 * (less free capacity, a higher base utilization, no STANDBY). Returns the
 * sub-problem and the incumbent's watts on those hosts (the cutoff).
 */
export function restrict(pp: Prepared, a: Assignment, hosts: readonly number[], free: readonly number[]): { problem: Problem; cutoff: number } {
  const p = pp.p;
  const idx = new Int32Array(pp.nh).fill(-1);
  hosts.forEach((h, i) => (idx[h] = i));
  const isFree = new Uint8Array(pp.nw);
  for (const w of free) isFree[w] = 1;
  const fc = new Float64Array(hosts.length);
  const fm = new Float64Array(hosts.length);
  const fixedCount = new Int32Array(hosts.length);
  let migFixed = 0;
  for (let w = 0; w < pp.nw; w++) {
    const h = a[w];
    const cur = pp.current[w];
    if (!isFree[w]) {
      if (cur >= 0 && h >= 0 && cur !== h) migFixed++;
      if (h >= 0 && idx[h] >= 0) {
        fc[idx[h]] += pp.cpu[w];
        fm[idx[h]] += pp.mem[w];
        fixedCount[idx[h]]++;
      }
    } else if (cur >= 0 && idx[cur] < 0) migFixed++; // moved away from a host outside: a migration whatever happens here
  }
  const subHosts = hosts.map((h, i) => {
    const x = p.hosts[h];
    return {
      ...x,
      cpuFree: x.cpuFree - fc[i],
      cpuCeilingFree: x.cpuCeilingFree - fc[i],
      memFree: x.memFree - fm[i],
      baseUtil: x.baseUtil + fc[i] / x.capCpu,
      canStandby: x.canStandby && fixedCount[i] === 0,
    };
  });
  const subW = free.map((w) => {
    const x = p.workloads[w];
    const cur = pp.current[w];
    return { ...x, current: cur >= 0 ? idx[cur] : -1 };
  });
  // incumbent cost on these hosts: their watts + migration watts of the free workloads counted in the sub-problem
  const st = new PackState(pp, a);
  let cutoff = 0;
  for (const h of hosts) cutoff += st.watts(h);
  let migIn = 0;
  for (const w of free) {
    const cur = pp.current[w];
    if (cur >= 0 && idx[cur] >= 0 && cur !== a[w]) migIn++;
  }
  cutoff += p.migrationWatts * migIn;
  return { problem: { hosts: subHosts, workloads: subW, maxMigrations: p.maxMigrations - migFixed, migrationWatts: p.migrationWatts }, cutoff };
}

function shuffle<T>(a: T[], rand: () => number): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a;
}
