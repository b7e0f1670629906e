import type { HostSpec } from '../domain';
import type { PowerModel } from '../power';

/**
 * A read-only, point-in-time view of the cluster, laid out as flat typed
 * arrays indexed by host index (stable for the life of the process). The hot
 * path reads it without locks or I/O; the collector replaces it wholesale.
 */
export interface ClusterSnapshot {
  /** Increases with every rebuild. */
  readonly version: number;
  /** Number of hosts; every array below has at least this many entries. */
  readonly size: number;
  readonly ids: readonly string[];
  readonly specs: readonly HostSpec[];
  readonly models: readonly PowerModel[];
  /** Index into `sites` per host. */
  readonly siteIndex: Int32Array;
  readonly sites: readonly string[];
  /** Latest carbon intensity per site index, gCO2/kWh; NaN when never reported. */
  readonly siteCarbon: Float64Array;
  readonly capCpu: Float64Array;
  readonly capMem: Float64Array;
  /** PowerState per host. */
  readonly state: Uint8Array;
  /** 1 for a host being drained for STANDBY (it takes nothing new), else 0. */
  readonly draining: Uint8Array;
  /** Time of the latest accepted sample, epoch ms; NaN when the host never reported. */
  readonly lastSampleMs: Float64Array;
  /** Latest measured values; NaN when never reported. */
  readonly cpuUtil: Float64Array;
  readonly memUtil: Float64Array;
  readonly watts: Float64Array;
  /** Latest allocation the orchestrator reported; 0 when never reported. */
  readonly allocCpu: Float64Array;
  readonly allocMem: Float64Array;
  indexOf(hostId: string): number;
  /** The host whose id is the UTF-8 text b[start..end) (e.g. a name inside a request body), or −1. */
  indexOfUtf8(b: Uint8Array, start: number, end: number): number;
}
