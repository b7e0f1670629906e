import type { HostCursor, PreparedDemand } from '../../types';

/**
 * Tie-breaker among equal scores: the tighter fit wins, measured as the CPU
 * share left free after placement (smaller is tighter), best-fit packing that
 * keeps large holes for large workloads:
 *   free = (cap × ratio − allocated − reserved − demand) / (cap × ratio)
 */
export function freeCpuShareAfter(d: PreparedDemand, h: HostCursor): number {
  const c = h.capCpu * h.cpuRatio;
  return c > 0 ? (c - h.allocCpu - h.resCpu - d.cpu) / c : 0;
}
