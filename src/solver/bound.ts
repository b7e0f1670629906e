import type { LpModel } from './milp';
import type { Prepared } from './problem';
import { lowerHull, onCostSegments } from './pwl';

/**
 * Lower bounds on the optimum. Both relax selectors, migrations and the
 * indivisibility of workloads, so they hold for every feasible answer.
 *
 * Per host, on-cost C_h(l) = openCost_h + G_h(l) for a movable CPU load l > 0,
 * 0 when empty; below it lie the lines a_hk + b_hk·l of the lower convex hull of
 * G_h (pwl.ts) lifted by openCost_h.
 */

/**
 * Fluid bound: fractional hosts. The convex envelope of C_h on [0, lim_h] (the
 * hull of the point (0, 0) and C_h's hull) is filled cheapest slope first until
 * the total CPU demand is placed — a fractional knapsack, exact for the relaxation.
 * Bound = Σ emptyW + that cost.
 */
export function fluidBound(pp: Prepared, demandCpu: number): number {
  let base = 0;
  const segs: { slope: number; width: number }[] = [];
  for (let h = 0; h < pp.nh; h++) {
    base += pp.emptyW[h];
    const lim = pp.cpuLim[h];
    if (!(lim > 0)) continue;
    const s = onCostSegments(pp.p.hosts[h], lim);
    // points (0,0) then (x_k, openCost + y_k) for x_k > 0; lower hull from (0,0)
    const xs = [0];
    const ys = [0];
    for (let k = 0; k < s.xs.length; k++) {
      if (s.xs[k] <= 0) continue;
      xs.push(s.xs[k]);
      ys.push(pp.openCost[h] + s.ys[k]);
    }
    const { hx, hy } = lowerHull(xs, ys);
    for (let k = 0; k + 1 < hx.length; k++) segs.push({ slope: (hy[k + 1] - hy[k]) / (hx[k + 1] - hx[k]), width: hx[k + 1] - hx[k] });
  }
  segs.sort((a, b) => a.slope - b.slope);
  let left = demandCpu;
  let cost = 0;
  for (const s of segs) {
    if (left <= 0) break;
    const take = Math.min(left, s.width);
    cost += s.slope * take;
    left -= take;
  }
  if (left > 1e-6) return Infinity; // not enough capacity at all
  return base + cost;
}

/**
 * Host-type bound: hosts with the same numbers (limits, power model, fixed load,
 * STANDBY rule) form a type t with count_t members. With n_t of them on,
 * carrying CPU L_t and memory M_t, convexity gives Σ_{on h∈t} C_h(l_h) ≥
 * max_k (a_k·n_t + b_k·L_t). The small MILP
 *   min Σ_t c_t   s.t.  c_t ≥ a_k n_t + b_k L_t (∀k),  L_t ≤ lim_t n_t,  M_t ≤ memLim_t n_t,
 *                       Σ L_t = Σ cpu,  Σ M_t = Σ mem,  n_t ∈ {0..count_t} integer
 * keeps the integrality of hosts (what makes bin packing hard) while dropping
 * that of workloads; it has one integer per type. Types whose hosts cost nothing
 * to keep on are fixed at n_t = count_t. Bound = Σ emptyW + its optimum.
 */
export function typeBoundModel(pp: Prepared): { model: LpModel; constant: number; types: number } {
  const keyOf = (h: number) => {
    const x = pp.p.hosts[h];
    return JSON.stringify([pp.cpuLim[h], pp.memLim[h], x.capCpu, x.baseUtil, pp.emptyW[h], pp.openCost[h], x.model.spec]);
  };
  const types = new Map<string, number[]>();
  let constant = 0;
  let dc = 0;
  let dm = 0;
  for (let w = 0; w < pp.nw; w++) {
    dc += pp.cpu[w];
    dm += pp.mem[w];
  }
  for (let h = 0; h < pp.nh; h++) {
    constant += pp.emptyW[h];
    if (!(pp.cpuLim[h] > 0) || !(pp.memLim[h] >= 0)) continue;
    const k = keyOf(h);
    const l = types.get(k);
    if (l) l.push(h);
    else types.set(k, [h]);
  }
  const constraints: LpModel['constraints'] = { dcpu: { equal: dc / 1000 }, dmem: { equal: dm / 2 ** 30 } };
  const variables: LpModel['variables'] = {};
  const ints: Record<string, 1> = {};
  let t = 0;
  for (const hs of types.values()) {
    const h = hs[0];
    const lim = pp.cpuLim[h];
    const s = onCostSegments(pp.p.hosts[h], lim);
    const oc = pp.openCost[h];
    const n = `n${t}`;
    const L = `L${t}`; // CPU in cores
    const M = `M${t}`; // memory in GiB
    const c = `c${t}`;
    variables[c] = { cost: 1 };
    variables[L] = { dcpu: 1, [`lc${t}`]: 1 };
    variables[M] = { dmem: 1, [`lm${t}`]: 1 };
    variables[n] = { [`lc${t}`]: -lim / 1000, [`lm${t}`]: -pp.memLim[h] / 2 ** 30, [`nb${t}`]: 1 };
    constraints[`lc${t}`] = { max: 0 };
    constraints[`lm${t}`] = { max: 0 };
    constraints[`nb${t}`] = oc > 1e-9 ? { max: hs.length } : { equal: hs.length };
    for (let k = 0; k + 1 < s.xs.length || k === 0; k++) {
      const b = s.xs.length > 1 ? (s.ys[k + 1] - s.ys[k]) / (s.xs[k + 1] - s.xs[k]) : 0;
      const a = oc + s.ys[k] - b * s.xs[k];
      // c − a·n − b·L ≥ 0, with L in cores: b per millicore × 1000
      const row = `h${t}_${k}`;
      constraints[row] = { min: 0 };
      variables[c][row] = 1;
      variables[n][row] = -a;
      variables[L][row] = -b * 1000;
      if (s.xs.length <= 1) break;
    }
    ints[n] = 1;
    t++;
  }
  return { model: { optimize: 'cost', opType: 'min', constraints, variables, ints }, constant, types: t };
}
