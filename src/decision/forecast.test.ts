import { describe, expect, it } from 'vitest';
import { DEFAULT_FORECAST, WorkloadForecaster } from './forecast';

/** A forecaster for one workload fed the given demands. */
function fed(demands: number[], cfg = DEFAULT_FORECAST): WorkloadForecaster {
  const f = new WorkloadForecaster(cfg);
  f.ensure(1);
  f.reset(0);
  for (const d of demands) f.observe(0, d);
  return f;
}

describe('WorkloadForecaster (α 0.3, window 12, robust σ, size term 5 %)', () => {
  it('forecast = 0.3 × latest + 0.7 × window mean', () => {
    // [100, 200]: 0.3 × 200 + 0.7 × 150 = 165
    expect(fed([100, 200]).forecast(0)).toBeCloseTo(165, 12);
  });

  it.each([
    // demands, size, s²
    // one sample: only the floor (2 % of 500)² = 100
    ['one sample, size unknown', [500], 0, 100],
    // + (5 % of 2000)² = 100² → 10100: a flat workload can still burst up to its size
    ['one sample, size 2000', [500], 2000, 100 + 100 * 100],
    // [100, 200]: error 200 − 100 = 100, robust σ² = (π/2) × 100² = 15707.96
    ['two samples, size unknown', [100, 200], 0, (Math.PI / 2) * 100 * 100],
    // + (5 % of 1000)² = 2500
    ['two samples, size 1000', [100, 200], 1000, (Math.PI / 2) * 100 * 100 + 2500],
  ])('variance: %s', (_name, demands, size, s2) => {
    expect(fed(demands).variance(0, size)).toBeCloseTo(s2, 6);
  });

  it('sizeSigma 0 ignores the size (the fixed-margin expert setting)', () => {
    const f = fed([500], { ...DEFAULT_FORECAST, sizeSigma: 0 });
    expect(f.variance(0, 2000)).toBeCloseTo(100, 9);
  });

  it.each([-0.1, 1.5, NaN])('rejects sizeSigma %s', (s) => {
    expect(() => new WorkloadForecaster({ ...DEFAULT_FORECAST, sizeSigma: s })).toThrow(/sizeSigma/);
  });
});
