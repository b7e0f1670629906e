import type { Assignment, Problem } from './problem';

export interface Step {
  readonly workload: number;
  readonly from: number;
  readonly to: number;
}

export interface OrderedPlan {
  /** Live migrations in execution order. */
  readonly steps: Step[];
  /** Where every workload is after the steps (the target, less any dropped move). */
  readonly final: Assignment;
  /** Moves of the target that no order can make without over-committing a host at some step (they stay put). */
  readonly dropped: number[];
}

const EPS = 1e-6;

/**
 * Orders the moves from `from` to `to` so that every step keeps every host
 * within capacity and the ceiling. During a live migration the workload holds
 * resources on both hosts, so a step needs room on its target with the source
 * still loaded; its source frees the resources only when the step is done.
 * Moves whose target has room run first (those that leave a host entirely first
 * among them); a move waiting on room that never comes (a cycle of full hosts)
 * is dropped, and the plan ends in the state its steps reach — always a valid one.
 */
export function orderMigrations(p: Problem, from: Assignment, to: Assignment): OrderedPlan {
  const nh = p.hosts.length;
  const cpu = new Float64Array(nh);
  const mem = new Float64Array(nh);
  const count = new Int32Array(nh);
  const targetCount = new Int32Array(nh);
  for (let w = 0; w < from.length; w++) {
    const h = from[w];
    if (h >= 0) {
      cpu[h] += p.workloads[w].cpu;
      mem[h] += p.workloads[w].mem;
      count[h]++;
    }
    if (to[w] >= 0) targetCount[to[w]]++;
  }
  const lim = (h: number) => Math.min(p.hosts[h].cpuFree, p.hosts[h].cpuCeilingFree);
  let pending: number[] = [];
  for (let w = 0; w < from.length; w++) if (to[w] >= 0 && from[w] >= 0 && to[w] !== from[w]) pending.push(w);
  // sources that end empty first, then larger workloads first (they are the hardest to fit later)
  pending.sort((a, b) => targetCount[from[a]] - targetCount[from[b]] || p.workloads[b].cpu - p.workloads[a].cpu || a - b);
  const steps: Step[] = [];
  const final = Int32Array.from(from);
  for (;;) {
    let progress = false;
    const rest: number[] = [];
    for (const w of pending) {
      const t = to[w];
      const wl = p.workloads[w];
      if (cpu[t] + wl.cpu <= lim(t) + EPS && mem[t] + wl.mem <= p.hosts[t].memFree + EPS) {
        const s = final[w];
        cpu[t] += wl.cpu;
        mem[t] += wl.mem;
        count[t]++;
        cpu[s] -= wl.cpu;
        mem[s] -= wl.mem;
        count[s]--;
        final[w] = t;
        steps.push({ workload: w, from: s, to: t });
        progress = true;
      } else rest.push(w);
    }
    pending = rest;
    if (!progress || pending.length === 0) break;
  }
  return { steps, final, dropped: pending };
}
