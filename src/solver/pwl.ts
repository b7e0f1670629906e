import type { SolverHost } from './problem';

/**
 * Piecewise-linear view of a host's power above its fixed load, for the MILP and
 * the bound. G(l) = P(baseUtil + l / capCpu) − P(baseUtil) for a movable CPU load
 * l ∈ [0, lim]. The segments are the lower convex hull of G at its breakpoints:
 *  - linear model: G is linear, one segment, exact;
 *  - table model: G is piecewise linear with breakpoints where utilization
 *    crosses 0.1·i, so the hull is exact where the table is convex and below it
 *    elsewhere — always ≤ G, so a MILP optimum over it is a valid lower bound;
 *  - exponential: sampled at 17 points; the hull of samples can lie above a
 *    convex curve between samples, so it is lowered by the largest such gap
 *    (measured on a 400-point grid) to stay below G.
 * `exact` says whether the hull equals G (linear, or convex table).
 */
export interface Segments {
  /** Breakpoints in millicores, starting at 0 and ending at lim. */
  readonly xs: Float64Array;
  /** Hull values at the breakpoints (watts above P(baseUtil)); ys[0] ≤ 0. */
  readonly ys: Float64Array;
  readonly exact: boolean;
}

/** The lower convex hull of points sorted by x (Andrew's monotone chain, lower half). */
export function lowerHull(xs: readonly number[], ys: readonly number[]): { hx: number[]; hy: number[] } {
  const hx: number[] = [];
  const hy: number[] = [];
  for (let i = 0; i < xs.length; i++) {
    while (hx.length >= 2) {
      const a = hx.length - 2;
      const b = hx.length - 1;
      if ((hx[b] - hx[a]) * (ys[i] - hy[a]) - (hy[b] - hy[a]) * (xs[i] - hx[a]) <= 0) {
        hx.pop();
        hy.pop();
      } else break;
    }
    hx.push(xs[i]);
    hy.push(ys[i]);
  }
  return { hx, hy };
}

export function onCostSegments(host: SolverHost, lim: number): Segments {
  const m = host.model;
  const base = host.baseUtil;
  const cap = host.capCpu;
  const p0 = m.watts(base);
  const G = (l: number) => m.watts(base + l / cap) - p0;
  if (!(lim > 0)) return { xs: Float64Array.of(0), ys: Float64Array.of(0), exact: true };
  const xs: number[] = [0];
  if (m.spec.kind === 'table') {
    for (let i = 1; i < 10; i++) {
      const l = (i / 10 - base) * cap;
      if (l > 1e-9 && l < lim - 1e-9) xs.push(l);
    }
  } else if (m.spec.kind === 'exponential') {
    for (let i = 1; i < 16; i++) xs.push((lim * i) / 16);
  }
  xs.push(lim);
  const ys = xs.map(G);
  const { hx, hy } = lowerHull(xs, ys);
  let exact = m.spec.kind === 'linear' || hx.length === xs.length;
  if (m.spec.kind === 'exponential') {
    exact = false;
    let worst = 0;
    for (let k = 0; k + 1 < hx.length; k++) {
      const slope = (hy[k + 1] - hy[k]) / (hx[k + 1] - hx[k]);
      for (let j = 1; j < 400; j++) {
        const x = hx[k] + ((hx[k + 1] - hx[k]) * j) / 400;
        const gap = hy[k] + slope * (x - hx[k]) - G(x);
        if (gap > worst) worst = gap;
      }
    }
    if (worst > 0) for (let k = 0; k < hy.length; k++) hy[k] -= worst * 1.01;
  }
  return { xs: Float64Array.from(hx), ys: Float64Array.from(hy), exact };
}
