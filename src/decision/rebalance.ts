import type { PowerModel } from '../power';
import type { Margins } from './overload-target';

/**
 * One consolidation step over a running cluster, safe against the next
 * interval's demand: the per-interval planner the simulator's `wattplace`
 * policy runs, and the service can run on its snapshot plus the running
 * workloads. Pure: flat arrays in, an ordered migration list out; no I/O, no
 * clock; scratch arrays are reused between calls.
 *
 * Safety. Each workload has a forecast mean m and variance s² (see
 * forecast.ts). A host is safe when
 *     Σ m + z·√(Σ s²) ≤ ceiling × capacity      and   Σ mem ≤ memory
 * (a one-sided normal bound: overload in the next interval has probability
 * about 1 − Φ(z)).
 *
 * 1. Overload relief: a host that is not safe sheds the cheapest workload whose
 *    move alone makes it safe (cost = migration time × demand, the degradation
 *    a live migration causes); when no single workload suffices, the one with the
 *    most demand per unit of cost, and again. Each goes to the safe host it
 *    fits tightest among running hosts, else wakes the most efficient empty
 *    host (least watts per capacity at full load).
 * 2. Drains: running hosts, least utilized first, are emptied when all their
 *    workloads fit into the other running hosts under the stricter `drainZ`
 *    (hysteresis: a drained host is not re-opened by the next small rise), and
 *    the power saved per migration is at least `minWattsPerMigration`.
 * 3. Migrations never exceed `maxMigrations` per call; relief comes first.
 */
export interface RebalanceConfig {
  readonly z: number;
  readonly drainZ: number;
  /** Usable share of each host's CPU capacity (1 = all of it; the margin is in z). */
  readonly ceiling: number;
  readonly maxMigrations: number;
  /** Most hosts emptied per call. */
  readonly maxDrains: number;
  readonly minWattsPerMigration: number;
  /** Drain candidates examined per call after the cheap slack test passes. */
  readonly maxDrainTries: number;
  /**
   * Where a moved workload goes among running hosts: `roomiest` (most safe
   * room left: keeps running hosts balanced, so the next rise does not push
   * the just-filled host over) or `tightest` (best fit).
   */
  readonly fit: 'roomiest' | 'tightest' | 'variance';
  /**
   * A new host is woken only when no running host can take the workload even
   * under this (smaller) margin: running hosts absorb a rise before capacity
   * is added, and the extra host comes when the cluster as a whole is full.
   */
  readonly openZ: number;
}

/**
 * Defaults: relieve a host when its predicted overload probability passes
 * about 30 % (z = 0.5), drain only into hosts that stay below about 16 %
 * (drainZ = 1); wake a host only when the forecast mean itself no longer fits.
 * Lower z saves energy and costs overload time; see benchmarks/RESULTS.md.
 */
export const DEFAULT_REBALANCE: RebalanceConfig = {
  z: 0.5,
  drainZ: 1,
  ceiling: 1,
  maxMigrations: Infinity,
  maxDrains: Infinity,
  minWattsPerMigration: 0,
  maxDrainTries: 4,
  fit: 'roomiest',
  openZ: 0,
};

export interface RebalanceHosts {
  readonly n: number;
  /** CPU capacity, in the demand's unit. */
  readonly cap: Float64Array;
  readonly memCap: Float64Array;
  readonly models: readonly PowerModel[];
  /** 0 = may not receive workloads (maintenance, excluded). */
  readonly usable?: Uint8Array;
  /**
   * Room per host for the CPU allocations (RebalanceWorkloads.alloc) of the
   * workloads it holds, e.g. ceiling × capacity × allocationRatio − allocation of
   * workloads not in the plan. With it, no move puts a host's allocated CPU above
   * this (the moving workload counts on its target from the start of the move);
   * a host already above it is not relieved for that, it only receives nothing.
   * Memory needs no extra field: pass memCap = memory × memAllocationRatio − memory
   * of workloads not in the plan, with RebalanceWorkloads.mem the allocations.
   */
  readonly allocCap?: Float64Array;
}

export interface RebalanceWorkloads {
  readonly n: number;
  /** Current host, −1 = not running (ignored). */
  readonly host: Int32Array;
  readonly mean: Float64Array;
  readonly variance: Float64Array;
  readonly mem: Float64Array;
  /** Migration cost weight (e.g. memory to copy). */
  readonly cost: Float64Array;
  /** 1 = must not move now. */
  readonly pinned?: Uint8Array;
  /**
   * Demand measured now, when known: a host whose current demand is above its
   * capacity is relieved even if the forecast (which lags a jump) says it is
   * safe, and no move may put a host's current demand above its capacity.
   */
  readonly current?: Float64Array;
  /** CPU allocation per workload (vCPUs × 1000, or a pod's request), checked against RebalanceHosts.allocCap. */
  readonly alloc?: Float64Array;
}

export interface RebalancePlan {
  /** [workload, target, workload, target, …] in execution order. */
  readonly migrations: number[];
  readonly drained: number[];
  readonly opened: number[];
  readonly unresolved: number;
}

/** Host indices, most efficient first: least watts per unit of capacity at full load, then index. */
export function efficiencyOrder(hosts: RebalanceHosts): Int32Array {
  const idx = Array.from({ length: hosts.n }, (_, i) => i);
  const w = (h: number): number => (hosts.cap[h] > 0 ? hosts.models[h].maxWatts / hosts.cap[h] : Infinity);
  idx.sort((a, b) => w(a) - w(b) || a - b);
  return Int32Array.from(idx);
}

export class Rebalancer {
  private F = new Float64Array(0);
  private C = new Float64Array(0);
  private cur: Float64Array | null = null;
  /** Allocated CPU per host, when the plan checks allocations (RebalanceHosts.allocCap). */
  private A = new Float64Array(0);
  private alloc: Float64Array | null = null;
  private allocCap: Float64Array | null = null;
  private V = new Float64Array(0);
  private M = new Float64Array(0);
  private cnt = new Int32Array(0);
  private touched = new Uint8Array(0);
  private members: number[][] = [];
  private order: Int32Array | null = null;
  private orderFor: RebalanceHosts | null = null;
  /** Hosts that hold workloads (grows as hosts are woken; drained ones are skipped by cnt). */
  private running: number[] = [];

  constructor(readonly cfg: RebalanceConfig = DEFAULT_REBALANCE) {
    for (const k of ['z', 'drainZ', 'ceiling'] as const) {
      if (!(Number.isFinite(cfg[k]) && cfg[k] >= 0)) throw new RangeError(`rebalance ${k} must be a finite number ≥ 0, got ${cfg[k]}`);
    }
  }

  private limit(hs: RebalanceHosts, h: number): number {
    return this.cfg.ceiling * hs.cap[h];
  }

  private safeWith(hs: RebalanceHosts, h: number, dm: number, dv: number, dmem: number, z: number, dc = 0): boolean {
    const v = this.V[h] + dv;
    const lim = this.limit(hs, h);
    return this.F[h] + dm + z * Math.sqrt(v > 0 ? v : 0) <= lim && this.M[h] + dmem <= hs.memCap[h] && (this.cur === null || this.C[h] + dc <= lim);
  }

  /** Whether host h can take workload v's CPU allocation (always, when allocations are not checked). */
  private allocFits(h: number, v: number): boolean {
    return this.allocCap === null || this.alloc === null || this.A[h] + this.alloc[v] <= this.allocCap[h];
  }

  private move(w: RebalanceWorkloads, v: number, from: number, to: number, out: number[]): void {
    const m = w.mean[v];
    const s = w.variance[v];
    const mem = w.mem[v];
    if (this.cur) {
      this.C[from] -= this.cur[v];
      this.C[to] += this.cur[v];
    }
    if (this.alloc) {
      this.A[from] -= this.alloc[v];
      this.A[to] += this.alloc[v];
    }
    this.F[from] -= m;
    this.V[from] -= s;
    this.M[from] -= mem;
    this.cnt[from]--;
    const l = this.members[from];
    l.splice(l.indexOf(v), 1);
    this.F[to] += m;
    this.V[to] += s;
    this.M[to] += mem;
    this.cnt[to]++;
    this.members[to].push(v);
    if (this.cnt[from] === 0) {
      this.A[from] = 0;
      this.C[from] = 0;
      this.F[from] = 0;
      this.V[from] = 0;
      this.M[from] = 0;
    }
    out.push(v, to);
  }

  /** Tightest safe running host for v (not `exclude`), else −1. */
  private bestRunning(hs: RebalanceHosts, w: RebalanceWorkloads, v: number, exclude: number, z: number, skip: Uint8Array | null): number {
    let best = -1;
    const tight = this.cfg.fit === 'tightest';
    let room = tight ? Infinity : -Infinity;
    const m = w.mean[v];
    const s = w.variance[v];
    const mem = w.mem[v];
    const run = this.running;
    for (let i = 0; i < run.length; i++) {
      const h = run[i];
      if (h === exclude || this.cnt[h] === 0 || (hs.usable && !hs.usable[h]) || (skip && skip[h])) continue;
      const vv = this.V[h] + s;
      const r = this.limit(hs, h) - (this.F[h] + m + z * Math.sqrt(vv > 0 ? vv : 0));
      if (r < 0 || this.M[h] + mem > hs.memCap[h]) continue;
      if (this.cur !== null && this.C[h] + this.cur[v] > this.limit(hs, h)) continue;
      if (!this.allocFits(h, v)) continue;
      if (this.cfg.fit === 'variance') {
        // least added margin (√ is concave: variance pooled on few hosts costs less headroom)
        const vh = this.V[h] > 0 ? this.V[h] : 0;
        const add = Math.sqrt(vv > 0 ? vv : 0) - Math.sqrt(vh);
        const key = -add * 1e6 + r * 1e-6;
        if (key > room) {
          room = key;
          best = h;
        }
      } else if (tight ? r < room : r > room) {
        room = r;
        best = h;
      }
    }
    return best;
  }

  private openHost(hs: RebalanceHosts, w: RebalanceWorkloads, v: number, z: number): number {
    const order = this.order as Int32Array;
    for (let i = 0; i < order.length; i++) {
      const h = order[i];
      if (this.cnt[h] !== 0 || (hs.usable && !hs.usable[h])) continue;
      if (this.allocFits(h, v) && this.safeWith(hs, h, w.mean[v], w.variance[v], w.mem[v], z, this.cur ? this.cur[v] : 0)) return h;
    }
    return -1;
  }

  /**
   * One step. `margins` replaces the configured z / drainZ / openZ for this
   * call (an OverloadController's answer for the interval).
   */
  plan(hs: RebalanceHosts, w: RebalanceWorkloads, margins?: Margins): RebalancePlan {
    const cfg = margins ? { ...this.cfg, z: margins.z, drainZ: margins.drainZ, openZ: margins.openZ } : this.cfg;
    if (margins) for (const k of ['z', 'drainZ', 'openZ'] as const) if (!(Number.isFinite(cfg[k]) && cfg[k] >= 0)) throw new RangeError(`rebalance ${k} must be a finite number ≥ 0, got ${cfg[k]}`);
    const n = hs.n;
    if (this.F.length < n) {
      this.F = new Float64Array(n);
      this.C = new Float64Array(n);
      this.V = new Float64Array(n);
      this.M = new Float64Array(n);
      this.cnt = new Int32Array(n);
      this.touched = new Uint8Array(n);
      this.A = new Float64Array(n);
    }
    if (this.orderFor !== hs || !this.order || this.order.length !== n) {
      this.order = efficiencyOrder(hs);
      this.orderFor = hs;
    }
    const { F, V, M, cnt, touched } = this;
    F.fill(0, 0, n);
    this.C.fill(0, 0, n);
    this.cur = w.current ?? null;
    this.alloc = hs.allocCap && w.alloc ? w.alloc : null;
    this.allocCap = this.alloc ? (hs.allocCap as Float64Array) : null;
    this.A.fill(0, 0, n);
    V.fill(0, 0, n);
    M.fill(0, 0, n);
    cnt.fill(0, 0, n);
    touched.fill(0, 0, n);
    if (this.members.length < n) for (let h = this.members.length; h < n; h++) this.members.push([]);
    for (let h = 0; h < n; h++) this.members[h].length = 0;
    this.running.length = 0;
    for (let v = 0; v < w.n; v++) {
      const h = w.host[v];
      if (h < 0) continue;
      if (cnt[h] === 0) this.running.push(h);
      F[h] += w.mean[v];
      if (this.cur) this.C[h] += this.cur[v];
      if (this.alloc) this.A[h] += this.alloc[v];
      V[h] += w.variance[v];
      M[h] += w.mem[v];
      cnt[h]++;
      this.members[h].push(v);
    }
    const out: number[] = [];
    const drained: number[] = [];
    const opened: number[] = [];
    let unresolved = 0;
    const budget = (): number => cfg.maxMigrations - out.length / 2;

    // 1. overload relief, the most overloaded first
    const over: number[] = [];
    for (let h = 0; h < n; h++) if (cnt[h] > 0 && !this.safeWith(hs, h, 0, 0, 0, cfg.z)) over.push(h);
    const excess = (h: number): number => F[h] + cfg.z * Math.sqrt(V[h] > 0 ? V[h] : 0) - this.limit(hs, h);
    over.sort((a, b) => excess(b) - excess(a) || a - b);
    for (const h of over) {
      touched[h] = 1;
      while (!this.safeWith(hs, h, 0, 0, 0, cfg.z)) {
        if (budget() < 1) break;
        const l = this.members[h];
        let pick = -1;
        let pickCost = Infinity;
        let alt = -1;
        let altRatio = -Infinity;
        for (const v of l) {
          if (w.pinned && w.pinned[v]) continue;
          const m = w.mean[v];
          const c = w.cost[v] * (m > 0 ? m : 1e-9);
          const vv = V[h] - w.variance[v];
          const fixes =
            F[h] - m + cfg.z * Math.sqrt(vv > 0 ? vv : 0) <= this.limit(hs, h) &&
            M[h] - w.mem[v] <= hs.memCap[h] &&
            (this.cur === null || this.C[h] - this.cur[v] <= this.limit(hs, h));
          if (fixes && c < pickCost) {
            pickCost = c;
            pick = v;
          }
          const ratio = m / (w.cost[v] > 0 ? w.cost[v] : 1e-9);
          if (ratio > altRatio) {
            altRatio = ratio;
            alt = v;
          }
        }
        const v = pick >= 0 ? pick : alt;
        if (v < 0) break;
        let t = this.bestRunning(hs, w, v, h, cfg.z, null);
        if (t < 0 && cfg.openZ < cfg.z) {
          // no running host is safe at z: the roomiest one that is safe at openZ,
          // if the move leaves it less loaded than the source was
          const c = this.bestRunning(hs, w, v, h, cfg.openZ, null);
          if (c >= 0) {
            const srcRisk = excess(h) / hs.cap[h];
            const vv = V[c] + w.variance[v];
            const tgtRisk = (F[c] + w.mean[v] + cfg.z * Math.sqrt(vv > 0 ? vv : 0) - this.limit(hs, c)) / hs.cap[c];
            if (tgtRisk < srcRisk) t = c;
          }
          // the source is still safe at openZ: accept the risk rather than wake a host
          if (t < 0 && this.safeWith(hs, h, 0, 0, 0, cfg.openZ)) break;
        }
        if (t < 0) {
          t = this.openHost(hs, w, v, cfg.z);
          if (t >= 0) {
            opened.push(t);
            this.running.push(t);
          }
        }
        if (t < 0) break;
        touched[t] = 1;
        this.move(w, v, h, t, out);
      }
      if (!this.safeWith(hs, h, 0, 0, 0, cfg.z)) unresolved++;
    }

    // 2. drains, least utilized first
    if (cfg.maxDrains > 0 && budget() > 0) {
      const cand: number[] = [];
      let slack = 0;
      for (let h = 0; h < n; h++) {
        if (cnt[h] === 0) continue;
        const r = this.limit(hs, h) - (F[h] + cfg.drainZ * Math.sqrt(V[h] > 0 ? V[h] : 0));
        if (r > 0) slack += r;
        if (!touched[h]) cand.push(h);
      }
      cand.sort((a, b) => F[a] / hs.cap[a] - F[b] / hs.cap[b] || cnt[a] - cnt[b] || a - b);
      const draining = new Uint8Array(n);
      let tries = 0;
      let drains = 0;
      for (const h of cand) {
        if (drains >= cfg.maxDrains || tries >= cfg.maxDrainTries) break;
        if (cnt[h] === 0 || touched[h]) continue;
        if (cnt[h] > budget()) continue;
        const own = this.limit(hs, h) - (F[h] + cfg.drainZ * Math.sqrt(V[h] > 0 ? V[h] : 0));
        if (F[h] > slack - (own > 0 ? own : 0)) continue; // cannot fit even as a fluid
        tries++;
        const vms = this.members[h].slice().sort((a, b) => w.mean[b] - w.mean[a] || a - b);
        if (vms.some((v) => w.pinned && w.pinned[v])) continue;
        const before = out.length;
        const pBefore = this.hostWatts(hs, h);
        draining[h] = 1;
        let ok = true;
        let added = 0;
        for (const v of vms) {
          const t = this.bestRunning(hs, w, v, h, cfg.drainZ, draining);
          if (t < 0) {
            ok = false;
            break;
          }
          const p0 = this.hostWatts(hs, t);
          this.move(w, v, h, t, out);
          added += this.hostWatts(hs, t) - p0;
        }
        const saved = pBefore - added;
        if (ok && saved / vms.length >= cfg.minWattsPerMigration) {
          drains++;
          drained.push(h);
          tries = 0;
          for (let i = before; i < out.length; i += 2) touched[out[i + 1]] = 1;
          slack = 0;
          for (let x = 0; x < n; x++) {
            if (cnt[x] === 0 || draining[x]) continue;
            const r = this.limit(hs, x) - (F[x] + cfg.drainZ * Math.sqrt(V[x] > 0 ? V[x] : 0));
            if (r > 0) slack += r;
          }
          continue;
        }
        // undo, newest first
        for (let i = out.length - 2; i >= before; i -= 2) {
          const v = out[i];
          const t = out[i + 1];
          const tmp: number[] = [];
          this.move(w, v, t, h, tmp);
        }
        out.length = before;
        draining[h] = 0;
      }
    }
    return { migrations: out, drained, opened, unresolved };
  }

  private hostWatts(hs: RebalanceHosts, h: number): number {
    if (this.cnt[h] === 0) return 0;
    const u = this.F[h] / hs.cap[h];
    return hs.models[h].watts(u > 1 ? 1 : u);
  }
}
