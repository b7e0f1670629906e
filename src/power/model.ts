import { ValidationError, echo, watts, type PowerModelSpec, type Watts } from '../domain';

/**
 * A host's power as a function of CPU utilization. Every implementation is
 * pure, total on [0, 1] (inputs outside are clamped) and non-decreasing.
 */
export interface PowerModel {
  readonly spec: PowerModelSpec;
  /** P(0): what an idle host that is ON draws. */
  readonly idleWatts: Watts;
  /** P(1). */
  readonly maxWatts: Watts;
  /** What the host draws in STANDBY. */
  readonly standbyWatts: Watts;
  /** P(u) for u in [0, 1]. */
  watts(u: number): Watts;
  /**
   * The least slope dP/du (watts per unit of utilization) anywhere on
   * [u0, u1] ⊆ [0, 1], so that P(b + Δ) − P(b) ≥ Δ · minSlope(u0, u1) whenever
   * u0 ≤ b ≤ b + Δ ≤ u1. With u1 ≤ u0 it is the slope just right of u0.
   */
  minSlope(u0: number, u1: number): number;
}

const clamp01 = (u: number): number => (u > 1 ? 1 : u > 0 ? u : 0);

/** P(u) = idle + (max − idle)·u — the linear model (Fan, Weber & Barroso, ISCA 2007, first-order form). */
class LinearPowerModel implements PowerModel {
  readonly idleWatts: Watts;
  readonly maxWatts: Watts;
  readonly standbyWatts: Watts;
  private readonly span: number;
  constructor(readonly spec: Extract<PowerModelSpec, { kind: 'linear' }>) {
    this.idleWatts = watts(spec.idleWatts);
    this.maxWatts = watts(spec.maxWatts);
    this.standbyWatts = watts(spec.standbyWatts);
    this.span = spec.maxWatts - spec.idleWatts;
  }
  watts(u: number): Watts {
    return (this.idleWatts + this.span * clamp01(u)) as Watts;
  }
  minSlope(): number {
    return this.span;
  }
}

/**
 * SPECpower_ssj2008-style table: watts at 0 %, 10 %, … 100 % load, linearly
 * interpolated between points (as CloudSim's PowerModelSpecPower does).
 * P(u) = w[i] + (w[i+1] − w[i])·(10u − i), i = ⌊10u⌋.
 */
class TablePowerModel implements PowerModel {
  readonly idleWatts: Watts;
  readonly maxWatts: Watts;
  readonly standbyWatts: Watts;
  private readonly w: Float64Array;
  constructor(readonly spec: Extract<PowerModelSpec, { kind: 'table' }>) {
    this.w = Float64Array.from(spec.watts);
    this.idleWatts = watts(this.w[0]);
    this.maxWatts = watts(this.w[10]);
    this.standbyWatts = watts(spec.standbyWatts);
  }
  watts(u: number): Watts {
    const x = clamp01(u) * 10;
    const i = x >= 10 ? 9 : Math.floor(x);
    const lo = this.w[i];
    return (lo + (this.w[i + 1] - lo) * (x - i)) as Watts;
  }
  /** Segment i has slope 10·(w[i+1] − w[i]); the least over the segments [u0, u1] touches. */
  minSlope(u0: number, u1: number): number {
    const x0 = clamp01(u0) * 10;
    const first = x0 >= 10 ? 9 : Math.floor(x0);
    const x1 = clamp01(u1) * 10;
    const last = x1 <= x0 ? first : Math.min(9, Math.ceil(x1) - 1);
    let m = Infinity;
    for (let i = first; i <= last; i++) {
      const sl = (this.w[i + 1] - this.w[i]) * 10;
      if (sl < m) m = sl;
    }
    return m;
  }
}

/** P(u) = K0 + K1·e^(K2·u) — the form used by the Kubernetes "Peaks" scheduler plugin. */
class ExponentialPowerModel implements PowerModel {
  readonly idleWatts: Watts;
  readonly maxWatts: Watts;
  readonly standbyWatts: Watts;
  constructor(readonly spec: Extract<PowerModelSpec, { kind: 'exponential' }>) {
    this.idleWatts = this.watts(0);
    this.maxWatts = this.watts(1);
    this.standbyWatts = watts(spec.standbyWatts);
  }
  watts(u: number): Watts {
    const s = this.spec;
    return (s.k0 + s.k1 * Math.exp(s.k2 * clamp01(u))) as Watts;
  }
  /** P'(u) = K1·K2·e^(K2·u) is monotone in u, so its least value on [u0, u1] is at an end. */
  minSlope(u0: number, u1: number): number {
    const s = this.spec;
    const a = s.k1 * s.k2 * Math.exp(s.k2 * clamp01(u0));
    const b = s.k1 * s.k2 * Math.exp(s.k2 * clamp01(u1 > u0 ? u1 : u0));
    return a < b ? a : b;
  }
}

function finite(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ValidationError(field, 'must be a finite number');
  return v;
}

function nonNegative(v: unknown, field: string): number {
  const n = finite(v, field);
  if (n < 0) throw new ValidationError(field, `must be ≥ 0, got ${n}`);
  return n;
}

/**
 * Validates a spec and builds its model. `field` is the path of the spec in the
 * caller's input (e.g. `hosts[2].power`); errors name the exact sub-field.
 * There is no fallback: an unknown or malformed model is an error, never a zero model.
 */
export function createPowerModel(spec: PowerModelSpec, field = 'power'): PowerModel {
  const standby = nonNegative(spec.standbyWatts ?? 0, `${field}.standby_watts`);
  let model: PowerModel;
  switch (spec.kind) {
    case 'linear': {
      const idle = nonNegative(spec.idleWatts, `${field}.linear.idle_watts`);
      const max = nonNegative(spec.maxWatts, `${field}.linear.max_watts`);
      if (max < idle) throw new ValidationError(`${field}.linear.max_watts`, `must be ≥ idle_watts (${idle}), got ${max}`);
      model = new LinearPowerModel({ kind: 'linear', idleWatts: idle, maxWatts: max, standbyWatts: standby });
      break;
    }
    case 'table': {
      const w = spec.watts;
      if (!Array.isArray(w) || w.length !== 11) {
        throw new ValidationError(`${field}.table.watts`, `needs 11 points (0 %, 10 %, … 100 %), got ${Array.isArray(w) ? w.length : typeof w}`);
      }
      for (let i = 0; i < 11; i++) {
        nonNegative(w[i], `${field}.table.watts[${i}]`);
        if (i > 0 && w[i] < w[i - 1]) {
          throw new ValidationError(`${field}.table.watts[${i}]`, `must not be below the previous point (${w[i - 1]}), got ${w[i]}`);
        }
      }
      model = new TablePowerModel({ kind: 'table', watts: [...w], standbyWatts: standby });
      break;
    }
    case 'exponential': {
      const k0 = finite(spec.k0, `${field}.exponential.k0`);
      const k1 = finite(spec.k1, `${field}.exponential.k1`);
      const k2 = finite(spec.k2, `${field}.exponential.k2`);
      if (k1 * k2 < 0) throw new ValidationError(`${field}.exponential.k2`, 'k1·k2 must be ≥ 0 so that power does not fall with load');
      if (Math.abs(k2) > 50) throw new ValidationError(`${field}.exponential.k2`, `must be within ±50, got ${k2}`);
      model = new ExponentialPowerModel({ kind: 'exponential', k0, k1, k2, standbyWatts: standby });
      if (!(model.idleWatts >= 0) || !Number.isFinite(model.maxWatts)) {
        throw new ValidationError(`${field}.exponential`, `P(0) = k0 + k1 must be ≥ 0 and P(1) finite, got P(0) = ${model.idleWatts}`);
      }
      break;
    }
    default:
      throw new ValidationError(`${field}.model`, `unknown power model ${echo((spec as { kind?: unknown }).kind)}: expected linear, table or exponential`);
  }
  if (standby > model.idleWatts) {
    throw new ValidationError(`${field}.standby_watts`, `must not exceed the idle power (${model.idleWatts} W), got ${standby}`);
  }
  return model;
}
