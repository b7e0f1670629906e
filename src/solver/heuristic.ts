import { UNPLACED, hostWatts, type Assignment, type Prepared } from './problem';

const EPS = 1e-9;

/**
 * Mutable placement state with per-host loads, so moves are priced in O(1).
 */
export class PackState {
  readonly loadCpu: Float64Array;
  readonly loadMem: Float64Array;
  readonly count: Int32Array;
  migrations = 0;
  constructor(
    readonly pp: Prepared,
    readonly a: Assignment,
  ) {
    this.loadCpu = new Float64Array(pp.nh);
    this.loadMem = new Float64Array(pp.nh);
    this.count = new Int32Array(pp.nh);
    for (let w = 0; w < pp.nw; w++) {
      const h = a[w];
      if (h < 0) continue;
      this.loadCpu[h] += pp.cpu[w];
      this.loadMem[h] += pp.mem[w];
      this.count[h]++;
      if (pp.current[w] >= 0 && pp.current[w] !== h) this.migrations++;
    }
  }
  watts(h: number): number {
    return hostWatts(this.pp, h, this.loadCpu[h], this.count[h]);
  }
  fits(w: number, h: number): boolean {
    const pp = this.pp;
    return pp.allowed[w * pp.nh + h] === 1 && this.loadCpu[h] + pp.cpu[w] <= pp.cpuLim[h] + EPS && this.loadMem[h] + pp.mem[w] <= pp.memLim[h] + EPS;
  }
  /** Watts added to host h by workload w. */
  addCost(w: number, h: number): number {
    return hostWatts(this.pp, h, this.loadCpu[h] + this.pp.cpu[w], this.count[h] + 1) - this.watts(h);
  }
  /** Watts saved on its host by taking w off. */
  removeGain(w: number): number {
    const h = this.a[w];
    return this.watts(h) - hostWatts(this.pp, h, this.loadCpu[h] - this.pp.cpu[w], this.count[h] - 1);
  }
  migDelta(w: number, to: number): number {
    const cur = this.pp.current[w];
    if (cur < 0) return 0;
    return (cur !== to ? 1 : 0) - (cur !== this.a[w] ? 1 : 0);
  }
  move(w: number, to: number): void {
    const pp = this.pp;
    const from = this.a[w];
    this.migrations += this.migDelta(w, to);
    if (from >= 0) {
      this.loadCpu[from] -= pp.cpu[w];
      this.loadMem[from] -= pp.mem[w];
      this.count[from]--;
      if (this.count[from] === 0) {
        this.loadCpu[from] = 0;
        this.loadMem[from] = 0;
      }
    }
    this.a[w] = to;
    if (to >= 0) {
      this.loadCpu[to] += pp.cpu[w];
      this.loadMem[to] += pp.mem[w];
      this.count[to]++;
    }
  }
}

/** A workload's size relative to the fleet's mean capacity (for decreasing-size order). */
function sizes(pp: Prepared): Float64Array {
  let cc = 0;
  let mc = 0;
  for (let h = 0; h < pp.nh; h++) {
    cc += pp.cpuLim[h];
    mc += pp.memLim[h];
  }
  cc = cc / Math.max(1, pp.nh) || 1;
  mc = mc / Math.max(1, pp.nh) || 1;
  const s = new Float64Array(pp.nw);
  for (let w = 0; w < pp.nw; w++) s[w] = Math.max(pp.cpu[w] / cc, pp.mem[w] / mc);
  return s;
}

/**
 * Hosts best first by watts per unit of capacity when filled to the ceiling:
 * (P(full) − emptyW) / units, units = how many mean-sized workloads fit (the
 * scarcer of CPU and memory). Large efficient hosts come first even though
 * their idle power is higher.
 */
export function efficiencyOrder(pp: Prepared): Int32Array {
  let cs = 0;
  let ms = 0;
  for (let w = 0; w < pp.nw; w++) {
    cs += pp.cpu[w];
    ms += pp.mem[w];
  }
  const mc = cs / Math.max(1, pp.nw) || 1;
  const mm = ms / Math.max(1, pp.nw) || 1;
  const eff = new Float64Array(pp.nh);
  for (let h = 0; h < pp.nh; h++) {
    const units = Math.min(pp.cpuLim[h] / mc, pp.memLim[h] / mm);
    const host = pp.p.hosts[h];
    const full = host.model.watts(host.baseUtil + pp.cpuLim[h] / host.capCpu) - pp.emptyW[h];
    eff[h] = units > EPS ? full / units : Infinity;
  }
  return Int32Array.from({ length: pp.nh }, (_, i) => i).sort((x, y) => eff[x] - eff[y] || x - y);
}

/**
 * Construction: workloads in decreasing size; each goes to the open host where it
 * adds the fewest watts; when no open host can take it, the next host in
 * efficiency order that can is opened. Hosts that cost nothing to keep on
 * (already on, not allowed to go to STANDBY) count as open from the start.
 * Only the listed workloads are placed; the others keep their entry in `a`.
 */
export function construct(pp: Prepared, a: Assignment, todo: readonly number[], order: Int32Array = efficiencyOrder(pp)): void {
  const st = new PackState(pp, a);
  const size = sizes(pp);
  const ws = [...todo].sort((x, y) => size[y] - size[x] || x - y);
  const open = new Uint8Array(pp.nh);
  const openList: number[] = [];
  for (let h = 0; h < pp.nh; h++) {
    if (pp.openCost[h] <= EPS || st.count[h] > 0) {
      open[h] = 1;
      openList.push(h);
    }
  }
  for (const w of ws) {
    let best = -1;
    let bestCost = Infinity;
    for (const h of openList) {
      if (!st.fits(w, h)) continue;
      const c = st.addCost(w, h);
      if (c < bestCost - EPS) {
        bestCost = c;
        best = h;
      }
    }
    if (best < 0) {
      for (let i = 0; i < order.length; i++) {
        const h = order[i];
        if (!open[h] && st.fits(w, h)) {
          open[h] = 1;
          openList.push(h);
          best = h;
          break;
        }
      }
    }
    st.move(w, best < 0 ? UNPLACED : best);
  }
}

export interface LocalSearchOptions {
  readonly deadline: number;
  readonly maxMigrations: number;
  /** Internal: no drain phase (used by the drain phase's own search). */
  readonly noDrain?: boolean;
}

/**
 * Local search, each move accepted only when it lowers the objective (watts +
 * migration watts) and keeps within the migration budget:
 *  1. empty a host: the least-loaded hosts first, move all its workloads into
 *     other non-empty hosts (largest first, cheapest fit);
 *  2. replace a host: move a host's whole load onto one empty host that does
 *     the same work for fewer watts;
 *  3. relocate one workload to the host where it saves the most.
 * Repeats until no move helps or the deadline passes.
 */
export function localSearch(pp: Prepared, a: Assignment, opts: LocalSearchOptions): void {
  const st = new PackState(pp, a);
  const size = sizes(pp);
  const migW = pp.p.migrationWatts;
  const byHost = (): number[][] => {
    const lists: number[][] = Array.from({ length: pp.nh }, () => []);
    for (let w = 0; w < pp.nw; w++) if (a[w] >= 0) lists[a[w]].push(w);
    for (const l of lists) l.sort((x, y) => size[y] - size[x] || x - y);
    return lists;
  };
  for (let round = 0; round < 50 && Date.now() < opts.deadline; round++) {
    let improved = false;
    // 1. empty hosts, least loaded first
    let lists = byHost();
    const loaded = [];
    for (let h = 0; h < pp.nh; h++) if (st.count[h] > 0) loaded.push(h);
    loaded.sort((x, y) => st.loadCpu[x] / Math.max(pp.cpuLim[x], EPS) - st.loadCpu[y] / Math.max(pp.cpuLim[y], EPS) || x - y);
    for (const h of loaded) {
      if (Date.now() >= opts.deadline) break;
      if (st.count[h] === 0) continue;
      const before = st.watts(h);
      const moved: [number, number][] = [];
      let delta = pp.emptyW[h] - before;
      let ok = true;
      for (const w of lists[h]) {
        let best = -1;
        let bestC = Infinity;
        for (const g of loaded) {
          if (g === h || st.count[g] === 0 || !st.fits(w, g)) continue;
          const c = st.addCost(w, g);
          if (c < bestC) {
            bestC = c;
            best = g;
          }
        }
        if (best < 0) {
          ok = false;
          break;
        }
        delta += bestC + migW * st.migDelta(w, best);
        moved.push([w, h]);
        st.move(w, best);
      }
      if (ok && delta < -1e-7 && st.migrations <= opts.maxMigrations) {
        improved = true;
        lists = byHost();
      } else {
        for (let i = moved.length - 1; i >= 0; i--) st.move(moved[i][0], moved[i][1]);
      }
    }
    // 2. replace a host by an empty one
    lists = byHost();
    for (let h = 0; h < pp.nh && Date.now() < opts.deadline; h++) {
      if (st.count[h] === 0) continue;
      const ws = lists[h];
      const cur = st.watts(h) - pp.emptyW[h];
      let best = -1;
      let bestDelta = -1e-7;
      for (let g = 0; g < pp.nh; g++) {
        if (g === h || st.count[g] !== 0 || st.loadCpu[h] > pp.cpuLim[g] + EPS || st.loadMem[h] > pp.memLim[g] + EPS) continue;
        let ok = true;
        let mig = 0;
        for (const w of ws) {
          if (!pp.allowed[w * pp.nh + g]) {
            ok = false;
            break;
          }
          mig += st.migDelta(w, g);
        }
        if (!ok || st.migrations + mig > opts.maxMigrations) continue;
        const host = pp.p.hosts[g];
        const then = host.model.watts(host.baseUtil + st.loadCpu[h] / host.capCpu) - pp.emptyW[g];
        const d = then - cur + migW * mig;
        if (d < bestDelta) {
          bestDelta = d;
          best = g;
        }
      }
      if (best >= 0) {
        for (const w of ws) st.move(w, best);
        lists[best] = ws;
        lists[h] = [];
        improved = true;
      }
    }
    // 3. relocate single workloads
    for (let w = 0; w < pp.nw && Date.now() < opts.deadline; w++) {
      const from = a[w];
      if (from < 0) continue;
      const gain = st.removeGain(w);
      let best = -1;
      let bestDelta = -1e-7;
      for (let g = 0; g < pp.nh; g++) {
        if (g === from || !st.fits(w, g)) continue;
        const md = st.migDelta(w, g);
        if (md > 0 && st.migrations + md > opts.maxMigrations) continue;
        const d = st.addCost(w, g) - gain + migW * md;
        if (d < bestDelta) {
          bestDelta = d;
          best = g;
        }
      }
      if (best >= 0) {
        st.move(w, best);
        improved = true;
      }
    }
    // 4. drain: shift load off the least-loaded hosts with moves and swaps that cost
    //    nothing, then try again to empty or replace them; undone when it does not pay
    if (!improved) {
      const snap = Int32Array.from(a);
      const before = objectiveOf(pp, a);
      // each drain leaves a different least-loaded host behind: a few attempts
      for (let attempt = 0; attempt < 6 && !opts.noDrain && Date.now() < opts.deadline; attempt++) {
        if (!drain(pp, a, size, opts)) break;
        const trial = Int32Array.from(a);
        localSearch(pp, trial, { ...opts, noDrain: true });
        if (objectiveOf(pp, trial) < before - 1e-7) {
          a.set(trial);
          improved = true;
          break;
        }
      }
      if (!improved) a.set(snap);
      if (improved) {
        // state arrays were rebuilt by the nested search: rebuild ours too
        const fresh = new PackState(pp, a);
        st.loadCpu.set(fresh.loadCpu);
        st.loadMem.set(fresh.loadMem);
        st.count.set(fresh.count);
        st.migrations = fresh.migrations;
      }
    }
    if (!improved) break;
  }
}

/**
 * Moves load off the two least-loaded hosts without raising the objective: single
 * moves to other loaded hosts, then swaps of one of their workloads for a smaller
 * one elsewhere. Returns whether anything moved.
 */
export function drain(pp: Prepared, a: Assignment, size: Float64Array, opts: LocalSearchOptions): boolean {
  if (opts.noDrain) return false;
  const st = new PackState(pp, a);
  const migW = pp.p.migrationWatts;
  const loaded: number[] = [];
  for (let h = 0; h < pp.nh; h++) if (st.count[h] > 0) loaded.push(h);
  if (loaded.length < 2) return false;
  loaded.sort((x, y) => st.loadCpu[x] / Math.max(pp.cpuLim[x], EPS) - st.loadCpu[y] / Math.max(pp.cpuLim[y], EPS) || x - y);
  let moved = false;
  for (const t of loaded.slice(0, 2)) {
    const on = (h: number) => {
      const l: number[] = [];
      for (let w = 0; w < pp.nw; w++) if (a[w] === h) l.push(w);
      return l.sort((x, y) => size[y] - size[x] || x - y);
    };
    for (const w of on(t)) {
      if (Date.now() >= opts.deadline) return moved;
      const gain = st.removeGain(w);
      for (const g of loaded) {
        if (g === t || st.count[g] === 0 || !st.fits(w, g)) continue;
        const md = st.migDelta(w, g);
        if (md > 0 && st.migrations + md > opts.maxMigrations) continue;
        if (st.addCost(w, g) - gain + migW * md <= 1e-9) {
          st.move(w, g);
          moved = true;
          break;
        }
      }
    }
    // swaps: w on t for a smaller v on g
    for (const w of on(t)) {
      if (Date.now() >= opts.deadline) return moved;
      let done = false;
      for (const g of loaded) {
        if (g === t || done) continue;
        for (const v of on(g)) {
          if (pp.cpu[v] >= pp.cpu[w] || !pp.allowed[w * pp.nh + g] || !pp.allowed[v * pp.nh + t]) continue;
          const dc = pp.cpu[w] - pp.cpu[v];
          const dm = pp.mem[w] - pp.mem[v];
          if (st.loadCpu[g] + dc > pp.cpuLim[g] + EPS || st.loadMem[g] + dm > pp.memLim[g] + EPS) continue;
          if (st.loadMem[t] - dm > pp.memLim[t] + EPS) continue;
          const md = st.migDelta(w, g) + st.migDelta(v, t);
          if (md > 0 && st.migrations + md > opts.maxMigrations) continue;
          const wt = st.watts(t) + st.watts(g);
          st.move(w, g);
          st.move(v, t);
          const d = st.watts(t) + st.watts(g) - wt + migW * md;
          if (d <= 1e-9) {
            moved = true;
            done = true;
            break;
          }
          st.move(v, g);
          st.move(w, t);
        }
      }
    }
  }
  return moved;
}

/**
 * Moves workloads off hosts that break a limit (consolidation input can be over
 * the ceiling already) and places workloads whose current host is not allowed.
 * Returns the workloads it could not place anywhere.
 */
export function repair(pp: Prepared, a: Assignment): void {
  const st = new PackState(pp, a);
  const size = sizes(pp);
  const todo: number[] = [];
  for (let w = 0; w < pp.nw; w++) {
    const h = a[w];
    if (h >= 0 && !pp.allowed[w * pp.nh + h]) {
      st.move(w, UNPLACED);
      todo.push(w);
    }
  }
  for (let h = 0; h < pp.nh; h++) {
    if (st.loadCpu[h] <= pp.cpuLim[h] + EPS && st.loadMem[h] <= pp.memLim[h] + EPS) continue;
    const ws: number[] = [];
    for (let w = 0; w < pp.nw; w++) if (a[w] === h) ws.push(w);
    ws.sort((x, y) => size[y] - size[x] || x - y);
    for (const w of ws) {
      if (st.loadCpu[h] <= pp.cpuLim[h] + EPS && st.loadMem[h] <= pp.memLim[h] + EPS) break;
      st.move(w, UNPLACED);
      todo.push(w);
    }
  }
  if (todo.length) construct(pp, a, todo);
}

/** The fast answer: construction (or the current placement, repaired) and local search. */
export function heuristic(pp: Prepared, deadline: number): Assignment {
  const consolidating = pp.current.some((h) => h >= 0);
  const all = Array.from({ length: pp.nw }, (_, i) => i);
  const fresh = new Int32Array(pp.nw).fill(UNPLACED);
  construct(pp, fresh, all);
  if (!consolidating) {
    localSearch(pp, fresh, { deadline, maxMigrations: Infinity });
    return fresh;
  }
  const fromCurrent = Int32Array.from(pp.current);
  repair(pp, fromCurrent);
  localSearch(pp, fromCurrent, { deadline, maxMigrations: pp.p.maxMigrations });
  const sf = new PackState(pp, fresh);
  if (sf.migrations <= pp.p.maxMigrations) {
    localSearch(pp, fresh, { deadline, maxMigrations: pp.p.maxMigrations });
    const a = objectiveOf(pp, fresh);
    const b = objectiveOf(pp, fromCurrent);
    const placedA = fresh.filter((h) => h >= 0).length;
    const placedB = fromCurrent.filter((h) => h >= 0).length;
    if (placedA > placedB || (placedA === placedB && a < b)) return fresh;
  }
  return fromCurrent;
}

export function objectiveOf(pp: Prepared, a: Assignment): number {
  const st = new PackState(pp, a);
  let s = 0;
  for (let h = 0; h < pp.nh; h++) s += st.watts(h);
  return s + pp.p.migrationWatts * st.migrations;
}
