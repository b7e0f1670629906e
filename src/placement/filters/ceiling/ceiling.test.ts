import { describe, expect, it } from 'vitest';
import { demand, host } from '../../../../test/fixtures/placement';
import { PASS } from '../../types';
import { ceilingFilter, feasibilityUtilAfter } from '.';

/**
 * u_after = max(measured, allocated):
 *   measured  = u_meas + (reserved + demand) / cap
 *   allocated = (allocated + reserved + demand) / (cap × ratio)
 * must stay ≤ ceiling (0.8 unless the row says otherwise). Host: 8 000 m.
 */
describe('Ceiling filter', () => {
  const rows: [string, Parameters<typeof host>[0], number, number, number, string][] = [
    // name, host, demand m, ceiling, expected u_after, verdict
    // never reported: allocated view only, (4000 + 2000) / 8000 = 0.75
    ['never reported, allocated view fits', { allocCpu: 4000 }, 2000, 0.8, 0.75, 'pass'],
    // (4000 + 2500) / 8000 = 0.8125
    ['never reported, allocated view over', { allocCpu: 4000 }, 2500, 0.8, 0.8125, 'cpu utilization after placement 0.813 would exceed the ceiling 0.8'],
    // measured 0.6 + 2000/8000 = 0.85 > allocated (1000 + 2000)/8000 = 0.375
    ['measured view binds', { measCpu: 0.6, allocCpu: 1000 }, 2000, 0.8, 0.85, 'cpu utilization after placement 0.850 would exceed the ceiling 0.8'],
    // allocated (5000 + 2000)/8000 = 0.875 > measured 0.1 + 0.25 = 0.35 (the workloads have not ramped up yet)
    ['allocated view binds although the host measures idle', { measCpu: 0.1, allocCpu: 5000 }, 2000, 0.8, 0.875, 'cpu utilization after placement 0.875 would exceed the ceiling 0.8'],
    // measured 0.3 + (2000 + 1000)/8000 = 0.675; allocated 3000/8000 = 0.375
    ['a reservation counts in the measured view', { measCpu: 0.3, resCpu: 2000 }, 1000, 0.8, 0.675, 'pass'],
    // 0.3 + (2000 + 2000)/8000 = 0.8: exactly at the ceiling is allowed
    ['exactly at the ceiling', { measCpu: 0.3, resCpu: 2000 }, 2000, 0.8, 0.8, 'pass'],
    // 0.3 + 4001/8000 = 0.800125
    ['one millicore over the ceiling', { measCpu: 0.3, resCpu: 2000 }, 2001, 0.8, 0.800125, 'cpu utilization after placement 0.800 would exceed the ceiling 0.8'],
    // ratio 2: allocated (10000 + 2000)/16000 = 0.75; measured 0.1 + 2000/8000 = 0.35
    ['allocation ratio widens the allocated view', { measCpu: 0.1, allocCpu: 10000, cpuRatio: 2 }, 2000, 0.8, 0.75, 'pass'],
    // ratio 2 does not widen the measured view: 0.5 + 4000/8000 = 1.0
    ['allocation ratio does not widen the measured view', { measCpu: 0.5, cpuRatio: 2 }, 4000, 0.8, 1.0, 'cpu utilization after placement 1.000 would exceed the ceiling 0.8'],
    // a configured ceiling of 0.5: 0.2 + 3000/8000 = 0.575
    ['configured ceiling 0.5', { measCpu: 0.2 }, 3000, 0.5, 0.575, 'cpu utilization after placement 0.575 would exceed the ceiling 0.5'],
  ];
  it.each(rows)('%s', (_name, h, cpu, cpuCeiling, uAfter, verdict) => {
    const d = demand({ cpu, config: { cpuCeiling } });
    const c = host(h);
    expect(feasibilityUtilAfter(d, c)).toBeCloseTo(uAfter, 12);
    const code = ceilingFilter.filter(d, c);
    if (verdict === 'pass') expect(code).toBe(PASS);
    else {
      expect(code).not.toBe(PASS);
      expect(ceilingFilter.explain(code, d, c)).toBe(verdict);
    }
  });
});
