import type { PowerModel } from '../power';

/** Service-wide placement settings. */
export interface PlacementConfig {
  /** Highest CPU utilization a host may reach after placement (default 0.8). */
  readonly cpuCeiling: number;
  /** Overcommit: schedulable CPU = capacity × ratio (callers may override per candidate). */
  readonly cpuAllocationRatio: number;
  readonly memAllocationRatio: number;
  /** A host whose latest sample is older than this is stale. */
  readonly staleAfterMs: number;
  /** Weight marginal watts by the site's carbon intensity. */
  readonly carbonWeighting: boolean;
  /** Intensity assumed for a site that never reported one, gCO2/kWh. */
  readonly defaultCarbonIntensity: number;
}

export const DEFAULT_PLACEMENT_CONFIG: PlacementConfig = {
  cpuCeiling: 0.8,
  cpuAllocationRatio: 1,
  memAllocationRatio: 1,
  staleAfterMs: 60_000,
  carbonWeighting: false,
  defaultCarbonIntensity: 400,
};

/** The request, prepared once: everything per-host code needs, and nothing it must recompute. */
export interface PreparedDemand {
  readonly workloadId: string;
  readonly cpu: number;
  readonly mem: number;
  readonly selectorKeys: readonly string[];
  readonly selectorValues: readonly string[];
  readonly allowStale: boolean;
  readonly nowMs: number;
  readonly config: PlacementConfig;
}

/**
 * One host as plugins see it. The runner owns a single cursor per request and
 * refills it for each host, so plugins allocate nothing and stay pure
 * functions of (demand, host).
 */
export interface HostCursor {
  index: number;
  capCpu: number;
  capMem: number;
  /** Allocation: the caller's view when it sent one, else the latest report. */
  allocCpu: number;
  allocMem: number;
  /** Open reservations on the host. */
  resCpu: number;
  resMem: number;
  cpuRatio: number;
  memRatio: number;
  /** Latest measured CPU utilization; NaN when the host never reported. */
  measCpu: number;
  /** Epoch ms of the latest sample; NaN when never. */
  lastMs: number;
  state: number;
  /** 1 while the host is being drained for STANDBY, else 0. */
  draining: number;
  model: PowerModel;
  labels: Readonly<Record<string, string>>;
  /** Site carbon intensity, NaN when unknown. */
  carbon: number;
}

/**
 * A filter returns 0 when the host passes, or a non-zero code of its own. An
 * expected rejection is a value, never an exception; `explain` turns the code
 * into the reason text, and is only called for hosts that were rejected.
 */
export interface FilterPlugin {
  readonly name: string;
  filter(d: PreparedDemand, host: HostCursor): number;
  explain(code: number, d: PreparedDemand, host: HostCursor): string;
}

export const PASS = 0;
