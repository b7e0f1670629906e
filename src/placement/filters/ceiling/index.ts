import { PASS, type FilterPlugin, type HostCursor, type PreparedDemand } from '../../types';
import { toFixed } from '../../format';

/**
 * CPU utilization after placement, for feasibility the larger of the measured
 * and the allocated view (a workload may not yet use what it was given):
 *   measured:  u_meas + (reserved + demand) / capacity
 *   allocated: (allocated + reserved + demand) / (capacity × allocationRatio)
 *   u_after = max(measured, allocated) ≤ ceiling (default 0.8: headroom for bursts,
 *   the static-threshold rule of Beloglazov & Buyya, CCPE 2012).
 * A host that never reported has no measured view; the allocated view stands.
 */
export function feasibilityUtilAfter(d: PreparedDemand, h: HostCursor): number {
  const add = h.resCpu + d.cpu;
  const alloc = h.capCpu > 0 ? (h.allocCpu + add) / (h.capCpu * h.cpuRatio) : Infinity;
  if (h.measCpu !== h.measCpu) return alloc; // NaN: never reported
  const meas = h.capCpu > 0 ? h.measCpu + add / h.capCpu : Infinity;
  return meas > alloc ? meas : alloc;
}

export const ceilingFilter: FilterPlugin = {
  name: 'Ceiling',
  filter: (d, h) => (feasibilityUtilAfter(d, h) > d.config.cpuCeiling + 1e-12 ? 1 : PASS),
  explain: (_c, d, h) =>
    `cpu utilization after placement ${toFixed(feasibilityUtilAfter(d, h), 3)} would exceed the ceiling ${d.config.cpuCeiling}`,
};
