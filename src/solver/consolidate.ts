import { PowerState } from '../domain';
import { efficiencyOrder } from './heuristic';
import { prepare, type Assignment, type Prepared, type Problem } from './problem';
import type { Step } from './plan';

/** Why a migration of a consolidation plan is made. */
export type MoveReason = 'drain' | 'enable' | 'relief';

export interface PlannedStep extends Step {
  readonly reason: MoveReason;
  /** Host index this move frees ('drain': its source; 'enable': the host whose drain needed the room), −1 for 'relief'. */
  readonly enables: number;
}

export interface DrainPlan {
  /** Live migrations in execution order; every step fits on its target with the workload still on its source. */
  readonly steps: PlannedStep[];
  /** Where every workload is after the steps. */
  readonly final: Assignment;
  /** Moves of the target (workload indices) the plan does not make: a host the target frees that the plan could not free, or a move between hosts that both stay on. */
  readonly notMade: number[];
  /** Of notMade: moves off a host the target frees that could not be ordered there (the host stays on). */
  readonly unordered: number[];
}

export interface DrainOptions {
  readonly maxMigrations: number;
  /** Stop looking for further hosts to free at this time (ms since the epoch); the plan so far stands. */
  readonly deadline?: number;
}

const EPS = 1e-6;
/** Candidate receivers examined per blocked workload when looking for a move that makes room. */
const ENABLE_CANDIDATES = 12;

/**
 * Builds a consolidation plan directly as a sequence of live migrations, so it is
 * orderable by construction: a move is made only when its target has room now,
 * with the workload still counted on its source (live migration), and the source
 * only loses load. Hosts are freed one at a time:
 *
 *  1. relief: a host over a limit at the start sheds its largest workloads until it is within;
 *  2. drain: hosts the target leaves empty first, then every other host, least loaded first;
 *     each workload of the host goes to its target host when that has room, otherwise to the
 *     host left on where it fits tightest (best fit), otherwise one workload there moves on to
 *     a third host to make room ('enable'); when one workload of the host finds no place, every
 *     move of that host is undone and the host stays on;
 *  3. a host is freed only when it saves more watts than the migrations cost
 *     (migrationWatts each), and only within the migration budget; passes repeat until
 *     no host can be freed.
 *
 * Moves between hosts that both stay on are never made except to make room ('enable'), so a
 * plan has no pointless migrations. Everything is in index order: the same problem, target and
 * options give the same plan (the deadline only cuts the search short on a machine too busy to
 * finish it).
 */
export function planDrain(p: Problem, from: Assignment, target: Assignment | null, opts: DrainOptions): DrainPlan {
  const pp = prepare(p);
  const { nh, nw } = pp;
  const at = Int32Array.from(from);
  const cpu = new Float64Array(nh);
  const mem = new Float64Array(nh);
  const count = new Int32Array(nh);
  // Measured view: measured CPU per host (NaN = not reported, not checked) and each workload's share of it.
  const meas = Float64Array.from(p.hosts, (x) => (x.measuredCpu !== undefined && Number.isFinite(x.measuredCpu) ? x.measuredCpu : NaN));
  const measLim = Float64Array.from(p.hosts, (x) => x.measuredLimit ?? Infinity);
  const wMeas = Float64Array.from(p.workloads, (x) => x.measuredCpu ?? 0);
  const onHost: Set<number>[] = Array.from({ length: nh }, () => new Set<number>());
  for (let w = 0; w < nw; w++) {
    const h = at[w];
    if (h < 0) continue;
    cpu[h] += pp.cpu[w];
    mem[h] += pp.mem[w];
    count[h]++;
    onHost[h].add(w);
  }
  const tCount = new Int32Array(nh);
  if (target) for (let w = 0; w < nw; w++) if (target[w] >= 0) tCount[target[w]]++;
  const size = new Float64Array(nw);
  for (let w = 0; w < nw; w++) {
    const h = from[w] >= 0 ? from[w] : 0;
    size[w] = Math.max(pp.cpu[w] / Math.max(pp.cpuLim[h], 1), pp.mem[w] / Math.max(pp.memLim[h], 1));
  }
  const steps: PlannedStep[] = [];
  const frozen = (h: number) => p.hosts[h].state === PowerState.MAINTENANCE;
  /** Hosts that may receive: on now (something on it or cannot go to STANDBY), or opened by the target. */
  const receiver = new Uint8Array(nh);
  for (let h = 0; h < nh; h++) receiver[h] = !frozen(h) && (count[h] > 0 || !p.hosts[h].canStandby || tCount[h] > 0) ? 1 : 0;
  const closed = new Uint8Array(nh); // being drained or freed: takes nothing
  const fits = (w: number, g: number) =>
    pp.allowed[w * nh + g] === 1 &&
    cpu[g] + pp.cpu[w] <= pp.cpuLim[g] + EPS &&
    mem[g] + pp.mem[w] <= pp.memLim[g] + EPS &&
    !(meas[g] + wMeas[w] > measLim[g] + EPS); // NaN (not measured) passes
  const move = (w: number, to: number, reason: MoveReason, enables: number) => {
    const s = at[w];
    cpu[to] += pp.cpu[w];
    mem[to] += pp.mem[w];
    count[to]++;
    onHost[to].add(w);
    meas[to] += wMeas[w];
    meas[s] -= wMeas[w];
    cpu[s] -= pp.cpu[w];
    mem[s] -= pp.mem[w];
    count[s]--;
    onHost[s].delete(w);
    at[w] = to;
    steps.push({ workload: w, from: s, to, reason, enables });
  };
  const undoTo = (n: number) => {
    while (steps.length > n) {
      const s = steps.pop()!;
      const w = s.workload;
      cpu[s.to] -= pp.cpu[w];
      mem[s.to] -= pp.mem[w];
      count[s.to]--;
      onHost[s.to].delete(w);
      meas[s.to] -= wMeas[w];
      meas[s.from] += wMeas[w];
      cpu[s.from] += pp.cpu[w];
      mem[s.from] += pp.mem[w];
      count[s.from]++;
      onHost[s.from].add(w);
      at[w] = s.from;
    }
  };
  const sorted = (h: number) => [...onHost[h]].sort((a, b) => size[b] - size[a] || a - b);
  /** Best-fit receiver for w other than `not`: its target host first, else the tightest CPU fit. */
  const place = (w: number, not: number): number => {
    const t = target ? target[w] : -1;
    if (t >= 0 && t !== not && receiver[t] && !closed[t] && fits(w, t)) return t;
    let best = -1;
    let bestLeft = Infinity;
    for (let g = 0; g < nh; g++) {
      if (g === not || g === at[w] || !receiver[g] || closed[g] || count[g] === 0 && tCount[g] === 0 && p.hosts[g].canStandby) continue;
      if (!fits(w, g)) continue;
      const left = (pp.cpuLim[g] - cpu[g] - pp.cpu[w]) / Math.max(pp.cpuLim[g], 1) + (pp.memLim[g] - mem[g] - pp.mem[w]) / Math.max(pp.memLim[g], 1);
      if (left < bestLeft - 1e-12) {
        bestLeft = left;
        best = g;
      }
    }
    return best;
  };
  /** Makes room for w (off host h) on some receiver g by moving one workload of g to a third host. */
  const makeRoom = (w: number, h: number): number => {
    const cand: { g: number; d: number }[] = [];
    for (let g = 0; g < nh; g++) {
      if (g === h || !receiver[g] || closed[g] || count[g] === 0 || pp.allowed[w * nh + g] !== 1) continue;
      const dc = Math.max(0, cpu[g] + pp.cpu[w] - pp.cpuLim[g]) / Math.max(pp.cpuLim[g], 1);
      const dm = Math.max(0, mem[g] + pp.mem[w] - pp.memLim[g]) / Math.max(pp.memLim[g], 1);
      cand.push({ g, d: dc + dm });
    }
    cand.sort((a, b) => a.d - b.d || a.g - b.g);
    for (const { g } of cand.slice(0, ENABLE_CANDIDATES)) {
      // smallest workload of g whose departure makes room for w
      const vs = [...onHost[g]].sort((a, b) => size[a] - size[b] || a - b);
      for (const v of vs) {
        if (cpu[g] - pp.cpu[v] + pp.cpu[w] > pp.cpuLim[g] + EPS || mem[g] - pp.mem[v] + pp.mem[w] > pp.memLim[g] + EPS) continue;
        closed[g] = 1; // v must go elsewhere
        const k = place(v, h);
        closed[g] = 0;
        if (k < 0) continue;
        move(v, k, 'enable', h);
        return g;
      }
    }
    return -1;
  };
  const migrations = () => steps.length;
  const hostWatts = (h: number) => {
    const x = p.hosts[h];
    if (count[h] === 0) return pp.emptyW[h];
    return x.model.watts(x.baseUtil + cpu[h] / x.capCpu);
  };

  // 1. relief
  for (let h = 0; h < nh; h++) {
    if (cpu[h] <= pp.cpuLim[h] + EPS && mem[h] <= pp.memLim[h] + EPS) continue;
    closed[h] = 1;
    for (const w of sorted(h)) {
      if (cpu[h] <= pp.cpuLim[h] + EPS && mem[h] <= pp.memLim[h] + EPS) break;
      if (migrations() >= opts.maxMigrations) break;
      const g = place(w, h);
      if (g >= 0) move(w, g, 'relief', -1);
    }
    closed[h] = 0;
  }

  // 2./3. drain passes
  const load = (h: number) => Math.max(cpu[h] / Math.max(pp.cpuLim[h], 1), mem[h] / Math.max(pp.memLim[h], 1));
  const freed = new Uint8Array(nh);
  // least efficient hosts (watts per unit of capacity at the ceiling) are freed first
  const rank = new Int32Array(nh);
  efficiencyOrder(pp).forEach((h, i) => (rank[h] = i));
  for (let pass = 0; pass < 20; pass++) {
    let progress = false;
    const order: number[] = [];
    for (let h = 0; h < nh; h++) if (count[h] > 0 && p.hosts[h].canStandby && !frozen(h)) order.push(h);
    const emptyInTarget = (h: number) => (target ? (tCount[h] === 0 ? 0 : 1) : 0);
    order.sort((a, b) => emptyInTarget(a) - emptyInTarget(b) || rank[b] - rank[a] || load(a) - load(b) || a - b);
    for (const h of order) {
      if (opts.deadline !== undefined && Date.now() > opts.deadline) break;
      if (count[h] === 0) continue;
      const mark = steps.length;
      const wattsBefore = watts();
      closed[h] = 1;
      let ok = true;
      for (const w of sorted(h)) {
        let g = place(w, h);
        if (g < 0) g = makeRoom(w, h);
        if (g < 0 || migrations() >= opts.maxMigrations) {
          ok = false;
          break;
        }
        move(w, g, 'drain', h);
      }
      if (ok && watts() + p.migrationWatts * (steps.length - mark) < wattsBefore - 1e-9) {
        freed[h] = 1;
        receiver[h] = 0;
        progress = true;
      } else {
        undoTo(mark);
        closed[h] = 0;
      }
    }
    if (!progress) break;
  }

  function watts(): number {
    let s = 0;
    for (let h = 0; h < nh; h++) s += hostWatts(h);
    return s;
  }

  const notMade: number[] = [];
  const unordered: number[] = [];
  if (target) {
    for (let w = 0; w < nw; w++) {
      if (target[w] < 0 || target[w] === from[w] || at[w] === target[w]) continue;
      if (from[w] >= 0 && at[w] !== from[w] && count[at[w]] > 0 && tCount[target[w]] > 0 && target[w] !== at[w]) {
        // moved, elsewhere than the target said: a host the target keeps on was full
        notMade.push(w);
        continue;
      }
      notMade.push(w);
      if (from[w] >= 0 && tCount[from[w]] === 0 && count[from[w]] > 0) unordered.push(w);
    }
  }
  return { steps, final: at, notMade, unordered };
}

/** Hosts a plan leaves on and the share of its moves that take a workload off a host left on without a reason. */
export function planCounts(p: Problem, final: Assignment, steps: readonly PlannedStep[]): { hostsOn: number; pointless: number } {
  const count = new Int32Array(p.hosts.length);
  for (const h of final) if (h >= 0) count[h]++;
  let hostsOn = 0;
  for (let h = 0; h < p.hosts.length; h++) if (count[h] > 0 || !p.hosts[h].canStandby) hostsOn++;
  let pointless = 0;
  for (const s of steps) if (s.reason === 'drain' && count[s.from] > 0) pointless++;
  return { hostsOn, pointless };
}

export type { Prepared };
