/**
 * Per-workload demand forecast from its recent history, for overload
 * prediction and safe packing. Flat typed arrays by workload slot; one
 * `observe` per workload per telemetry interval; no allocation per call.
 *
 *   forecast  f = α·d_now + (1 − α)·mean(last W observations)
 *   variance  s² = EWMA of the squared one-step forecast errors (d_next − f),
 *             never below the variance of the window itself (how far the
 *             demand wanders around its mean), nor below (minSigma·d)²;
 *             plus (sizeSigma · size)² when the workload's size is given
 *             (its CPU allocation: a quiet workload can still burst up to it);
 *             and, when its demand has a hard limit L (a server's vCPUs), with
 *             room R = max(0, L − f) to rise, s'² = s² · R² / (R² + (roomSigmas · s)²):
 *             about s² while s ≪ R / roomSigmas, at most (R / roomSigmas)², 0 at the limit
 *
 * A host is safe when Σ f + z·√(Σ s²) stays within its capacity: with
 * independent errors the host's next-interval demand exceeds that with
 * probability about 1 − Φ(z) (z = 2.33 → 1 %).
 */
export interface ForecastConfig {
  /** Weight of the latest observation in the forecast. */
  readonly alpha: number;
  /** Window of recent observations (intervals). */
  readonly window: number;
  /** Floor of σ as a fraction of the current demand. */
  readonly minSigma: number;
  /** Also bound s² below by the window's own variance (how far the demand wanders). */
  readonly levelVariance: boolean;
  /**
   * Robust error scale: σ = √(π/2) × EWMA of |error| (equal to the standard
   * deviation for normal errors, but not dominated by the rare spikes of
   * bursty workloads). Otherwise σ² = EWMA of squared errors.
   */
  readonly robust: boolean;
  /** Never forecast below the latest observation (a rise is taken at once, a fall is believed slowly). */
  readonly atLeastCurrent: boolean;
  /**
   * Burst scale of a quiet workload, as a fraction of its size (CPU
   * allocation), added in quadrature to σ. The history alone calls a workload
   * that has been flat safe, but flat workloads burst: on the PlanetLab days 0.2 %
   * of one-step errors exceed 13 σ, and a burst is bounded by the
   * workload's size, not its recent σ (benchmarks/RESULTS.md, issue 14).
   */
  readonly sizeSigma: number;
  /**
   * A workload with a hard limit on its demand (a server's vCPUs) cannot rise
   * more than its room R = limit − forecast: its spread is capped smoothly
   * near R / roomSigmas (see the class comment; 0 = no cap). On the PlanetLab
   * days, one-step errors of VMs with s ≥ 0.3 R never exceed 4 s, while those of
   * quiet VMs exceed 6 s in 0.34 % of steps; uncapped, hosts whose spread one
   * such VM dominates overloaded 2–5 × less often than others at the same
   * margin (benchmarks/RESULTS.md, issue 14).
   */
  readonly roomSigmas: number;
}

export const DEFAULT_FORECAST: ForecastConfig = { alpha: 0.3, window: 12, minSigma: 0.02, levelVariance: false, robust: true, atLeastCurrent: false, sizeSigma: 0.05, roomSigmas: 3 };

export class WorkloadForecaster {
  private cap = 0;
  private buf = new Float64Array(0);
  private n = new Int32Array(0);
  private head = new Int32Array(0);
  private sum = new Float64Array(0);
  private sumSq = new Float64Array(0);
  private errVar = new Float64Array(0);
  private lastF = new Float64Array(0);
  private last = new Float64Array(0);

  constructor(readonly cfg: ForecastConfig = DEFAULT_FORECAST) {
    if (!(cfg.alpha >= 0 && cfg.alpha <= 1)) throw new RangeError(`forecast alpha must be within 0–1, got ${cfg.alpha}`);
    if (!(Number.isInteger(cfg.window) && cfg.window >= 1 && cfg.window <= 1000)) throw new RangeError(`forecast window must be 1–1000, got ${cfg.window}`);
    if (!(cfg.sizeSigma >= 0 && cfg.sizeSigma <= 1)) throw new RangeError(`forecast sizeSigma must be within 0–1, got ${cfg.sizeSigma}`);
    if (!(cfg.roomSigmas >= 0 && cfg.roomSigmas <= 10)) throw new RangeError(`forecast roomSigmas must be within 0–10, got ${cfg.roomSigmas}`);
  }

  /** Makes room for workload slots 0..n−1. */
  ensure(n: number): void {
    if (n <= this.cap) return;
    const c = Math.max(n, this.cap * 2, 64);
    const W = this.cfg.window;
    const grow = <T extends Float64Array | Int32Array>(a: T, size: number): T => {
      const b = new (a.constructor as { new (n: number): T })(size);
      b.set(a);
      return b;
    };
    this.buf = grow(this.buf, c * W);
    this.n = grow(this.n, c);
    this.head = grow(this.head, c);
    this.sum = grow(this.sum, c);
    this.sumSq = grow(this.sumSq, c);
    this.errVar = grow(this.errVar, c);
    this.lastF = grow(this.lastF, c);
    this.last = grow(this.last, c);
    this.cap = c;
  }

  /** Forgets slot i (a workload left; the slot may be reused). */
  reset(i: number): void {
    this.n[i] = 0;
    this.head[i] = 0;
    this.sum[i] = 0;
    this.sumSq[i] = 0;
    this.errVar[i] = NaN;
    this.lastF[i] = NaN;
    this.last[i] = 0;
  }

  /** One observation of workload i's demand (any CPU unit). */
  observe(i: number, d: number): void {
    const W = this.cfg.window;
    const k = this.n[i];
    if (k > 0) {
      const e = d - this.lastF[i];
      const b = 2 / (W + 1);
      const ev = this.errVar[i];
      const x = this.cfg.robust ? Math.abs(e) : e * e;
      this.errVar[i] = ev === ev ? (1 - b) * ev + b * x : x;
    } else this.errVar[i] = NaN;
    const base = i * W;
    let h = this.head[i];
    if (k === W) {
      const old = this.buf[base + h];
      this.sum[i] -= old;
      this.sumSq[i] -= old * old;
    }
    this.buf[base + h] = d;
    this.sum[i] += d;
    this.sumSq[i] += d * d;
    h = h + 1 === W ? 0 : h + 1;
    this.head[i] = h;
    if (k < W) this.n[i] = k + 1;
    this.last[i] = d;
    this.lastF[i] = this.forecast(i);
  }

  count(i: number): number {
    return this.n[i];
  }

  mean(i: number): number {
    const k = this.n[i];
    return k > 0 ? this.sum[i] / k : 0;
  }

  forecast(i: number): number {
    const k = this.n[i];
    if (k === 0) return 0;
    const a = this.cfg.alpha;
    const f = a * this.last[i] + (1 - a) * (this.sum[i] / k);
    return this.cfg.atLeastCurrent && this.last[i] > f ? this.last[i] : f;
  }

  /**
   * s² for workload i of the given size (its CPU allocation, same unit as the
   * demand; 0 = unknown) and hard limit (the most it can use, e.g. its vCPUs;
   * 0 = none known); see the class comment.
   */
  variance(i: number, size = 0, limit = 0): number {
    const k = this.n[i];
    const d = this.last[i];
    const floor = this.cfg.minSigma * d;
    let v = floor * floor;
    if (k > 1 && this.cfg.levelVariance) {
      const m = this.sum[i] / k;
      const lv = this.sumSq[i] / k - m * m;
      if (lv > v) v = lv;
    }
    let ev = this.errVar[i];
    if (this.cfg.robust && ev === ev) ev = (Math.PI / 2) * ev * ev;
    if (ev === ev && ev > v) v = ev;
    const b = this.cfg.sizeSigma * size;
    if (b > 0) v += b * b;
    const K = this.cfg.roomSigmas;
    if (K > 0 && limit > 0) {
      const f = this.forecast(i);
      const room = f < limit ? limit - f : 0;
      const r2 = room * room;
      v = r2 > 0 ? (v * r2) / (r2 + K * K * v) : 0;
    }
    return v;
  }
}
