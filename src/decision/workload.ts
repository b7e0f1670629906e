import { checkLabels, checkName, MAX_SELECTOR_ENTRIES, ValidationError, type Candidate, type Workload } from '../domain';

/** Checks a workload as any adapter delivers it; errors name the field under `field`. */
export function checkWorkload(w: Workload | undefined, field = 'workload'): Workload {
  if (!w) throw new ValidationError(field, 'required');
  if (typeof w.id !== 'string') throw new ValidationError(`${field}.id`, 'must be a string');
  if (!w.demand) throw new ValidationError(`${field}.demand`, 'required');
  const { cpuMillis, memBytes } = w.demand;
  if (!Number.isSafeInteger(cpuMillis) || cpuMillis < 0) {
    throw new ValidationError(`${field}.demand.cpu_millis`, `must be a whole number ≥ 0, got ${cpuMillis}`);
  }
  if (!Number.isSafeInteger(memBytes) || memBytes < 0) {
    throw new ValidationError(`${field}.demand.mem_bytes`, `must be a whole number ≥ 0, got ${memBytes}`);
  }
  checkName(w.id, `${field}.id`);
  checkLabels(w.selector ?? {}, `${field}.selector`, MAX_SELECTOR_ENTRIES);
  return w;
}

export function checkCandidate(c: Candidate, field: string): void {
  if (!c.hostId) throw new ValidationError(`${field}.host_id`, 'required');
  checkName(c.hostId, `${field}.host_id`);
  if (c.allocated) {
    if (!Number.isSafeInteger(c.allocated.cpuMillis) || c.allocated.cpuMillis < 0) {
      throw new ValidationError(`${field}.allocated.cpu_millis`, `must be a whole number ≥ 0, got ${c.allocated.cpuMillis}`);
    }
    if (!Number.isSafeInteger(c.allocated.memBytes) || c.allocated.memBytes < 0) {
      throw new ValidationError(`${field}.allocated.mem_bytes`, `must be a whole number ≥ 0, got ${c.allocated.memBytes}`);
    }
  }
  checkRatio(c.cpuAllocationRatio, field, 'cpu_allocation_ratio');
  checkRatio(c.memAllocationRatio, field, 'mem_allocation_ratio');
}

function checkRatio(v: number | undefined, field: string, key: string): void {
  if (v !== undefined && !(Number.isFinite(v) && v >= 0 && v <= 1000)) throw new ValidationError(`${field}.${key}`, `must be within 0–1000 (0 = server default), got ${v}`);
}
