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

/**
 * feasibilityUtilAfter(d, h) > limit, written without the Infinity branches:
 * a number that may be a constant Infinity or a computed double is boxed on
 * the heap by the compiler, once per host. Same cases: no capacity → the
 * utilization is Infinity; never reported → the allocated view alone.
 */
function exceeds(d: PreparedDemand, h: HostCursor, limit: number): boolean {
  if (!(h.capCpu > 0)) return Infinity > limit;
  const add = h.resCpu + d.cpu;
  const alloc = (h.allocCpu + add) / (h.capCpu * h.cpuRatio);
  if (h.measCpu !== h.measCpu) return alloc > limit;
  const meas = h.measCpu + add / h.capCpu;
  return (meas > alloc ? meas : alloc) > limit;
}

export const ceilingFilter: FilterPlugin = {
  name: 'Ceiling',
  filter: (d, h) => (exceeds(d, h, d.config.cpuCeiling + 1e-12) ? 1 : PASS),
  explain: (_c, d, h) =>
    `cpu utilization after placement ${toFixed(feasibilityUtilAfter(d, h), 3)} would exceed the ceiling ${d.config.cpuCeiling}`,
};
