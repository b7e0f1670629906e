import { PowerState } from '../../../domain';
import type { HostCursor, PreparedDemand } from '../../types';

// A module constant: `PowerState.STANDBY` through the domain barrel is a getter call per host.
const STANDBY: number = PowerState.STANDBY;

/**
 * The host's CPU utilization before placement, as power sees it: measured
 * utilization drives power; a host that never reported is taken at the
 * utilization its allocation implies (0 when none). Open reservations are
 * load that telemetry does not show yet, so they are added.
 */
export function baselineUtil(h: HostCursor): number {
  if (h.capCpu <= 0) return 0;
  const base = h.measCpu === h.measCpu ? h.measCpu : h.allocCpu / h.capCpu;
  return base + h.resCpu / h.capCpu;
}

/**
 * Marginal power of placing the demand on the host:
 *   ON:       ΔP = P(u_now + d/cap) − P(u_now)
 *   STANDBY:  ΔP = P(d/cap) − P_standby          (waking costs P(0) − P_standby,
 *             then the load adds P(d/cap) − P(0)); once a reservation has woken
 *             it, or it runs allocated work (its reservation was confirmed, or the
 *             caller says so), the host is priced like an ON host: no second wake-up.
 * with u clamped to [0, 1] by the model. P is the host's power model
 * (power/model.ts; tables from SPECpower_ssj2008).
 */
export function marginalWatts(d: PreparedDemand, h: HostCursor): number {
  const du = h.capCpu > 0 ? d.cpu / h.capCpu : 0;
  if (h.state === STANDBY && h.resCpu === 0 && h.resMem === 0 && h.allocCpu === 0 && h.allocMem === 0) {
    return h.model.watts(du) - h.model.standbyWatts;
  }
  const u = baselineUtil(h);
  return h.model.watts(u + du) - h.model.watts(u);
}
