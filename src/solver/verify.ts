import { PowerState } from '../domain';
import type { Problem } from './problem';

export interface Violation {
  readonly kind: 'assignment' | 'cpu-capacity' | 'ceiling' | 'mem-capacity' | 'selector' | 'maintenance' | 'migrations';
  readonly message: string;
}

export interface VerifyOptions {
  /** Workloads that may stay unplaced (known not to fit anywhere); every other one must be placed exactly once. */
  readonly mayBeUnplaced?: ReadonlySet<number>;
}

/** Absolute slack on capacity sums: loads are whole millicores and bytes, so this only absorbs float noise. */
const TOL = 1e-6;

/**
 * Independent check of every constraint, from the raw problem (shares no code
 * with the solvers): `pairs` lists (workload index, host index) as a solver
 * claims them, so a workload named twice or never is caught as well.
 * Returns every violation found; an empty list means the answer is feasible.
 */
export function verifyPairs(p: Problem, pairs: readonly (readonly [number, number])[], opts: VerifyOptions = {}): Violation[] {
  const out: Violation[] = [];
  const nh = p.hosts.length;
  const nw = p.workloads.length;
  const times = new Int32Array(nw);
  const hostOf = new Int32Array(nw).fill(-1);
  for (const [w, h] of pairs) {
    if (!Number.isInteger(w) || w < 0 || w >= nw) {
      out.push({ kind: 'assignment', message: `unknown workload index ${w}` });
      continue;
    }
    if (!Number.isInteger(h) || h < 0 || h >= nh) {
      out.push({ kind: 'assignment', message: `workload ${p.workloads[w].id} on unknown host index ${h}` });
      continue;
    }
    times[w]++;
    hostOf[w] = h;
  }
  const cpu = new Float64Array(nh);
  const mem = new Float64Array(nh);
  let migrations = 0;
  for (let w = 0; w < nw; w++) {
    const wl = p.workloads[w];
    if (times[w] > 1) out.push({ kind: 'assignment', message: `workload ${wl.id} placed ${times[w]} times` });
    if (times[w] === 0) {
      if (!opts.mayBeUnplaced?.has(w)) out.push({ kind: 'assignment', message: `workload ${wl.id} not placed` });
      continue;
    }
    const h = hostOf[w];
    const host = p.hosts[h];
    cpu[h] += wl.cpu;
    mem[h] += wl.mem;
    for (const k of Object.keys(wl.selector)) {
      if (host.labels[k] !== wl.selector[k]) {
        out.push({ kind: 'selector', message: `workload ${wl.id} needs ${k}=${wl.selector[k]}, host ${host.id} has ${host.labels[k] ?? 'no such label'}` });
        break;
      }
    }
    if (host.state === PowerState.MAINTENANCE && wl.current !== h) {
      out.push({ kind: 'maintenance', message: `workload ${wl.id} moved onto host ${host.id}, which is in MAINTENANCE` });
    }
    if (wl.current >= 0 && wl.current !== h) migrations++;
  }
  for (let h = 0; h < nh; h++) {
    const host = p.hosts[h];
    if (cpu[h] > host.cpuFree + TOL) out.push({ kind: 'cpu-capacity', message: `host ${host.id}: cpu ${cpu[h]}m > free ${host.cpuFree}m` });
    if (cpu[h] > host.cpuCeilingFree + TOL) out.push({ kind: 'ceiling', message: `host ${host.id}: cpu ${cpu[h]}m > ${host.cpuCeilingFree}m allowed under the ceiling` });
    if (mem[h] > host.memFree + TOL) out.push({ kind: 'mem-capacity', message: `host ${host.id}: memory ${mem[h]} B > free ${host.memFree} B` });
  }
  if (migrations > p.maxMigrations) out.push({ kind: 'migrations', message: `${migrations} migrations > budget ${p.maxMigrations}` });
  return out;
}

/** verifyPairs for an assignment array (host index per workload, −1 = unplaced). */
export function verify(p: Problem, a: ArrayLike<number>, opts: VerifyOptions = {}): Violation[] {
  const pairs: [number, number][] = [];
  if (a.length !== p.workloads.length) return [{ kind: 'assignment', message: `assignment has ${a.length} entries for ${p.workloads.length} workloads` }];
  for (let w = 0; w < a.length; w++) if (a[w] !== -1) pairs.push([w, a[w]]);
  return verifyPairs(p, pairs, opts);
}

/**
 * Replays a migration plan from `from` and checks it step by step: each step
 * moves a workload from the host it is on; while it runs, the workload counts on
 * both hosts, and at that moment every host that receives load must be within
 * capacity, ceiling and memory. Hosts already over a limit before the plan may
 * only lose load. Returns the violations (empty = executable in order).
 */
export function verifyPlan(p: Problem, from: ArrayLike<number>, steps: readonly { workload: number; from: number; to: number }[]): Violation[] {
  const out: Violation[] = [];
  const nh = p.hosts.length;
  const cpu = new Float64Array(nh);
  const mem = new Float64Array(nh);
  const at = Int32Array.from(from as ArrayLike<number>);
  for (let w = 0; w < at.length; w++) {
    if (at[w] >= 0) {
      cpu[at[w]] += p.workloads[w].cpu;
      mem[at[w]] += p.workloads[w].mem;
    }
  }
  let migrations = 0;
  steps.forEach((s, i) => {
    const wl = p.workloads[s.workload];
    if (!wl) {
      out.push({ kind: 'assignment', message: `step ${i}: unknown workload ${s.workload}` });
      return;
    }
    if (at[s.workload] !== s.from) out.push({ kind: 'assignment', message: `step ${i}: ${wl.id} is not on host index ${s.from}` });
    const t = p.hosts[s.to];
    if (!t) {
      out.push({ kind: 'assignment', message: `step ${i}: unknown host index ${s.to}` });
      return;
    }
    if (t.state === PowerState.MAINTENANCE) out.push({ kind: 'maintenance', message: `step ${i}: ${wl.id} onto ${t.id}, which is in MAINTENANCE` });
    if (Object.keys(wl.selector).some((k) => t.labels[k] !== wl.selector[k])) out.push({ kind: 'selector', message: `step ${i}: ${wl.id} does not match ${t.id}` });
    cpu[s.to] += wl.cpu;
    mem[s.to] += wl.mem;
    if (cpu[s.to] > t.cpuFree + TOL) out.push({ kind: 'cpu-capacity', message: `step ${i}: host ${t.id} cpu ${cpu[s.to]}m > ${t.cpuFree}m` });
    if (cpu[s.to] > t.cpuCeilingFree + TOL) out.push({ kind: 'ceiling', message: `step ${i}: host ${t.id} cpu ${cpu[s.to]}m > ${t.cpuCeilingFree}m under the ceiling` });
    if (mem[s.to] > t.memFree + TOL) out.push({ kind: 'mem-capacity', message: `step ${i}: host ${t.id} memory ${mem[s.to]} B > ${t.memFree} B` });
    if (s.from >= 0) {
      cpu[s.from] -= wl.cpu;
      mem[s.from] -= wl.mem;
    }
    at[s.workload] = s.to;
    migrations++;
  });
  if (migrations > p.maxMigrations) out.push({ kind: 'migrations', message: `${migrations} migrations > budget ${p.maxMigrations}` });
  return out;
}
