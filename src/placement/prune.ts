import { PowerState } from '../domain';
import type { ClusterSnapshot } from '../telemetry/snapshot';
import type { PlacementConfig } from './types';

/**
 * Hosts in ascending order of a lower bound on their weighted marginal power
 * per millicore, so that Place can stop scanning once no host left can beat
 * the ones it holds.
 *
 * For a feasible host the ceiling filter guarantees b + Δ ≤ c, where b is the
 * host's power baseline (measured utilization plus its reservations; for a
 * host that never reported, its allocation), Δ = d / cap and c the ceiling.
 * With u0 ≤ b the host's snapshot baseline (0 for STANDBY: waking only adds
 * P(0) − P_standby ≥ 0), for any reservations added since:
 *   ΔP·f = (P(b + Δ) − P(b))·f ≥ Δ · minSlope(u0, c) · f = d · key,
 *   key = minSlope(u0, c) · f / cap,        f = the carbon factor (1 unweighted)
 * Reservations only raise b, so the bound holds for the whole life of the
 * snapshot. A host that never reported under an allocation ratio above 1 may
 * be priced past u = 1 where P is flat, so it gets key 0 (always examined); a
 * host already above the ceiling cannot take any positive demand and goes last,
 * and so does a draining host, which takes nothing (the Draining filter): the
 * bound only has to hold for hosts that can be feasible.
 */
export interface PruneOrder {
  /** Host indices, ascending key. */
  readonly order: Int32Array;
  /** key per position, rounded down (a lower bound stays a lower bound). */
  readonly key: Float64Array;
}

const STANDBY: number = PowerState.STANDBY;

export function buildPruneOrder(s: ClusterSnapshot, cfg: PlacementConfig): PruneOrder {
  const n = s.size;
  const c = cfg.cpuCeiling;
  // Each key's low 32 mantissa bits are replaced by the host index, so one native
  // numeric sort of a Float64Array orders hosts by key (non-negative doubles sort
  // like their bit patterns) without a comparator; clearing the bits rounds the
  // positive key down by at most 2^-20 of itself, which keeps it a lower bound.
  const packed = new Float64Array(n);
  const words = new Uint32Array(packed.buffer);
  for (let h = 0; h < n; h++) {
    let key: number;
    const cap = s.capCpu[h];
    const meas = s.cpuUtil[h];
    const reported = meas === meas;
    if (s.draining[h] !== 0) key = Number.MAX_VALUE;
    else if (!reported && cfg.cpuAllocationRatio > 1) key = 0;
    else {
      const u0 = s.state[h] === STANDBY ? 0 : reported ? meas : s.allocCpu[h] / cap;
      if (u0 > c + 1e-9) key = Number.MAX_VALUE;
      else {
        let f = 1;
        if (cfg.carbonWeighting) {
          const i = s.siteCarbon[s.siteIndex[h]];
          f = (i === i ? i : cfg.defaultCarbonIntensity) / 1000;
        }
        key = (s.models[h].minSlope(u0, c) * f) / cap;
        if (!(key > 0)) key = 0; // NaN or −0 never reaches the sort
        else if (key > Number.MAX_VALUE) key = Number.MAX_VALUE;
      }
    }
    packed[h] = key;
    words[2 * h] = h; // little-endian: the low word of the double
  }
  packed.sort();
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = words[2 * i];
  // Undo the index bits for the key itself: clear them (round down).
  for (let i = 0; i < n; i++) words[2 * i] = 0;
  return { order, key: packed };
}
