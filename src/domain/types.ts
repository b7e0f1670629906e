import type { CpuMillis, EpochMs, GramsPerKwh, MemBytes, Watts } from './units';

export interface Resources {
  readonly cpuMillis: CpuMillis;
  readonly memBytes: MemBytes;
}

export enum PowerState {
  ON = 1,
  STANDBY = 2,
  MAINTENANCE = 3,
}

export function powerStateName(s: PowerState): string {
  return s === PowerState.ON ? 'ON' : s === PowerState.STANDBY ? 'STANDBY' : 'MAINTENANCE';
}

/** Declarative power model, as registered. `power/` turns it into a PowerModel. */
export type PowerModelSpec =
  | { readonly kind: 'linear'; readonly idleWatts: number; readonly maxWatts: number; readonly standbyWatts: number }
  | { readonly kind: 'table'; readonly watts: readonly number[]; readonly standbyWatts: number }
  | { readonly kind: 'exponential'; readonly k0: number; readonly k1: number; readonly k2: number; readonly standbyWatts: number };

export const DEFAULT_SITE = 'default';

export interface HostSpec {
  readonly id: string;
  readonly site: string;
  readonly capacity: Resources;
  readonly power: PowerModelSpec;
  readonly state: PowerState;
  readonly labels: Readonly<Record<string, string>>;
}

export interface HostSample {
  readonly hostId: string;
  readonly time: EpochMs;
  readonly watts: Watts;
  readonly cpuUtil: number;
  readonly memUtil: number;
  /** What the orchestrator has allocated on the host, when it reports it. */
  readonly allocated?: Resources;
}

export interface SiteCarbon {
  readonly site: string;
  readonly time: EpochMs;
  readonly gramsCo2PerKwh: GramsPerKwh;
}

export interface Workload {
  readonly id: string;
  readonly demand: Resources;
  /** Host labels that must match exactly. */
  readonly selector: Readonly<Record<string, string>>;
}

/** A host the caller allows, optionally with its own view of the allocation. */
export interface Candidate {
  readonly hostId: string;
  readonly allocated?: Resources;
  readonly cpuAllocationRatio?: number;
  readonly memAllocationRatio?: number;
}

export interface HostScore {
  readonly hostId: string;
  readonly marginalWatts: Watts;
  /** Higher is better. */
  readonly score: number;
}

export interface Rejection {
  readonly hostId: string;
  readonly reason: string;
}
