import type { Prepared } from './problem';
import { onCostSegments } from './pwl';

/** A model in javascript-lp-solver's JSON format. */
export interface LpModel {
  optimize: string;
  opType: 'min' | 'max';
  constraints: Record<string, { min?: number; max?: number; equal?: number }>;
  variables: Record<string, Record<string, number>>;
  binaries?: Record<string, 1>;
  ints?: Record<string, 1>;
  options?: { timeout?: number; tolerance?: number };
}

export interface SubProblem {
  /** Host indices the sub-problem may use. */
  readonly hosts: readonly number[];
  /** Workload indices to (re)place onto those hosts; each must be placed. */
  readonly workloads: readonly number[];
  /** Most migrations among these workloads; Infinity = none. */
  readonly budget: number;
  /** Only answers with a model cost below this (the incumbent's true watts on these hosts) are wanted. */
  readonly cutoff?: number;
}

export interface BuiltMilp {
  readonly model: LpModel;
  /** Model objective = solver result + constant. */
  readonly constant: number;
  /** The model's power equals the true power (linear or convex models): its optimum is the optimum. */
  readonly exact: boolean;
  /** Number of binaries, for sizing decisions. */
  readonly binaries: number;
  /** (workload, host) pairs the solver claims; null when it reports no feasible answer. */
  decode(result: Record<string, unknown>): [number, number][] | null;
}

/**
 * The assignment MILP over a sub-problem (the whole problem when it names every host and workload):
 *   min  Σ_h emptyW_h + Σ_h (openCost_h + G_h(0)) y_h + Σ_h Σ_k slope_hk s_hk + migW Σ_{w,h≠cur(w)} x_wh
 *   s.t. Σ_h x_wh = 1                                   every workload exactly once
 *        Σ_w (cpu_w / lim_h) x_wh ≤ y_h                 capacity and ceiling (lim = min of the two)
 *        Σ_w (mem_w / memLim_h) x_wh ≤ y_h
 *        x_wh ≤ y_h                                     (tightens the LP relaxation)
 *        Σ_w (cpu_w / lim_h) x_wh ≤ Σ_k s_hk,  0 ≤ s_hk ≤ width_hk / lim_h     piecewise-linear power
 *        Σ_{w,h≠cur(w)} x_wh ≤ budget                   migrations
 *        objective ≤ cutoff                             (when an incumbent is known)
 *        x, y binary. Hosts that cost nothing to switch on (openCost 0) have y ≡ 1.
 * Rows are scaled to O(1) coefficients; x exists only for allowed pairs.
 * `relax` drops integrality (the LP relaxation: a lower bound).
 */
export function buildMilp(pp: Prepared, sub: SubProblem, opts: { relax?: boolean; timeoutMs?: number } = {}): BuiltMilp {
  const nh = pp.nh;
  const constraints: LpModel['constraints'] = {};
  const variables: LpModel['variables'] = {};
  const binaries: Record<string, 1> = {};
  let constant = 0;
  let exact = true;
  let nbin = 0;
  const hasY = new Uint8Array(nh);
  const slope1 = new Float64Array(nh); // direct cost per millicore when the hull has a single segment
  const segsOf = new Map<number, { xs: Float64Array; ys: Float64Array }>();
  const inSub = new Uint8Array(nh);
  for (const h of sub.hosts) inSub[h] = 1;
  const costRow = sub.cutoff !== undefined && Number.isFinite(sub.cutoff);

  const addVar = (name: string, coefs: Record<string, number>) => {
    variables[name] = coefs;
    if (costRow) coefs.cut = coefs.cost ?? 0;
  };

  for (const h of sub.hosts) {
    const lim = pp.cpuLim[h];
    const seg = onCostSegments(pp.p.hosts[h], lim);
    if (!seg.exact) exact = false;
    constant += pp.emptyW[h];
    const g0 = seg.ys[0];
    const open = pp.openCost[h] + g0;
    constraints[`c${h}`] = { max: pp.openCost[h] > 1e-9 ? 0 : 1 };
    constraints[`m${h}`] = { max: pp.openCost[h] > 1e-9 ? 0 : 1 };
    if (pp.openCost[h] > 1e-9) {
      hasY[h] = 1;
      const yv: Record<string, number> = { cost: open, [`c${h}`]: -1, [`m${h}`]: -1 };
      addVar(`y${h}`, yv);
      if (!opts.relax) binaries[`y${h}`] = 1;
      else constraints[`yb${h}`] = { max: 1 };
      if (opts.relax) yv[`yb${h}`] = 1;
      nbin++;
    } else {
      constant += g0;
    }
    const K = seg.xs.length - 1;
    if (K <= 1) {
      slope1[h] = K === 1 ? (seg.ys[1] - seg.ys[0]) / (seg.xs[1] - seg.xs[0]) : 0;
    } else {
      segsOf.set(h, seg);
      constraints[`g${h}`] = { max: 0 };
      for (let k = 0; k < K; k++) {
        const width = seg.xs[k + 1] - seg.xs[k];
        const slope = (seg.ys[k + 1] - seg.ys[k]) / width;
        constraints[`u${h}_${k}`] = { max: width / lim };
        addVar(`s${h}_${k}`, { cost: slope * lim, [`g${h}`]: -1, [`u${h}_${k}`]: 1 });
      }
    }
  }
  const budgetRow = Number.isFinite(sub.budget);
  if (budgetRow) constraints.mig = { max: Math.max(0, sub.budget) };
  const migW = pp.p.migrationWatts;
  const xs: { name: string; w: number; h: number }[] = [];
  for (const w of sub.workloads) {
    constraints[`a${w}`] = { equal: 1 };
    const cur = pp.current[w];
    for (const h of sub.hosts) {
      if (!pp.allowed[w * nh + h]) continue;
      const name = `x${w}_${h}`;
      const lim = pp.cpuLim[h];
      const fc = lim > 0 ? pp.cpu[w] / lim : 0; // lim 0: only zero-CPU workloads are allowed here
      const v: Record<string, number> = { [`a${w}`]: 1, [`c${h}`]: fc, [`m${h}`]: pp.memLim[h] > 0 ? pp.mem[w] / pp.memLim[h] : 0 };
      let cost = slope1[h] * pp.cpu[w];
      if (segsOf.has(h)) v[`g${h}`] = fc;
      if (hasY[h]) {
        constraints[`l${w}_${h}`] = { max: 0 };
        v[`l${w}_${h}`] = 1;
        variables[`y${h}`][`l${w}_${h}`] = -1;
      }
      if (cur >= 0 && cur !== h) {
        cost += migW;
        if (budgetRow) v.mig = 1;
      }
      v.cost = cost;
      addVar(name, v);
      if (!opts.relax) binaries[name] = 1; // relaxed: x ≤ 1 already follows from Σ_h x_wh = 1
      nbin++;
      xs.push({ name, w, h });
    }
  }
  if (costRow) constraints.cut = { max: (sub.cutoff as number) - constant - 1e-4 };
  const model: LpModel = { optimize: 'cost', opType: 'min', constraints, variables };
  if (!opts.relax) model.binaries = binaries;
  if (opts.timeoutMs !== undefined) model.options = { timeout: Math.max(1, Math.floor(opts.timeoutMs)) };
  return {
    model,
    constant,
    exact,
    binaries: nbin,
    decode(result) {
      if (!result || result.feasible !== true) return null;
      const pairs: [number, number][] = [];
      for (const x of xs) {
        const v = result[x.name];
        if (typeof v === 'number' && v > 0.5) pairs.push([x.w, x.h]);
      }
      return pairs;
    },
  };
}
