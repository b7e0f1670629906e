import { describe, expect, it } from 'vitest';
import { demand, host } from '../../../../test/fixtures/placement';
import { freeCpuShareAfter } from '.';

/** free = (cap × ratio − allocated − reserved − demand) / (cap × ratio); smaller is tighter. */
describe('tight-fit tie-breaker', () => {
  it.each([
    // host, demand m, free share after
    [{ allocCpu: 4000, resCpu: 1000 }, 1000, 0.25], //   (8000 − 4000 − 1000 − 1000)/8000
    [{ allocCpu: 6000 }, 2000, 0], //                    fills the host exactly
    [{}, 2000, 0.75], //                                 (8000 − 2000)/8000
    [{ cpuRatio: 2, allocCpu: 8000 }, 4000, 0.25], //    (16000 − 8000 − 4000)/16000
    [{ capCpu: 0 }, 1000, 0], //                         no capacity: 0, not NaN
  ] as [Parameters<typeof host>[0], number, number][])('%j, demand %s m → %s', (h, cpu, share) => {
    expect(freeCpuShareAfter(demand({ cpu }), host(h))).toBeCloseTo(share, 12);
  });
});
