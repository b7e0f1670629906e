import type { PowerModelSpec } from '../../domain';

/**
 * Robust fitting of a host's power curve P(u) from observed (CPU utilization,
 * watts) pairs. Pure: no I/O, no clocks; the caller owns the sample arrays.
 *
 * Method (both forms):
 *  1. An 11-knot piecewise-linear curve (knots at u = 0, 0.1, … 1, the
 *     SPECpower grid) is fitted by iteratively reweighted least squares with
 *     Huber weights (k = 1.345·σ̂, σ̂ = 1.4826·MAD of the residuals), plus a
 *     tiny second-difference penalty so knots with little data follow their
 *     neighbours linearly.
 *  2. Points whose residual exceeds `outlierK`·σ̂ are outliers: weight 0, and
 *     the curve is refitted without them (a hard-rejection final step, so a
 *     10 % share of gross outliers leaves no bias).
 *  3. Monotonicity: the knot values go through weighted isotonic regression
 *     (pool-adjacent-violators), so the result never falls with load, and are
 *     clamped at 0.
 *  4. `exponential`: with the inlier set of step 2, P(u) = k0 + k1·e^(k2·u)
 *     is fitted by least squares, profiling k2 (for fixed k2 the model is
 *     linear in k0, k1): a grid over k2 ∈ [−10, 10] then golden-section search.
 * Quality (R², RMSE) is computed on the inliers.
 */
export type LearnedForm = 'table' | 'exponential';

export interface FitOptions {
  readonly form?: LearnedForm;
  /** Huber tuning constant (in σ̂). */
  readonly huberK?: number;
  /** Residuals beyond this many σ̂ are outliers. */
  readonly outlierK?: number;
  readonly maxIterations?: number;
}

export interface FitQuality {
  /** Pairs given. */
  readonly n: number;
  readonly inliers: number;
  readonly outliers: number;
  /** 1 − SS_res/SS_tot on the inliers. */
  readonly r2: number;
  /** Root mean square residual on the inliers, watts. */
  readonly rmse: number;
  /** Robust residual scale σ̂ (1.4826·MAD), watts. */
  readonly sigma: number;
  /** 5th and 95th percentile of the observed utilization. */
  readonly utilP5: number;
  readonly utilP95: number;
}

export interface PowerFit {
  readonly form: LearnedForm;
  /** The fitted model as a spec (standbyWatts 0: the caller sets it). */
  readonly spec: PowerModelSpec;
  /** P(u) at u = 0, 0.1, … 1 (for either form). */
  readonly table: number[];
  readonly quality: FitQuality;
}

export const KNOTS = 11;

/** Smallest number of pairs a fit is attempted with. */
export const MIN_FIT_POINTS = 8;

/** Solves A·x = b (n×n, row-major, overwritten) by Gaussian elimination with partial pivoting. */
function solve(a: Float64Array, b: Float64Array, n: number): Float64Array | null {
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r * n + c]) > Math.abs(a[p * n + c])) p = r;
    if (!(Math.abs(a[p * n + c]) > 1e-12)) return null;
    if (p !== c) {
      for (let k = 0; k < n; k++) {
        const t = a[c * n + k];
        a[c * n + k] = a[p * n + k];
        a[p * n + k] = t;
      }
      const t = b[c];
      b[c] = b[p];
      b[p] = t;
    }
    for (let r = c + 1; r < n; r++) {
      const f = a[r * n + c] / a[c * n + c];
      if (f === 0) continue;
      for (let k = c; k < n; k++) a[r * n + k] -= f * a[c * n + k];
      b[r] -= f * b[c];
    }
  }
  const x = new Float64Array(n);
  for (let r = n - 1; r >= 0; r--) {
    let s = b[r];
    for (let k = r + 1; k < n; k++) s -= a[r * n + k] * x[k];
    x[r] = s / a[r * n + r];
  }
  return x;
}

const clamp01 = (u: number): number => (u > 1 ? 1 : u > 0 ? u : 0);

/** Evaluates the 11-knot piecewise-linear curve at u. */
export function tableAt(theta: ArrayLike<number>, u: number): number {
  const x = clamp01(u) * 10;
  const i = x >= 10 ? 9 : Math.floor(x);
  return theta[i] + (theta[i + 1] - theta[i]) * (x - i);
}

function median(values: Float64Array, n: number): number {
  const s = values.slice(0, n).sort();
  if (n === 0) return 0;
  return n % 2 ? s[(n - 1) >> 1] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/** Weighted least squares of the knot values with a second-difference penalty. */
function fitKnots(u: ArrayLike<number>, w: ArrayLike<number>, n: number, wt: Float64Array, mass: Float64Array): Float64Array | null {
  const a = new Float64Array(KNOTS * KNOTS);
  const b = new Float64Array(KNOTS);
  mass.fill(0);
  let total = 0;
  for (let j = 0; j < n; j++) {
    const q = wt[j];
    if (q === 0) continue;
    const x = clamp01(u[j]) * 10;
    const i = x >= 10 ? 9 : Math.floor(x);
    const t = x - i;
    const p0 = 1 - t;
    a[i * KNOTS + i] += q * p0 * p0;
    a[i * KNOTS + i + 1] += q * p0 * t;
    a[(i + 1) * KNOTS + i] += q * p0 * t;
    a[(i + 1) * KNOTS + i + 1] += q * t * t;
    b[i] += q * p0 * w[j];
    b[i + 1] += q * t * w[j];
    mass[i] += q * p0;
    mass[i + 1] += q * t;
    total += q;
  }
  if (total === 0) return null;
  // λ·Σ (θ[i−1] − 2θ[i] + θ[i+1])², λ tiny relative to the data mass per knot.
  const lambda = 1e-3 * (total / KNOTS) + 1e-9;
  for (let r = 1; r < KNOTS - 1; r++) {
    const idx = [r - 1, r, r + 1];
    const c = [1, -2, 1];
    for (let x = 0; x < 3; x++) for (let y = 0; y < 3; y++) a[idx[x] * KNOTS + idx[y]] += lambda * c[x] * c[y];
  }
  return solve(a, b, KNOTS);
}

/** Weighted isotonic (non-decreasing) regression of v in place: pool adjacent violators. */
export function isotonic(v: Float64Array, weight: ArrayLike<number>): void {
  const n = v.length;
  const val = new Float64Array(n);
  const wsum = new Float64Array(n);
  const len = new Int32Array(n);
  let top = -1;
  for (let i = 0; i < n; i++) {
    top++;
    val[top] = v[i];
    wsum[top] = weight[i] > 0 ? weight[i] : 1e-9;
    len[top] = 1;
    while (top > 0 && val[top - 1] > val[top]) {
      const ws = wsum[top - 1] + wsum[top];
      val[top - 1] = (val[top - 1] * wsum[top - 1] + val[top] * wsum[top]) / ws;
      wsum[top - 1] = ws;
      len[top - 1] += len[top];
      top--;
    }
  }
  let k = 0;
  for (let b = 0; b <= top; b++) for (let j = 0; j < len[b]; j++) v[k++] = val[b];
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const x = p * (sorted.length - 1);
  const i = Math.floor(x);
  return i + 1 < sorted.length ? sorted[i] + (sorted[i + 1] - sorted[i]) * (x - i) : sorted[i];
}

/** Least squares of y ≈ k0 + k1·e^(k2·u) for fixed k2 over points with wt > 0; returns SSE and (k0, k1). */
function expForK2(u: ArrayLike<number>, w: ArrayLike<number>, n: number, wt: Float64Array, k2: number): { sse: number; k0: number; k1: number } {
  let s0 = 0;
  let s1 = 0;
  let s11 = 0;
  let sy = 0;
  let s1y = 0;
  for (let j = 0; j < n; j++) {
    const q = wt[j];
    if (q === 0) continue;
    const e = Math.exp(k2 * clamp01(u[j]));
    s0 += q;
    s1 += q * e;
    s11 += q * e * e;
    sy += q * w[j];
    s1y += q * e * w[j];
  }
  const det = s0 * s11 - s1 * s1;
  if (!(Math.abs(det) > 1e-12 * s0 * s11)) return { sse: Infinity, k0: NaN, k1: NaN };
  const k1 = (s0 * s1y - s1 * sy) / det;
  const k0 = (sy - k1 * s1) / s0;
  // P must not fall with load (k1·k2 ≥ 0) and P(0) = k0 + k1 ≥ 0.
  if (k1 * k2 < 0 || k0 + k1 < 0) return { sse: Infinity, k0, k1 };
  let sse = 0;
  for (let j = 0; j < n; j++) {
    const q = wt[j];
    if (q === 0) continue;
    const r = w[j] - k0 - k1 * Math.exp(k2 * clamp01(u[j]));
    sse += q * r * r;
  }
  return { sse, k0, k1 };
}

function fitExponential(u: ArrayLike<number>, w: ArrayLike<number>, n: number, inlier: Float64Array): { k0: number; k1: number; k2: number } | null {
  let best = { sse: Infinity, k2: NaN, k0: NaN, k1: NaN };
  const grid: number[] = [];
  for (let g = -10; g <= 10; g += 0.25) if (Math.abs(g) > 1e-9) grid.push(g);
  for (const k2 of grid) {
    const r = expForK2(u, w, n, inlier, k2);
    if (r.sse < best.sse) best = { ...r, k2 };
  }
  if (!Number.isFinite(best.sse)) return null;
  // Golden-section refinement around the best grid point.
  let lo = best.k2 - 0.25;
  let hi = best.k2 + 0.25;
  const phi = (Math.sqrt(5) - 1) / 2;
  const f = (k2: number) => (Math.abs(k2) < 1e-6 ? Infinity : expForK2(u, w, n, inlier, k2).sse);
  let x1 = hi - phi * (hi - lo);
  let x2 = lo + phi * (hi - lo);
  let f1 = f(x1);
  let f2 = f(x2);
  for (let it = 0; it < 40; it++) {
    if (f1 < f2) {
      hi = x2;
      x2 = x1;
      f2 = f1;
      x1 = hi - phi * (hi - lo);
      f1 = f(x1);
    } else {
      lo = x1;
      x1 = x2;
      f1 = f2;
      x2 = lo + phi * (hi - lo);
      f2 = f(x2);
    }
  }
  const k2 = (lo + hi) / 2;
  const r = expForK2(u, w, n, inlier, k2);
  if (r.sse <= best.sse) best = { ...r, k2 };
  return { k0: best.k0, k1: best.k1, k2: best.k2 };
}

/**
 * Fits P(u) to n pairs (u[i], w[i]). Returns null with fewer than
 * MIN_FIT_POINTS pairs or when the utilization has no spread (every point in
 * one 10 % cell gives no slope). Non-finite pairs are ignored.
 */
export function fitPowerCurve(uIn: ArrayLike<number>, wIn: ArrayLike<number>, nIn: number, opts: FitOptions = {}): PowerFit | null {
  const form = opts.form ?? 'table';
  const huberK = opts.huberK ?? 1.345;
  const outlierK = opts.outlierK ?? 3.5;
  const maxIt = opts.maxIterations ?? 30;
  // Copy the finite pairs.
  const u = new Float64Array(nIn);
  const w = new Float64Array(nIn);
  let n = 0;
  for (let j = 0; j < nIn; j++) {
    const a = uIn[j];
    const b = wIn[j];
    if (Number.isFinite(a) && Number.isFinite(b)) {
      u[n] = clamp01(a);
      w[n] = b;
      n++;
    }
  }
  if (n < MIN_FIT_POINTS) return null;
  const sortedU = u.slice(0, n).sort();
  if (sortedU[n - 1] - sortedU[0] < 0.05) return null;

  const wt = new Float64Array(n).fill(1);
  const mass = new Float64Array(KNOTS);
  const res = new Float64Array(n);
  const abs = new Float64Array(n);
  let theta = fitKnots(u, w, n, wt, mass);
  if (!theta) return null;
  let sigma = 0;
  const residuals = (th: Float64Array) => {
    for (let j = 0; j < n; j++) {
      res[j] = w[j] - tableAt(th, u[j]);
      abs[j] = Math.abs(res[j]);
    }
  };
  // Floor for σ̂ so that exact data (zero residuals) does not divide by zero.
  let meanW = 0;
  for (let j = 0; j < n; j++) meanW += Math.abs(w[j]);
  const sigmaFloor = 1e-6 * (meanW / n) + 1e-9;

  // 1. Huber IRLS.
  for (let it = 0; it < maxIt; it++) {
    residuals(theta);
    sigma = Math.max(1.4826 * median(abs, n), sigmaFloor);
    const c = huberK * sigma;
    for (let j = 0; j < n; j++) wt[j] = abs[j] <= c ? 1 : c / abs[j];
    const next = fitKnots(u, w, n, wt, mass);
    if (!next) return null;
    let delta = 0;
    for (let i = 0; i < KNOTS; i++) delta = Math.max(delta, Math.abs(next[i] - theta[i]));
    theta = next;
    if (delta < 1e-6 * (meanW / n + 1)) break;
  }
  // 2. Hard rejection of outliers, then an inlier refit (twice: the scale settles).
  const inlier = new Float64Array(n);
  for (let pass = 0; pass < 2; pass++) {
    residuals(theta);
    sigma = Math.max(1.4826 * median(abs, n), sigmaFloor);
    const cut = outlierK * sigma;
    for (let j = 0; j < n; j++) inlier[j] = abs[j] <= cut ? 1 : 0;
    const next = fitKnots(u, w, n, inlier, mass);
    if (!next) return null;
    theta = next;
  }
  // 3. Monotone and non-negative.
  isotonic(theta, mass);
  for (let i = 0; i < KNOTS; i++) if (theta[i] < 0) theta[i] = 0;

  let spec: PowerModelSpec;
  let at: (x: number) => number;
  if (form === 'exponential') {
    const e = fitExponential(u, w, n, inlier);
    if (!e) return null;
    spec = { kind: 'exponential', k0: e.k0, k1: e.k1, k2: e.k2, standbyWatts: 0 };
    at = (x) => e.k0 + e.k1 * Math.exp(e.k2 * clamp01(x));
  } else {
    const th = Array.from(theta);
    spec = { kind: 'table', watts: th, standbyWatts: 0 };
    at = (x) => tableAt(theta!, x);
  }
  // Quality on the inliers (outliers re-judged against the final curve).
  for (let j = 0; j < n; j++) {
    res[j] = w[j] - at(u[j]);
    abs[j] = Math.abs(res[j]);
  }
  sigma = Math.max(1.4826 * median(abs, n), sigmaFloor);
  const cut = outlierK * sigma;
  let m = 0;
  let mean = 0;
  for (let j = 0; j < n; j++) {
    if (abs[j] <= cut) {
      m++;
      mean += w[j];
    }
  }
  mean /= m || 1;
  let ssRes = 0;
  let ssTot = 0;
  for (let j = 0; j < n; j++) {
    if (abs[j] > cut) continue;
    ssRes += res[j] * res[j];
    ssTot += (w[j] - mean) * (w[j] - mean);
  }
  const table: number[] = [];
  for (let i = 0; i < KNOTS; i++) table.push(at(i / 10));
  return {
    form,
    spec,
    table,
    quality: {
      n,
      inliers: m,
      outliers: n - m,
      r2: ssTot > 0 ? 1 - ssRes / ssTot : ssRes === 0 ? 1 : 0,
      rmse: Math.sqrt(ssRes / (m || 1)),
      sigma,
      utilP5: percentile(sortedU, 0.05),
      utilP95: percentile(sortedU, 0.95),
    },
  };
}

export interface AcceptanceThresholds {
  readonly minSamples: number;
  readonly minR2: number;
  /** RMSE / P(1) at most this. */
  readonly maxRmse: number;
  /** utilP95 − utilP5 at least this. */
  readonly minUtilSpan: number;
}

/** Why a fit may not replace the declared model, or null when it is good enough. */
export function rejectFit(fit: PowerFit, t: AcceptanceThresholds): string | null {
  const q = fit.quality;
  if (q.inliers < t.minSamples) return `too few samples: ${q.inliers} inliers < ${t.minSamples}`;
  const span = q.utilP95 - q.utilP5;
  if (span < t.minUtilSpan) return `utilization spread too small: ${span.toFixed(3)} < ${t.minUtilSpan}`;
  if (q.r2 < t.minR2) return `R² ${q.r2.toFixed(4)} < ${t.minR2}`;
  const p1 = fit.table[KNOTS - 1];
  if (!(q.rmse <= t.maxRmse * p1)) return `RMSE ${q.rmse.toFixed(2)} W > ${t.maxRmse} × P(1) = ${(t.maxRmse * p1).toFixed(2)} W`;
  return null;
}
