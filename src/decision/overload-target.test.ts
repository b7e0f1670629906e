import { describe, expect, it } from 'vitest';
import { DEFAULT_OVERLOAD_CONTROL, OverloadController, intervalOverload, normalQuantile, overloadTargetProblem } from './overload-target';

describe('normalQuantile (Acklam)', () => {
  it.each([
    [0.5, 0],
    [0.995, 2.5758293],
    [0.98, 2.0537489],
    [0.998, 2.8781617],
    [0.01, -2.3263479],
  ])('Φ⁻¹(%f) = %f', (p, z) => expect(normalQuantile(p)).toBeCloseTo(z, 6));
});

describe('intervalOverload: demand linear between the interval’s two samples (the simulator’s accounting)', () => {
  it.each([
    // start, end, capacity, share of the interval above capacity
    ['never over', 800, 900, 1000, 0],
    ['over throughout', 1100, 1200, 1000, 1],
    ['rises through capacity: (1200−1000) / (200 + 200)', 800, 1200, 1000, 0.5],
    ['falls through capacity: 300 / (300 + 100)', 1300, 900, 1000, 0.75],
    ['unbounded start, end below: half', Infinity, 900, 1000, 0.5],
    ['unbounded end, start below: half', 900, Infinity, 1000, 0.5],
  ])('%s', (_n, a, b, cap, share) => expect(intervalOverload(a, b, cap)).toBeCloseTo(share, 12));
});

describe('OverloadController', () => {
  const t = 0.005;
  const fresh = () => new OverloadController({ ...DEFAULT_OVERLOAD_CONTROL, target: t });

  it('starts at the one-sided normal bound of the target; drains 1.3 ×, waking 0.5 × that margin', () => {
    const m = fresh().margins();
    expect(m.z).toBeCloseTo(2.5758, 4);
    expect(m.drainZ).toBeCloseTo(1.3 * 2.5758, 4);
    expect(m.openZ).toBeCloseTo(0.5 * 2.5758, 4);
  });

  it('overload at twice the target for T intervals raises the margin by the gain, plus the offset', () => {
    // 40 hosts, 0.4 overloaded host-intervals per interval = 2 × 0.005 × 40; T = 24:
    // debt after k intervals = k × (0.4 − 0.2) / (0.005 × 40 × 24) = k / 24, so 1 after 24;
    // offset = 0.01 × Σ_{k=1..24} k / 24 = 0.01 × 12.5 = 0.125
    const c = fresh();
    for (let k = 0; k < 24; k++) c.observe(0.4, 40);
    expect(c.margins().z).toBeCloseTo(2.5758 + 1 + 0.125, 4);
    expect(c.rate()).toBeCloseTo(0.01, 12);
  });

  it('no overload lowers the margin; at the target the offset repays the debt, and without debt z holds still', () => {
    const c = fresh();
    for (let k = 0; k < 24; k++) c.observe(0, 40); // debt −24 × 0.2 / 4.8 = −1, offset −0.125
    expect(c.margins().z).toBeCloseTo(2.5758 - 1.125, 4);
    // at the target the debt stays −1 and the offset keeps moving 0.01 × −1 an interval:
    // the budget saved so far is spent later
    for (let k = 0; k < 10; k++) c.observe(0.2, 40);
    expect(c.margins().z).toBeCloseTo(2.5758 - 1.125 - 0.1, 4);
    const still = fresh();
    for (let k = 0; k < 100; k++) still.observe(0.2, 40);
    expect(still.margins().z).toBeCloseTo(fresh().margins().z, 9);
  });

  it.each([
    // after a restart, calm intervals: z after k = 2.5758 − k/24 − 0.01 × k(k + 1)/48
    // k 12: 2.5758 − 0.5 − 0.0325 = 2.0433; k 13: 2.5758 − 0.5417 − 0.0379 = 1.9962
    [2.0, 13],
    // k 15: 2.5758 − 0.625 − 0.05 = 1.9008; k 16: 2.5758 − 0.6667 − 0.0567 = 1.8525
    [1.9, 16],
  ])('after a restart, calm intervals bring z below %f in %i intervals (the README’s figure)', (z, k) => {
    const c = fresh();
    for (let i = 0; i < k - 1; i++) c.observe(0, 40);
    expect(c.margins().z).toBeGreaterThan(z);
    c.observe(0, 40);
    expect(c.margins().z).toBeLessThanOrEqual(z);
  });

  it('holds the day’s share: a plant that overloads more at a lower margin ends at the target', () => {
    // overload rate r(z) = 0.005 × e^(2.0 − z) per host: the margin the workload needs is z = 2.0,
    // 0.576 below the start. The debt term alone (integralGain 0) settles there with the debt
    // unpaid: (2.576 − 2.0) × T / (gain × 288 intervals) = 0.576 × 24 / 288 = 4.8 % of the target
    // short (measured 0.952 ×). The offset repays it: measured 0.998 ×.
    const share = (integralGain: number): number => {
      const c = new OverloadController({ ...DEFAULT_OVERLOAD_CONTROL, target: t, integralGain });
      for (let k = 0; k < 288; k++) c.observe(40 * 0.005 * Math.exp(2.0 - c.margins().z), 40);
      return c.rate();
    };
    expect(share(0) / t).toBeCloseTo(1 - 0.048, 2);
    expect(Math.abs(share(DEFAULT_OVERLOAD_CONTROL.integralGain) / t - 1)).toBeLessThan(0.01);
  });

  it('stops at its bounds without wind-up', () => {
    const c = fresh();
    for (let k = 0; k < 1000; k++) c.observe(0, 40);
    expect(c.margins().z).toBe(0);
    c.observe(0.4, 40); // one interval over the target moves it up at once
    expect(c.margins().z).toBeGreaterThan(0);
    for (let k = 0; k < 1000; k++) c.observe(40, 40);
    expect(c.margins().z).toBe(DEFAULT_OVERLOAD_CONTROL.zMax);
  });

  it('an interval without active hosts changes nothing', () => {
    const c = fresh();
    c.observe(0, 0);
    expect(c.margins().z).toBeCloseTo(2.5758, 4);
  });

  it.each([-0.01, 1.5, NaN])('rejects integralGain %s', (g) => {
    expect(() => new OverloadController({ ...DEFAULT_OVERLOAD_CONTROL, integralGain: g })).toThrow(/integralGain/);
  });

  it.each([0, -0.1, 0.5, 1, NaN, '0.005'])('rejects target %s, naming the range', (bad) => {
    expect(overloadTargetProblem(bad)).toMatch(/above 0 and below 0.5/);
    expect(() => new OverloadController({ ...DEFAULT_OVERLOAD_CONTROL, target: bad as number })).toThrow(/overloadTarget/);
  });

  it('rejects impossible observations (bug in the caller)', () => {
    expect(() => fresh().observe(3, 2)).toThrow(RangeError);
    expect(() => fresh().observe(-1, 2)).toThrow(RangeError);
  });
});
