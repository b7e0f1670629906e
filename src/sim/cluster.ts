import type { PowerModel } from '../power';
import type { TraceSet } from './traces';

/** One host type of a fleet, expanded to hosts by the scenario. */
export interface HostTypeSpec {
  readonly name: string;
  /** MIPS per core (CloudSim's PE); a single-core workload never gets more than this. */
  readonly coreMips: number;
  readonly cores: number;
  readonly ramMb: number;
  /** Network bandwidth (Mbit/s); half of it carries migrations. */
  readonly bwMbps: number;
  readonly model: PowerModel;
  /** Draw of an empty host (0 = switched off). */
  readonly standbyWatts: number;
  readonly site: string;
  /** Site carbon intensity, gCO2/kWh; NaN = unknown. */
  readonly carbon: number;
  /** Purchase cost of one host (any currency), for capacity planning. */
  readonly cost: number;
}

/** The fleet as flat arrays by host index. */
export interface Fleet {
  readonly n: number;
  readonly typeOf: Int32Array;
  readonly types: readonly HostTypeSpec[];
  readonly coreMips: Float64Array;
  readonly total: Float64Array;
  readonly ramMb: Float64Array;
  readonly bwMbps: Float64Array;
  readonly models: readonly PowerModel[];
  readonly standby: Float64Array;
  readonly carbon: Float64Array;
}

/**
 * Expands host types × counts into a fleet. `interleave` orders hosts round
 * robin over the types (CloudSim's PlanetLab fleet: host i has type i mod 2);
 * otherwise all hosts of the first type come first.
 */
export function buildFleet(entries: readonly { type: HostTypeSpec; count: number }[], interleave = true): Fleet {
  const order: number[] = [];
  if (interleave) {
    const left = entries.map((e) => e.count);
    for (let more = true; more; ) {
      more = false;
      for (let t = 0; t < entries.length; t++) {
        if (left[t] > 0) {
          order.push(t);
          left[t]--;
          more = true;
        }
      }
    }
  } else {
    entries.forEach((e, t) => {
      for (let i = 0; i < e.count; i++) order.push(t);
    });
  }
  const n = order.length;
  const types = entries.map((e) => e.type);
  const f = {
    n,
    typeOf: Int32Array.from(order),
    types,
    coreMips: new Float64Array(n),
    total: new Float64Array(n),
    ramMb: new Float64Array(n),
    bwMbps: new Float64Array(n),
    models: new Array<PowerModel>(n),
    standby: new Float64Array(n),
    carbon: new Float64Array(n),
  };
  for (let h = 0; h < n; h++) {
    const t = types[order[h]];
    f.coreMips[h] = t.coreMips;
    f.total[h] = t.coreMips * t.cores;
    f.ramMb[h] = t.ramMb;
    f.bwMbps[h] = t.bwMbps;
    f.models[h] = t.model;
    f.standby[h] = t.standbyWatts;
    f.carbon[h] = t.carbon;
  }
  return f;
}

/** A workload type: peak CPU and RAM size, assigned to traces that do not carry them. */
export interface WorkloadTypeSpec {
  readonly mips: number;
  readonly ramMb: number;
}

/** The CloudSim PlanetLab VM types: (MIPS, RAM MB). */
export const CLOUDSIM_VM_TYPES: readonly WorkloadTypeSpec[] = [
  { mips: 2500, ramMb: 870 },
  { mips: 2000, ramMb: 1740 },
  { mips: 1000, ramMb: 1740 },
  { mips: 500, ramMb: 613 },
];

/** Workloads ready to simulate. */
export interface Workloads {
  readonly n: number;
  readonly ids: readonly string[];
  readonly steps: number;
  readonly util: Float64Array;
  readonly mips: Float64Array;
  readonly ramMb: Float64Array;
  readonly memMb: Float64Array;
  readonly arrival: Int32Array;
  readonly departure: Int32Array;
}

/**
 * Fills in what the trace does not carry from the workload types: VM i of n
 * gets type ⌊i / ⌈n / T⌉⌋ (CloudSim's assignment).
 */
export function assignTypes(t: TraceSet, types: readonly WorkloadTypeSpec[]): Workloads {
  const n = t.ids.length;
  const per = Math.ceil(n / Math.max(1, types.length));
  const mips = Float64Array.from(t.mips);
  const ram = Float64Array.from(t.ramMb);
  for (let v = 0; v < n; v++) {
    const ty = types.length ? types[Math.min(types.length - 1, Math.floor(v / per))] : undefined;
    if (Number.isNaN(mips[v])) {
      if (!ty) throw new Error(`workload ${t.ids[v]} has no peak CPU and no workload types are given`);
      mips[v] = ty.mips;
    }
    if (Number.isNaN(ram[v])) ram[v] = ty ? ty.ramMb : t.memMb[v];
  }
  return { n, ids: t.ids, steps: t.steps, util: t.util, mips, ramMb: ram, memMb: t.memMb, arrival: t.arrival, departure: t.departure };
}
