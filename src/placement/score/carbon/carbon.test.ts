import { describe, expect, it } from 'vitest';
import { demand, host } from '../../../../test/fixtures/placement';
import { carbonFactor } from '.';

/** score = −ΔP × factor; factor = I_site / 1000 when weighting (W × g/kWh / 1000 = g CO2 per hour), else 1. */
describe('carbon weighting factor', () => {
  it.each([
    // weighting, site intensity g/kWh, default, factor
    [false, 250, 400, 1], //    weighting off: the score is plain −ΔP
    [false, NaN, 400, 1],
    [true, 250, 400, 0.25], //  250/1000
    [true, 0, 400, 0], //       a zero-carbon site: every placement there scores 0 (best possible)
    [true, NaN, 400, 0.4], //   site never reported: configured default 400/1000
    [true, NaN, 120, 0.12], //  another default
  ])('weighting=%s, site %s g/kWh, default %s → %s', (carbonWeighting, carbon, defaultCarbonIntensity, f) => {
    expect(carbonFactor(demand({ config: { carbonWeighting, defaultCarbonIntensity } }), host({ carbon }))).toBeCloseTo(f, 12);
  });

  it('turns watts into grams per hour: 20 W at 500 g/kWh = 10 g/h, 30 W at 100 g/kWh = 3 g/h', () => {
    const d = demand({ config: { carbonWeighting: true } });
    expect(-20 * carbonFactor(d, host({ carbon: 500 }))).toBeCloseTo(-10, 12);
    expect(-30 * carbonFactor(d, host({ carbon: 100 }))).toBeCloseTo(-3, 12);
  });
});
