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

describe('WorkloadForecaster (α 0.3, window 12, robust σ, size term 5 %, room cap 3)', () => {
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

  it.each([
    // demands, limit, s²: one sample of 500 with size 2000 gives s² = 100 + 100² = 10100 (above)
    // no limit known: as above
    ['no limit', [500], 0, 10100],
    // limit far above: room 1500, 10100·1500² / (1500² + 3²·10100) = 10100 × 2250000 / 2340900 = 9707.8
    ['room 1500', [500], 2000, (10100 * 1500 ** 2) / (1500 ** 2 + 9 * 10100)],
    // room 100 = one s: 10100·100² / (100² + 9·10100) = 1000.0, about (100 / 3)² = 1111
    ['room 100', [500], 600, (10100 * 100 ** 2) / (100 ** 2 + 9 * 10100)],
    // at the limit, or forecast above it: it cannot rise
    ['at the limit', [500], 500, 0],
    ['above the limit', [500], 400, 0],
  ])('variance capped by the room to rise: %s', (_name, demands, limit, s2) => {
    expect(fed(demands).variance(0, 2000, limit)).toBeCloseTo(s2, 6);
  });

  it('roomSigmas 0 ignores the limit (the fixed-margin expert setting)', () => {
    const f = fed([500], { ...DEFAULT_FORECAST, roomSigmas: 0 });
    expect(f.variance(0, 2000, 500)).toBeCloseTo(10100, 9);
  });

  it.each([-1, 11, NaN])('rejects roomSigmas %s', (k) => {
    expect(() => new WorkloadForecaster({ ...DEFAULT_FORECAST, roomSigmas: k })).toThrow(/roomSigmas/);
  });

  it.each([-0.1, 1.5, NaN])('rejects sizeSigma %s', (s) => {
    expect(() => new WorkloadForecaster({ ...DEFAULT_FORECAST, sizeSigma: s })).toThrow(/sizeSigma/);
  });
});
