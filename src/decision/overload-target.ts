/**
 * The operator's one knob: `overloadTarget`, the share of active host time
 * with demand above capacity the consolidation may spend. This controller maps
 * it, and the overload observed so far, to the safety margins the Rebalancer
 * uses (z for relief, drainZ for drains, openZ for waking hosts). The
 * simulator's `wattplace` policy and the service's `POST /v1/rebalance` hold
 * one each and feed it the same observation every interval: how many hosts
 * ran workloads during the interval that just ended, and how much of that host
 * time was overloaded (`intervalOverload`: demand linear between the two
 * samples, the simulator's own accounting).
 *
 * Control law (proportional-integral on the overload debt):
 *   e  = Σ overloaded − target · Σ active       host-intervals so far (the debt)
 *   d  = gain · e / (target · H · T)
 *   o += integralGain · d                        every interval
 *   z  = clamp(Φ⁻¹(1 − target) + o + d, zMin, zMax)
 *   drainZ = drainFactor · z (1.3),   openZ = openFactor · z (0.5)
 * with H the mean number of active hosts and T the time constant in
 * intervals: an overload rate twice the target for T intervals raises the
 * margin by `gain`. The start Φ⁻¹(1 − target) is the one-sided normal bound
 * the margin stands for (z = 2.58 → 0.5 %); real forecast errors are not
 * normal, and the loop corrects it. The debt term alone (integralGain 0)
 * settles where the margin is right only with a debt left over: the margin
 * the workload needs minus the start, times target · H · T / gain, never paid
 * back, so a day ends 5–10 % off the target. The offset o takes over that
 * difference and lets the debt go to zero, so the share of overloaded host
 * time over the day converges to the target itself; a burst is paid for later
 * by tighter margins, a quiet spell by looser ones. At a bound the offset stops
 * and the debt term is clamped (no wind-up).
 * drainFactor ≥ 1: a drain must leave its targets at least as safe as relief
 * does, or the next interval relieves what the drain just packed; 1.3 leaves a
 * band that takes a third fewer migrations at the same energy (RESULTS.md).
 */
export interface OverloadTargetConfig {
  /** Share of active host time allowed above capacity, 0 < target < 0.5. */
  readonly target: number;
  /** Margin change for an excess of target · H · T overloaded host-intervals. */
  readonly gain: number;
  /** Share of the debt term moved into the offset each interval (0 = debt term only). */
  readonly integralGain: number;
  /** Time constant T, in intervals. */
  readonly intervals: number;
  readonly zMin: number;
  readonly zMax: number;
  /** drainZ = drainFactor × z (≥ 1: drains at least as safe as relief). */
  readonly drainFactor: number;
  /** openZ = openFactor × z. */
  readonly openFactor: number;
}

export const DEFAULT_OVERLOAD_TARGET = 0.005;

export const DEFAULT_OVERLOAD_CONTROL: OverloadTargetConfig = {
  target: DEFAULT_OVERLOAD_TARGET,
  gain: 1,
  integralGain: 0.01,
  intervals: 24,
  zMin: 0,
  zMax: 6,
  drainFactor: 1.3,
  openFactor: 0.5,
};

export interface Margins {
  readonly z: number;
  readonly drainZ: number;
  readonly openZ: number;
}

/** Checks an overload target; returns a reason or null. */
export function overloadTargetProblem(t: unknown): string | null {
  if (typeof t !== 'number' || !Number.isFinite(t) || !(t > 0 && t < 0.5)) return `must be a number above 0 and below 0.5 (a share, 0.005 = 0.5 %), got ${JSON.stringify(t)}`;
  return null;
}

/**
 * Inverse standard normal CDF (Acklam's rational approximation, relative
 * error below 1.2e-9; P. J. Acklam, "An algorithm for computing the inverse
 * normal cumulative distribution function", 2003).
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`quantile of ${p}`);
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - lo) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/**
 * Share of one interval a host spent above capacity, demand linear between the
 * sums at its start (after the previous interval's moves) and its end: the
 * simulator's real-mode accounting (src/sim/engine.ts).
 */
export function intervalOverload(startDemand: number, endDemand: number, capacity: number): number {
  const a = startDemand - capacity;
  const b = endDemand - capacity;
  if (a > 0 && b > 0) return 1;
  // an unbounded sum (absurd input): half the interval per end above capacity
  if (!Number.isFinite(a) || !Number.isFinite(b)) return (a > 0 ? 0.5 : 0) + (b > 0 ? 0.5 : 0);
  if (a > 0 || b > 0) return (a > 0 ? a : b) / (Math.abs(a) + Math.abs(b));
  return 0;
}

export class OverloadController {
  private overloaded = 0;
  private active = 0;
  private intervalsSeen = 0;
  /** The debt term d (see the class comment). */
  private debt = 0;
  /** The offset o. */
  private offset = 0;
  private readonly start: number;

  constructor(readonly cfg: OverloadTargetConfig = DEFAULT_OVERLOAD_CONTROL) {
    const p = overloadTargetProblem(cfg.target);
    if (p) throw new RangeError(`overloadTarget ${p}`);
    if (!(cfg.gain >= 0 && Number.isFinite(cfg.gain))) throw new RangeError(`overload gain must be finite and ≥ 0, got ${cfg.gain}`);
    if (!(cfg.integralGain >= 0 && cfg.integralGain <= 1)) throw new RangeError(`overload integralGain must be within 0–1, got ${cfg.integralGain}`);
    if (!(cfg.intervals >= 1 && Number.isFinite(cfg.intervals))) throw new RangeError(`overload time constant must be ≥ 1 interval, got ${cfg.intervals}`);
    if (!(cfg.zMin >= 0 && cfg.zMax >= cfg.zMin && Number.isFinite(cfg.zMax))) throw new RangeError(`overload margin bounds must satisfy 0 ≤ zMin ≤ zMax, got ${cfg.zMin}, ${cfg.zMax}`);
    this.start = Math.min(cfg.zMax, Math.max(cfg.zMin, normalQuantile(1 - cfg.target)));
  }

  /**
   * One interval: `overloadedHosts` host-intervals above capacity (fractional,
   * see intervalOverload) among `activeHosts` hosts that ran workloads.
   */
  observe(overloadedHosts: number, activeHosts: number): void {
    if (!(overloadedHosts >= 0 && activeHosts >= overloadedHosts && Number.isFinite(activeHosts))) throw new RangeError(`overload observation ${overloadedHosts} of ${activeHosts} hosts`);
    if (activeHosts === 0) return;
    const { target, gain, intervals, zMin, zMax } = this.cfg;
    this.overloaded += overloadedHosts;
    this.active += activeHosts;
    this.intervalsSeen++;
    const H = this.active / this.intervalsSeen;
    this.debt += (gain * (overloadedHosts - target * activeHosts)) / (target * H * intervals);
    // the offset integrates only while the margin is within its bounds (no wind-up)
    const z = this.start + this.offset + this.debt;
    if (z > zMin && z < zMax) this.offset += this.cfg.integralGain * this.debt;
    if (this.start + this.offset > zMax) this.offset = zMax - this.start;
    if (this.start + this.offset < zMin) this.offset = zMin - this.start;
    if (this.start + this.offset + this.debt > zMax) this.debt = zMax - this.start - this.offset;
    if (this.start + this.offset + this.debt < zMin) this.debt = zMin - this.start - this.offset;
  }

  /** Overloaded share of the active host time observed so far. */
  rate(): number {
    return this.active > 0 ? this.overloaded / this.active : 0;
  }

  margins(): Margins {
    const z = this.start + this.offset + this.debt;
    return { z, drainZ: this.cfg.drainFactor * z, openZ: this.cfg.openFactor * z };
  }
}
