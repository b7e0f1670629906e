/** Wire (wattplace.v1 protobuf) ↔ domain. Errors name the field as the client spelled it. */
import {
  cpuMillis,
  DEFAULT_SITE,
  epochMs,
  gramsPerKwh,
  memBytes,
  PowerState,
  ValidationError,
  watts,
  type Candidate,
  type HostSample,
  type HostScore,
  type HostSpec,
  type PowerModelSpec,
  type Rejection,
  type Resources,
  type SiteCarbon,
  type Workload,
} from '../domain';
import * as pb from '../gen/wattplace/v1/wattplace';

const MAX_ID = 253;

/** An int64 from the wire as a safe JS number; bigint beyond 2^53 or negative is refused. */
export function toCount(v: bigint | undefined, field: string): number {
  const b = v ?? 0n;
  if (b < 0n) throw new ValidationError(field, `must be ≥ 0, got ${b}`);
  if (b > BigInt(Number.MAX_SAFE_INTEGER)) throw new ValidationError(field, `too large: ${b}`);
  return Number(b);
}

/** Lenient int64 → number for per-sample data (validation rejects the sample, not the batch). */
const looseNumber = (v: bigint | undefined): number => (v === undefined ? 0 : Number(v));

export function resourcesFromPb(r: pb.Resources | undefined, field: string): Resources {
  if (!r) throw new ValidationError(field, 'required');
  return { cpuMillis: cpuMillis(toCount(r.cpuMillis, `${field}.cpu_millis`)), memBytes: memBytes(toCount(r.memBytes, `${field}.mem_bytes`)) };
}

function checkId(id: string, field: string): string {
  if (!id) throw new ValidationError(field, 'required');
  if (id.length > MAX_ID) throw new ValidationError(field, `at most ${MAX_ID} characters, got ${id.length}`);
  return id;
}

export function powerFromPb(p: pb.PowerModel | undefined, field: string): PowerModelSpec {
  if (!p) throw new ValidationError(field, 'required');
  const standbyWatts = p.standbyWatts;
  const m = p.model;
  switch (m?.$case) {
    case 'linear':
      return { kind: 'linear', idleWatts: m.linear.idleWatts, maxWatts: m.linear.maxWatts, standbyWatts };
    case 'table':
      return { kind: 'table', watts: m.table.watts, standbyWatts };
    case 'exponential':
      return { kind: 'exponential', k0: m.exponential.k0, k1: m.exponential.k1, k2: m.exponential.k2, standbyWatts };
    default:
      throw new ValidationError(`${field}.model`, 'required: one of linear, table, exponential');
  }
}

export function stateFromPb(s: pb.PowerState, field: string): PowerState {
  switch (s) {
    case pb.PowerState.POWER_STATE_UNSPECIFIED:
    case pb.PowerState.POWER_STATE_ON:
      return PowerState.ON;
    case pb.PowerState.POWER_STATE_STANDBY:
      return PowerState.STANDBY;
    case pb.PowerState.POWER_STATE_MAINTENANCE:
      return PowerState.MAINTENANCE;
    default:
      throw new ValidationError(field, `unknown power state ${s}`);
  }
}

export function stateToPb(s: PowerState): pb.PowerState {
  return s === PowerState.ON ? pb.PowerState.POWER_STATE_ON : s === PowerState.STANDBY ? pb.PowerState.POWER_STATE_STANDBY : pb.PowerState.POWER_STATE_MAINTENANCE;
}

export function hostFromPb(h: pb.Host, field: string): HostSpec {
  const id = checkId(h.id, `${field}.id`);
  const capacity = resourcesFromPb(h.capacity, `${field}.capacity`);
  if (capacity.cpuMillis <= 0) throw new ValidationError(`${field}.capacity.cpu_millis`, `must be > 0, got ${capacity.cpuMillis}`);
  if (capacity.memBytes <= 0) throw new ValidationError(`${field}.capacity.mem_bytes`, `must be > 0, got ${capacity.memBytes}`);
  return {
    id,
    site: h.site || DEFAULT_SITE,
    capacity,
    power: powerFromPb(h.power, `${field}.power`),
    state: stateFromPb(h.state, `${field}.state`),
    labels: { ...h.labels },
  };
}

export function powerSpecToPb(p: PowerModelSpec): pb.PowerModel {
  const model: pb.PowerModel['model'] =
    p.kind === 'linear'
      ? { $case: 'linear', linear: { idleWatts: p.idleWatts, maxWatts: p.maxWatts } }
      : p.kind === 'table'
        ? { $case: 'table', table: { watts: [...p.watts] } }
        : { $case: 'exponential', exponential: { k0: p.k0, k1: p.k1, k2: p.k2 } };
  return { model, standbyWatts: p.standbyWatts };
}

export function hostToPb(h: HostSpec): pb.Host {
  return {
    id: h.id,
    site: h.site,
    capacity: { cpuMillis: BigInt(h.capacity.cpuMillis), memBytes: BigInt(h.capacity.memBytes) },
    power: powerSpecToPb(h.power),
    state: stateToPb(h.state),
    labels: { ...h.labels },
  };
}

/** Per-sample conversion never throws: a bad value becomes NaN and the sample is rejected with its reason. */
export function sampleFromPb(s: pb.HostSample): HostSample {
  const t = s.time ? s.time.getTime() : NaN;
  return {
    hostId: s.hostId,
    time: epochMs(t),
    watts: watts(s.watts),
    cpuUtil: s.cpuUtil,
    memUtil: s.memUtil,
    allocated: s.allocated ? { cpuMillis: cpuMillis(looseNumber(s.allocated.cpuMillis)), memBytes: memBytes(looseNumber(s.allocated.memBytes)) } : undefined,
  };
}

export function carbonFromPb(c: pb.SiteCarbon): SiteCarbon {
  return { site: c.site, time: epochMs(c.time ? c.time.getTime() : NaN), gramsCo2PerKwh: gramsPerKwh(c.gramsCo2PerKwh) };
}

export function workloadFromPb(w: pb.Workload | undefined, field: string): Workload {
  if (!w) throw new ValidationError(field, 'required');
  return { id: w.id, demand: resourcesFromPb(w.demand, `${field}.demand`), selector: { ...w.selector } };
}

export function candidatesFromPb(cs: pb.Candidate[]): Candidate[] {
  return cs.map((c, i) => ({
    hostId: c.hostId,
    allocated: c.allocated ? resourcesFromPb(c.allocated, `candidates[${i}].allocated`) : undefined,
    // 0 (unset on the wire) means the server default; anything else, NaN included, is checked
    cpuAllocationRatio: c.cpuAllocationRatio === 0 ? undefined : c.cpuAllocationRatio,
    memAllocationRatio: c.memAllocationRatio === 0 ? undefined : c.memAllocationRatio,
  }));
}

export const hostScoreToPb = (s: HostScore): pb.HostScore => ({ hostId: s.hostId, marginalWatts: s.marginalWatts, score: s.score });
export const rejectionToPb = (r: Rejection): pb.Rejection => ({ hostId: r.hostId, reason: r.reason });
