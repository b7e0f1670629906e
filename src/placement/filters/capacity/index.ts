import { PASS, type FilterPlugin } from '../../types';

const CPU = 1;
const MEM = 2;

/**
 * Capacity, per resource r ∈ {cpu, mem}:
 *   demand_r ≤ capacity_r × allocationRatio_r − allocated_r − reserved_r
 * (the allocation-ratio rule of Nova's placement service; reserved = open
 * wattplace reservations not yet visible in telemetry).
 */
export const capacityFilter: FilterPlugin = {
  name: 'Capacity',
  filter(d, h) {
    if (d.cpu > h.capCpu * h.cpuRatio - h.allocCpu - h.resCpu) return CPU;
    if (d.mem > h.capMem * h.memRatio - h.allocMem - h.resMem) return MEM;
    return PASS;
  },
  explain(code, d, h) {
    if (code === CPU) {
      const free = h.capCpu * h.cpuRatio - h.allocCpu - h.resCpu;
      return `insufficient cpu: requested ${d.cpu}m, free ${Math.max(0, free)}m of ${h.capCpu * h.cpuRatio}m (allocated ${h.allocCpu}m, reserved ${h.resCpu}m)`;
    }
    const free = h.capMem * h.memRatio - h.allocMem - h.resMem;
    return `insufficient memory: requested ${d.mem} B, free ${Math.max(0, free)} B of ${h.capMem * h.memRatio} B (allocated ${h.allocMem} B, reserved ${h.resMem} B)`;
  },
};
