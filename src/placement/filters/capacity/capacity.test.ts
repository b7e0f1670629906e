import { describe, expect, it } from 'vitest';
import { demand, GiB, host } from '../../../../test/fixtures/placement';
import { PASS } from '../../types';
import { capacityFilter } from '.';

/**
 * demand_r ≤ capacity_r × ratio_r − allocated_r − reserved_r, CPU checked first.
 * Host: 8 000 m, 32 GiB unless the row says otherwise.
 */
describe('Capacity filter', () => {
  const rows: [string, Parameters<typeof host>[0], { cpu: number; mem: number }, string][] = [
    // free cpu = 8000·1 − 6000 − 1000 = 1000 m: 1000 fits exactly
    ['cpu fits exactly', { allocCpu: 6000, resCpu: 1000 }, { cpu: 1000, mem: GiB }, 'pass'],
    // 1001 > 1000
    ['cpu over by 1 m', { allocCpu: 6000, resCpu: 1000 }, { cpu: 1001, mem: GiB },
      'insufficient cpu: requested 1001m, free 1000m of 8000m (allocated 6000m, reserved 1000m)'],
    // reservations alone fill it: 8000 − 0 − 8000 = 0
    ['reservations fill the host', { resCpu: 8000 }, { cpu: 1, mem: GiB },
      'insufficient cpu: requested 1m, free 0m of 8000m (allocated 0m, reserved 8000m)'],
    // cpu ratio 2: 8000·2 − 14000 = 2000 m free
    ['allocation ratio 2, fits exactly', { cpuRatio: 2, allocCpu: 14000 }, { cpu: 2000, mem: GiB }, 'pass'],
    ['allocation ratio 2, over by 1 m', { cpuRatio: 2, allocCpu: 14000 }, { cpu: 2001, mem: GiB },
      'insufficient cpu: requested 2001m, free 2000m of 16000m (allocated 14000m, reserved 0m)'],
    // ratio 1.5 with a reservation: 12000 − 9000 − 2500 = 500 m
    ['allocation ratio 1.5 with a reservation', { cpuRatio: 1.5, allocCpu: 9000, resCpu: 2500 }, { cpu: 600, mem: GiB },
      'insufficient cpu: requested 600m, free 500m of 12000m (allocated 9000m, reserved 2500m)'],
    // already over-committed by the orchestrator: 8000 − 9000 < 0, shown as 0
    ['host already over-committed', { allocCpu: 9000 }, { cpu: 0, mem: GiB },
      'insufficient cpu: requested 0m, free 0m of 8000m (allocated 9000m, reserved 0m)'],
    // memory: 32 − 30 − 1 = 1 GiB free
    ['memory fits exactly', { allocMem: 30 * GiB, resMem: GiB }, { cpu: 1000, mem: GiB }, 'pass'],
    ['memory over', { allocMem: 30 * GiB, resMem: GiB }, { cpu: 1000, mem: 2 * GiB },
      'insufficient memory: requested 2147483648 B, free 1073741824 B of 34359738368 B (allocated 32212254720 B, reserved 1073741824 B)'],
    // memory ratio 1.5: 48 − 40 − 0 = 8 GiB free
    ['memory ratio 1.5', { memRatio: 1.5, allocMem: 40 * GiB }, { cpu: 1000, mem: 8 * GiB }, 'pass'],
    ['memory ratio 1.5, over by one byte', { memRatio: 1.5, allocMem: 40 * GiB }, { cpu: 1000, mem: 8 * GiB + 1 },
      'insufficient memory: requested 8589934593 B, free 8589934592 B of 51539607552 B (allocated 42949672960 B, reserved 0 B)'],
    // both short: CPU is checked first and gives the reason
    ['cpu and memory both short', { allocCpu: 8000, allocMem: 32 * GiB }, { cpu: 1, mem: 1 },
      'insufficient cpu: requested 1m, free 0m of 8000m (allocated 8000m, reserved 0m)'],
  ];
  it.each(rows)('%s', (_name, h, req, expected) => {
    const d = demand(req);
    const c = host(h);
    const code = capacityFilter.filter(d, c);
    if (expected === 'pass') expect(code).toBe(PASS);
    else {
      expect(code).not.toBe(PASS);
      expect(capacityFilter.explain(code, d, c)).toBe(expected);
    }
  });
});
