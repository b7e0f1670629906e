import type { HostSample, SiteCarbon } from '../domain';

/** Why one sample was refused: the field (relative to the sample) and the problem. */
export interface SampleProblem {
  readonly field: string;
  readonly reason: string;
}

export interface SampleLimits {
  /** Samples stamped more than this far in the future are rejected. */
  readonly maxClockSkewMs: number;
}

const isUtil = (v: number): boolean => v >= 0 && v <= 1; // false for NaN

/**
 * Checks one sample's own fields and its time against the host's last accepted
 * sample (`lastMs`, NaN when none). Returns null when the sample is acceptable.
 */
export function checkSample(s: HostSample, lastMs: number, nowMs: number, limits: SampleLimits): SampleProblem | null {
  if (!s.hostId) return { field: 'host_id', reason: 'required' };
  if (!Number.isFinite(s.time)) return { field: 'time', reason: 'required' };
  if (s.time > nowMs + limits.maxClockSkewMs) {
    return { field: 'time', reason: `in the future: ${s.time - nowMs} ms ahead of the server clock (allowed skew ${limits.maxClockSkewMs} ms)` };
  }
  if (s.time <= lastMs) {
    return { field: 'time', reason: `out of order: ${new Date(s.time).toISOString()} is not after the last accepted sample ${new Date(lastMs).toISOString()}` };
  }
  if (!Number.isFinite(s.watts)) return { field: 'watts', reason: 'must be a finite number' };
  if (s.watts < 0) return { field: 'watts', reason: `must be ≥ 0, got ${s.watts}` };
  if (!isUtil(s.cpuUtil)) return { field: 'cpu_util', reason: `must be within 0–1, got ${s.cpuUtil}` };
  if (!isUtil(s.memUtil)) return { field: 'mem_util', reason: `must be within 0–1, got ${s.memUtil}` };
  if (s.allocated) {
    const { cpuMillis, memBytes } = s.allocated;
    if (!(cpuMillis >= 0) || !Number.isSafeInteger(cpuMillis)) return { field: 'allocated.cpu_millis', reason: `must be a whole number ≥ 0, got ${cpuMillis}` };
    if (!(memBytes >= 0) || !Number.isSafeInteger(memBytes)) return { field: 'allocated.mem_bytes', reason: `must be a whole number ≥ 0, got ${memBytes}` };
  }
  return null;
}

export function checkCarbon(c: SiteCarbon, lastMs: number, nowMs: number, limits: SampleLimits): SampleProblem | null {
  if (!c.site) return { field: 'site', reason: 'required' };
  if (!Number.isFinite(c.time)) return { field: 'time', reason: 'required' };
  if (c.time > nowMs + limits.maxClockSkewMs) return { field: 'time', reason: `in the future: ${c.time - nowMs} ms ahead of the server clock` };
  if (c.time <= lastMs) return { field: 'time', reason: 'out of order: not after the last accepted value for this site' };
  if (!(c.gramsCo2PerKwh >= 0) || !Number.isFinite(c.gramsCo2PerKwh)) {
    return { field: 'grams_co2_per_kwh', reason: `must be a finite number ≥ 0, got ${c.gramsCo2PerKwh}` };
  }
  return null;
}
