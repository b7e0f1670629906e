import type { PowerModel } from '../power';
import type { Fleet, Workloads } from './cluster';

/** Length of the utilization history kept per workload (CloudSim's PowerVm.HISTORY_LENGTH). */
export const HISTORY = 30;

/**
 * What a policy sees at a decision point. Arrays are the simulator's own:
 * read them, never write them. Utilization is a fraction of the host's total
 * CPU; demand (`req`) is in the workload's CPU unit (MIPS).
 */
export interface SimView {
  readonly compat: boolean;
  /** CloudSim-compatible initial placement: workloads ask for their full peak CPU and RAM. */
  readonly initial: boolean;
  readonly time: number;
  readonly step: number;
  readonly stepSeconds: number;
  readonly fleet: Fleet;
  /** Workloads on each host, in placement order. */
  readonly lists: readonly (readonly number[])[];
  /** CPU (MIPS) each host used at its latest update. */
  readonly used: Float64Array;
  /** Current CPU demand per workload (uncapped). */
  readonly req: Float64Array;
  /** Memory each workload holds on its host now (MB). */
  memOf(v: number): number;
  /** Memory (MB) in use on each host. */
  readonly memUsed: Float64Array;
  readonly wl: Workloads;
  readonly host: Int32Array;
  readonly alive: Uint8Array;
  /** i-th most recent utilization fraction of workload v (i = 0 newest); NaN past its history. */
  hist(v: number, i: number): number;
  histLen(v: number): number;
}

export interface SimPolicy {
  readonly name: string;
  /** Every host on at full power all the time (the "no power management" baseline). */
  readonly allHostsOn?: boolean;
  /** Hosts for workloads that arrive now, in order; −1 = none fits (the workload is rejected). */
  place(view: SimView, vms: readonly number[]): Int32Array;
  /** Migrations to start now as a flat list [vm, target, vm, target, …], in order. */
  optimize(view: SimView): number[];
}

export interface StepSeries {
  /** Mean power over the interval ending at the step, W. */
  readonly watts: Float64Array;
  readonly activeHosts: Int32Array;
  readonly overloadedHosts: Int32Array;
  readonly migrations: Int32Array;
  readonly demandMips: Float64Array;
}

export interface SimMetrics {
  policy: string;
  compat: boolean;
  energyKwh: number;
  lowerBoundKwh: number;
  ratio: number;
  /** CloudSim's SLA time per active host (fraction). In real mode it equals the real overload fraction. */
  slatah: number;
  /** Host time with demand above capacity, hours, and as a fraction of active host time. */
  overloadHours: number;
  overloadFraction: number;
  /** Demand not served because hosts were full, fraction of all demand. */
  unmetFraction: number;
  pdm: number;
  slav: number;
  esv: number;
  migrations: number;
  hostShutdowns: number;
  activeHostsMean: number;
  activeHostsMax: number;
  carbonGrams: number | null;
  rejected: number;
  removed: number;
  workloads: number;
  hosts: number;
  wallSeconds: number;
}

export interface SimResult {
  metrics: SimMetrics;
  series: StepSeries;
  /** Energy per host, kWh. */
  hostKwh: Float64Array;
}

export interface SimOptions {
  readonly compat: boolean;
  readonly stepSeconds?: number;
  /** Called after each step with (done, total). */
  readonly onStep?: (done: number, total: number) => void;
}

/** Fluid lower bound efficiency: the least watts per CPU unit any host type reaches (at full load). */
export function bestWattsPerMips(fleet: Fleet): number {
  let best = Infinity;
  for (const t of fleet.types) best = Math.min(best, t.model.maxWatts / (t.coreMips * t.cores));
  return best;
}

/**
 * The simulated cluster and clock. Each step, demands change; the policy
 * places arrivals and decides migrations; the simulator accounts energy per
 * host (trapezoid of the power at the previous and the current utilization ×
 * the time between updates), overload time, migrations and their degradation.
 *
 * Real mode (`compat: false`): updates at 0, Δ, 2Δ, …; every workload stays
 * until its departure; a host with nothing on it is off and draws its standby
 * watts; a migration moves the workload at the step and costs 10 % of its
 * demand for RAM / (bandwidth / 2) seconds; SLA figures count real overload
 * (demand above capacity, interpolated linearly within the interval).
 *
 * CloudSim-compatible mode reproduces CloudSim 3.0.3's PlanetLab experiment
 * (see energy-simulation.md): updates at 300.1, 600.1, … with the trace
 * interpolated at the update time; workloads whose demand is exactly 0 are
 * removed; memory only constrains the initial placement (at full peak CPU);
 * a migration runs RAM / (bw / 2) seconds as its own event, during which the
 * target grants 10 % of the VM's request while recording the full request;
 * energy is 0 for a host whose previous utilization was 0; SLATAH and PDM
 * follow CloudSim's state-history accounting.
 */
export class Simulator {
  readonly fleet: Fleet;
  readonly wl: Workloads;
  readonly compat: boolean;
  readonly dt: number;
  private readonly nH: number;
  private readonly nV: number;
  // host state
  private readonly lists: number[][];
  private readonly migIn: Set<number>[];
  private readonly UM: Float64Array;
  private readonly prevUM: Float64Array;
  private readonly prevCount: Int32Array;
  private readonly prevOver: Float64Array; // real mode: capped demand − capacity at the previous update
  private readonly memUsed: Float64Array;
  private readonly hT: Float64Array;
  private readonly hA: Float64Array;
  private readonly hR: Float64Array;
  private readonly hActive: Uint8Array;
  private readonly hOver: Uint8Array;
  private readonly hostJ: Float64Array;
  // workload state
  private readonly host: Int32Array;
  private readonly inMig: Uint8Array;
  private readonly alive: Uint8Array;
  private readonly req: Float64Array;
  private readonly memHeld: Float64Array;
  private readonly histBuf: Float64Array;
  private readonly histN: Uint8Array;
  private readonly histHead: Uint8Array;
  private readonly histT: Float64Array;
  private readonly eT: Float64Array;
  private readonly eA: Float64Array;
  private readonly eR: Float64Array;
  private readonly eF: Uint8Array;
  // accounting
  private energyJ = 0;
  private lastT = 0;
  private activeTime = 0;
  private slaTime = 0;
  private overTime = 0;
  private unmet = 0;
  private vmReqTotal = 0;
  private vmAllocTotal = 0;
  private vmMigUnder = 0;
  private demandTotal = 0;
  private migDegradation = 0;
  private migrations = 0;
  private shutdowns = 0;
  private rejected = 0;
  private removed = 0;
  private boundJ = 0;
  private carbonG = 0;
  private readonly bestWpm: number;
  private readonly view: SimView;
  private curTime = 0;
  private curStep = 0;
  private initialPhase = false;

  constructor(fleet: Fleet, wl: Workloads, opts: SimOptions) {
    this.fleet = fleet;
    this.wl = wl;
    this.compat = opts.compat;
    this.dt = opts.stepSeconds ?? 300;
    const nH = (this.nH = fleet.n);
    const nV = (this.nV = wl.n);
    this.lists = Array.from({ length: nH }, () => []);
    this.migIn = Array.from({ length: nH }, () => new Set<number>());
    this.UM = new Float64Array(nH);
    this.prevUM = new Float64Array(nH);
    this.prevCount = new Int32Array(nH);
    this.prevOver = new Float64Array(nH).fill(-1);
    this.memUsed = new Float64Array(nH);
    this.hT = new Float64Array(nH).fill(-1);
    this.hA = new Float64Array(nH);
    this.hR = new Float64Array(nH);
    this.hActive = new Uint8Array(nH);
    this.hOver = new Uint8Array(nH);
    this.hostJ = new Float64Array(nH);
    this.host = new Int32Array(nV).fill(-1);
    this.inMig = new Uint8Array(nV);
    this.alive = new Uint8Array(nV);
    this.req = new Float64Array(nV);
    this.memHeld = new Float64Array(nV);
    this.histBuf = new Float64Array(nV * HISTORY);
    this.histN = new Uint8Array(nV);
    this.histHead = new Uint8Array(nV);
    this.histT = new Float64Array(nV);
    this.eT = new Float64Array(nV).fill(-1);
    this.eA = new Float64Array(nV);
    this.eR = new Float64Array(nV);
    this.eF = new Uint8Array(nV);
    this.bestWpm = bestWattsPerMips(fleet);
    const self = this;
    this.view = {
      compat: this.compat,
      get initial() {
        return self.initialPhase;
      },
      get time() {
        return self.curTime;
      },
      get step() {
        return self.curStep;
      },
      stepSeconds: this.dt,
      fleet,
      lists: this.lists,
      used: this.UM,
      req: this.req,
      memUsed: this.memUsed,
      memOf: (v: number) => (self.host[v] >= 0 ? self.memHeld[v] : self.memDemand(v)),
      wl,
      host: this.host,
      alive: this.alive,
      hist: (v: number, i: number) => (i < self.histN[v] ? self.histBuf[v * HISTORY + ((self.histHead[v] - i + HISTORY) % HISTORY)] : NaN),
      histLen: (v: number) => self.histN[v],
    };
  }

  /** Memory a workload asks for when placed now: compat asks for its RAM only at creation. */
  private memDemand(v: number): number {
    if (this.compat) return this.initialPhase ? this.wl.ramMb[v] : 0;
    return this.wl.memMb[v];
  }

  /** CloudSim's UtilizationModelPlanetLabInMemory.getUtilization (data[steps] = data[steps − 1]). */
  private utilAt(v: number, time: number): number {
    const S = this.wl.steps;
    const base = v * S;
    const I = this.dt;
    const u = this.wl.util;
    if (time % I === 0) {
      const k = Math.trunc(time) / Math.trunc(I);
      return u[base + (k >= S ? S - 1 : k)];
    }
    const t1 = Math.floor(time / I);
    const t2 = Math.ceil(time / I);
    const u1 = u[base + (t1 >= S ? S - 1 : t1)];
    const u2 = u[base + (t2 >= S ? S - 1 : t2)];
    const delta = (u2 - u1) / ((t2 - t1) * I);
    return u1 + delta * (time - t1 * I);
  }

  private pushHistory(v: number, u: number): void {
    const head = (this.histHead[v] + 1) % HISTORY;
    this.histHead[v] = head;
    this.histBuf[v * HISTORY + head] = u;
    if (this.histN[v] < HISTORY) this.histN[v]++;
  }

  private addVm(v: number, h: number, mem: number): void {
    this.lists[h].push(v);
    this.host[v] = h;
    this.alive[v] = 1;
    this.memHeld[v] = mem;
    this.memUsed[h] += mem;
  }

  private removeFrom(h: number, v: number): void {
    const l = this.lists[h];
    const i = l.indexOf(v);
    if (i >= 0) l.splice(i, 1);
  }

  /** One VM state-history entry (CloudSim's Vm.addStateHistoryEntry, same-time entries replace). */
  private vmEntry(v: number, t: number, alloc: number, req: number, flag: number): void {
    const pt = this.eT[v];
    if (pt !== t) {
      if (pt >= 0) {
        const d = t - pt;
        const pa = this.eA[v];
        const pr = this.eR[v];
        this.vmAllocTotal += pa * d;
        this.vmReqTotal += pr * d;
        if (pa < pr && this.eF[v]) this.vmMigUnder += (pr - pa) * d;
      }
      this.eT[v] = t;
    }
    this.eA[v] = alloc;
    this.eR[v] = req;
    this.eF[v] = flag;
  }

  private hostEntry(h: number, t: number, alloc: number, req: number, active: number, over: number): void {
    const pt = this.hT[h];
    if (pt !== t) {
      if (pt >= 0 && this.hActive[h]) {
        const d = t - pt;
        this.activeTime += d;
        if (this.hA[h] < this.hR[h]) this.slaTime += d;
        if (this.hOver[h]) this.overTime += d;
      }
      this.hT[h] = t;
    }
    this.hA[h] = alloc;
    this.hR[h] = req;
    this.hActive[h] = active;
    this.hOver[h] = over;
  }

  /**
   * CloudSim's HostDynamicWorkload.updateVmsProcessing with the
   * VmSchedulerTimeSharedOverSubscription allocation: requests capped at the
   * core MIPS; a migrating-in VM counts 10 %; when the host is oversubscribed
   * every allocation is scaled (and floored). Utilization counts a migrating
   * VM's allocation / 0.9.
   */
  private hostUpdateCompat(h: number, t: number): void {
    const l = this.lists[h];
    // an empty host that was already off: nothing changes (inactive entries add no time)
    if (l.length === 0 && this.UM[h] === 0 && this.prevUM[h] === 0 && !this.hActive[h]) return;
    const pe = this.fleet.coreMips[h];
    const total = this.fleet.total[h];
    const mi = this.migIn[h];
    let sum = 0;
    for (let i = 0; i < l.length; i++) {
      const v = l[i];
      const r = this.req[v];
      const c = r > pe ? pe : r;
      sum += mi.size > 0 && mi.has(v) ? c * 0.1 : c;
    }
    const over = sum > total;
    const scale = over ? total / sum : 1;
    this.prevUM[h] = this.UM[h];
    let um = 0;
    let reqTotal = 0;
    const hist = (t - 0.1) % this.dt === 0;
    for (let i = 0; i < l.length; i++) {
      const v = l[i];
      const r = this.req[v];
      const c = r > pe ? pe : r;
      const isIn = mi.size > 0 && mi.has(v);
      const mig = this.inMig[v] === 1;
      let a: number;
      if (!over) a = mig && !isIn ? c * 0.9 : isIn ? c * 0.1 : c;
      else a = Math.floor(mig && !isIn ? c * scale * 0.9 : isIn ? c * 0.1 * scale : c * scale);
      if (hist && t > this.histT[v]) {
        this.pushHistory(v, r / this.wl.mips[v]);
        this.histT[v] = t;
      }
      this.vmEntry(v, t, a, r, mig && !isIn ? 1 : 0);
      um += mig ? a / 0.9 : a;
      reqTotal += r;
    }
    this.UM[h] = um;
    this.hostEntry(h, t, um, reqTotal, um > 0 ? 1 : 0, over ? 1 : 0);
  }

  private setRequests(t: number): void {
    const { alive, req } = this;
    const mips = this.wl.mips;
    for (let v = 0; v < this.nV; v++) if (alive[v]) req[v] = this.utilAt(v, t) * mips[v];
  }

  private powerOf(h: number, um: number): number {
    let u = um / this.fleet.total[h];
    if (u > 1) u = 1;
    return this.fleet.models[h].watts(u);
  }

  /** CloudSim's updateCloudetProcessingWithoutSchedulingFutureEventsForce. */
  private fullUpdateCompat(t: number): void {
    this.setRequests(t);
    for (let h = 0; h < this.nH; h++) this.hostUpdateCompat(h, t);
    const d = t - this.lastT;
    if (d > 0) {
      for (let h = 0; h < this.nH; h++) {
        const pu = this.prevUM[h];
        if (pu === 0) continue;
        const p0 = this.powerOf(h, pu);
        const p1 = this.powerOf(h, this.UM[h]);
        const j = (p0 + (p1 - p0) / 2) * d;
        this.hostJ[h] += j;
        this.energyJ += j;
        if (this.fleet.carbon[h] === this.fleet.carbon[h]) this.carbonG += (j / 3.6e6) * this.fleet.carbon[h];
      }
      let dem = 0;
      for (let v = 0; v < this.nV; v++) if (this.alive[v]) dem += this.req[v];
      // fluid bound: trapezoid of total demand at the best watts per MIPS (from the first update on)
      if (this.lastT > 0.1) this.boundJ += ((this.lastDemand + dem) / 2) * this.bestWpm * d;
      this.lastDemand = dem;
    } else {
      let dem = 0;
      for (let v = 0; v < this.nV; v++) if (this.alive[v]) dem += this.req[v];
      this.lastDemand = dem;
    }
    // VMs whose request is exactly 0 have finished (getCompletedVms)
    for (let h = 0; h < this.nH; h++) {
      const l = this.lists[h];
      for (let i = 0; i < l.length; i++) {
        const v = l[i];
        if (this.inMig[v] || this.req[v] !== 0) continue;
        if (this.host[v] !== h) continue;
        l.splice(i--, 1);
        this.alive[v] = 0;
        this.host[v] = -1;
        this.removed++;
      }
    }
    this.lastT = t;
  }
  private lastDemand = 0;

  private startMigrationCompat(v: number, target: number, t: number): void {
    this.inMig[v] = 1;
    const mi = this.migIn[target];
    if (!mi.has(v)) {
      mi.add(v);
      this.lists[target].push(v);
      this.hostUpdateCompat(target, t);
      this.hostUpdateCompat(this.host[v], t);
    }
  }

  private completeMigrationCompat(v: number, target: number): void {
    const src = this.host[v];
    if (src >= 0) this.removeFrom(src, v);
    this.removeFrom(target, v);
    this.migIn[target].delete(v);
    this.inMig[v] = 0;
    this.lists[target].push(v);
    this.host[v] = target;
  }

  private migTime(v: number, target: number): number {
    return this.wl.ramMb[v] / ((this.fleet.bwMbps[target] * 1000) / (2 * 8000));
  }

  run(policy: SimPolicy, onStep?: (done: number, total: number) => void): SimResult {
    const t0 = performance.now();
    const S = this.wl.steps;
    const series: StepSeries = {
      watts: new Float64Array(S),
      activeHosts: new Int32Array(S),
      overloadedHosts: new Int32Array(S),
      migrations: new Int32Array(S),
      demandMips: new Float64Array(S),
    };
    if (this.compat) this.runCompat(policy, series, onStep);
    else this.runReal(policy, series, onStep);
    let energyJ = this.energyJ;
    const hostKwh = Float64Array.from(this.hostJ, (j) => j / 3.6e6);
    if (policy.allHostsOn) {
      // No power management: every host at full power from 0 to the last update.
      let maxW = 0;
      for (let h = 0; h < this.nH; h++) maxW += this.fleet.models[h].maxWatts;
      energyJ = maxW * this.lastT;
      let carbon = 0;
      for (let h = 0; h < this.nH; h++) {
        hostKwh[h] = (this.fleet.models[h].maxWatts * this.lastT) / 3.6e6;
        if (this.fleet.carbon[h] === this.fleet.carbon[h]) carbon += hostKwh[h] * this.fleet.carbon[h];
      }
      this.carbonG = carbon;
      series.watts.fill(maxW);
      series.activeHosts.fill(this.nH);
    }
    let aSum = 0;
    let aMax = 0;
    let cnt = 0;
    for (let k = 0; k < S; k++) {
      if (series.watts[k] === 0 && series.activeHosts[k] === 0) continue;
      aSum += series.activeHosts[k];
      aMax = Math.max(aMax, series.activeHosts[k]);
      cnt++;
    }
    const energyKwh = energyJ / 3.6e6;
    const lowerBoundKwh = this.boundJ / 3.6e6;
    let pdm: number;
    let slatah: number;
    if (this.compat) {
      slatah = this.activeTime > 0 ? this.slaTime / this.activeTime : 0;
      pdm = this.vmReqTotal > 0 ? this.vmMigUnder / this.vmReqTotal : 0;
    } else {
      slatah = this.activeTime > 0 ? this.overTime / this.activeTime : 0;
      pdm = this.demandTotal > 0 ? this.migDegradation / this.demandTotal : 0;
    }
    const slav = slatah * pdm;
    const hasCarbon = this.fleet.types.some((t) => t.carbon === t.carbon);
    const metrics: SimMetrics = {
      policy: policy.name,
      compat: this.compat,
      energyKwh,
      lowerBoundKwh,
      ratio: lowerBoundKwh > 0 ? energyKwh / lowerBoundKwh : NaN,
      slatah,
      overloadHours: this.overTime / 3600,
      overloadFraction: this.activeTime > 0 ? this.overTime / this.activeTime : 0,
      unmetFraction: this.compat
        ? this.vmReqTotal > 0
          ? Math.max(0, (this.vmReqTotal - this.vmAllocTotal - this.vmMigUnder) / this.vmReqTotal)
          : 0
        : this.demandTotal > 0
          ? this.unmet / this.demandTotal
          : 0,
      pdm,
      slav,
      esv: energyKwh * slav,
      migrations: this.migrations,
      hostShutdowns: this.shutdowns,
      activeHostsMean: cnt ? aSum / cnt : 0,
      activeHostsMax: aMax,
      carbonGrams: hasCarbon ? this.carbonG : null,
      rejected: this.rejected,
      removed: this.removed,
      workloads: this.nV,
      hosts: this.nH,
      wallSeconds: (performance.now() - t0) / 1000,
    };
    return { metrics, series, hostKwh };
  }

  private placeArrivals(policy: SimPolicy, vms: number[]): void {
    if (vms.length === 0) return;
    const hs = policy.place(this.view, vms);
    for (let i = 0; i < vms.length; i++) {
      const v = vms[i];
      const h = hs[i];
      if (h < 0 || h >= this.nH) {
        this.rejected++;
        continue;
      }
      this.addVm(v, h, this.memDemand(v));
    }
  }

  private countShutdowns(before: Int32Array): void {
    for (let h = 0; h < this.nH; h++) if (before[h] > 0 && this.lists[h].length === 0) this.shutdowns++;
  }

  private runCompat(policy: SimPolicy, series: StepSeries, onStep?: (done: number, total: number) => void): void {
    const S = this.wl.steps;
    const limit = S * this.dt;
    // Time 0: VMs are created (full peak CPU and RAM); hosts have not updated yet.
    this.curTime = 0;
    this.curStep = 0;
    this.initialPhase = true;
    const all: number[] = [];
    for (let v = 0; v < this.nV; v++) {
      this.req[v] = this.wl.mips[v];
      all.push(v);
    }
    this.placeArrivals(policy, all);
    this.initialPhase = false;
    // After creation a VM asks for 0 MB: memory no longer constrains.
    this.memUsed.fill(0);
    this.memHeld.fill(0);
    // Cloudlets are submitted at 0.1; the datacenter updates every interval after that.
    let t = 0.1;
    let k = 0;
    const pending: { t: number; v: number; h: number }[] = [];
    const before = new Int32Array(this.nH);
    let lastSeriesJ = 0;
    for (;;) {
      t = t + this.dt;
      k++;
      if (t > limit) break;
      this.curTime = t;
      this.curStep = k;
      if (t > this.lastT) this.fullUpdateCompat(t);
      for (let h = 0; h < this.nH; h++) before[h] = this.lists[h].length;
      const plan = policy.optimize(this.view);
      let migs = 0;
      for (let i = 0; i < plan.length; i += 2) {
        const v = plan[i];
        const h = plan[i + 1];
        if (!this.alive[v] || h < 0 || h >= this.nH) continue;
        this.startMigrationCompat(v, h, t);
        this.migrations++;
        migs++;
        pending.push({ t: t + this.migTime(v, h), v, h });
      }
      // Migration completions, in time order (stable: same time → order of start).
      pending.sort((a, b) => a.t - b.t);
      for (let i = 0; i < pending.length; ) {
        const tc = pending[i].t;
        if (tc > limit) break;
        this.curTime = tc;
        if (tc > this.lastT) this.fullUpdateCompat(tc);
        let j = i;
        while (j < pending.length && pending[j].t === tc) {
          this.completeMigrationCompat(pending[j].v, pending[j].h);
          j++;
        }
        this.fullUpdateCompat(tc);
        i = j;
      }
      pending.length = 0;
      this.countShutdowns(before);
      // series: the interval ending at this update
      const idx = Math.min(S - 1, k);
      series.watts[idx] = k > 1 ? (this.energyJ - lastSeriesJ) / this.dt : 0;
      lastSeriesJ = this.energyJ;
      let act = 0;
      let ov = 0;
      for (let h = 0; h < this.nH; h++) {
        if (this.UM[h] > 0) act++;
        if (this.hOver[h]) ov++;
      }
      series.activeHosts[idx] = act;
      series.overloadedHosts[idx] = ov;
      series.migrations[idx] = migs;
      series.demandMips[idx] = this.lastDemand;
      onStep?.(k, S - 1);
    }
  }

  /** Real mode: updates at 0, Δ, …, S·Δ; demand at step k is sample k (the last repeats). */
  private realUpdate(k: number): void {
    const S = this.wl.steps;
    const kk = k >= S ? S - 1 : k;
    const { util, mips } = this.wl;
    const d = this.dt;
    for (let v = 0; v < this.nV; v++) if (this.alive[v]) this.req[v] = util[v * S + kk] * mips[v];
    const dem = this.aliveDemand();
    for (let h = 0; h < this.nH; h++) {
      const total = this.fleet.total[h];
      const sum = this.requested(h);
      this.prevUM[h] = this.UM[h];
      this.UM[h] = sum > total ? total : sum;
      if (k > 0) {
        let j: number;
        if (this.prevCount[h] > 0) {
          const p0 = this.powerOf(h, this.prevUM[h]);
          const p1 = this.powerOf(h, this.UM[h]);
          j = ((p0 + p1) / 2) * d;
          this.activeTime += d;
          // overload: linear demand between the two updates, above capacity
          const a = this.prevOver[h];
          const b = sum - total;
          let frac = 0;
          let area = 0;
          if (a > 0 && b > 0) {
            frac = 1;
            area = (a + b) / 2;
          } else if (a > 0 || b > 0) {
            const pos = a > 0 ? a : b;
            frac = pos / (Math.abs(a) + Math.abs(b));
            area = (pos * frac) / 2;
          }
          this.overTime += frac * d;
          this.unmet += area * d;
        } else j = this.fleet.standby[h] * d;
        this.hostJ[h] += j;
        this.energyJ += j;
        if (this.fleet.carbon[h] === this.fleet.carbon[h]) this.carbonG += (j / 3.6e6) * this.fleet.carbon[h];
      }
    }
    if (k > 0) {
      this.boundJ += ((this.lastDemand + dem) / 2) * this.bestWpm * d;
      this.demandTotal += ((this.lastDemand + dem) / 2) * d;
    }
    this.lastDemand = dem;
  }

  /** After decisions: the configuration the next interval runs with. */
  /** Total demand of the VMs still alive, MIPS. */
  private aliveDemand(): number {
    let dem = 0;
    for (let v = 0; v < this.nV; v++) if (this.alive[v]) dem += this.req[v];
    return dem;
  }

  /** What host h's VMs request, each capped at one core's MIPS (a VM has one core). */
  private requested(h: number): number {
    const l = this.lists[h];
    const pe = this.fleet.coreMips[h];
    let sum = 0;
    for (let i = 0; i < l.length; i++) {
      const r = this.req[l[i]];
      sum += r > pe ? pe : r;
    }
    return sum;
  }

  private realSettle(): void {
    this.lastDemand = this.aliveDemand();
    for (let h = 0; h < this.nH; h++) {
      const total = this.fleet.total[h];
      const sum = this.requested(h);
      this.UM[h] = sum > total ? total : sum;
      this.prevCount[h] = this.lists[h].length;
      this.prevOver[h] = sum - total;
    }
  }

  private runReal(policy: SimPolicy, series: StepSeries, onStep?: (done: number, total: number) => void): void {
    const S = this.wl.steps;
    const before = new Int32Array(this.nH);
    const { arrival, departure, util, mips } = this.wl;
    let lastJ = 0;
    for (let k = 0; k <= S; k++) {
      this.curTime = k * this.dt;
      this.curStep = k;
      this.realUpdate(k);
      if (k > 0) {
        series.watts[k - 1] = (this.energyJ - lastJ) / this.dt;
        lastJ = this.energyJ;
        let act = 0;
        let ov = 0;
        for (let h = 0; h < this.nH; h++) {
          if (this.prevCount[h] > 0) act++;
          if (this.prevOver[h] > 0 || this.UM[h] >= this.fleet.total[h]) ov += this.prevCount[h] > 0 && this.prevOver[h] > 0 ? 1 : 0;
        }
        series.activeHosts[k - 1] = act;
        series.overloadedHosts[k - 1] = ov;
        series.demandMips[k - 1] = this.lastDemand;
      }
      if (k === S) break;
      for (let v = 0; v < this.nV; v++) if (this.alive[v]) this.pushHistory(v, util[v * S + k]);
      for (let h = 0; h < this.nH; h++) before[h] = this.lists[h].length;
      // departures
      for (let v = 0; v < this.nV; v++) {
        if (this.alive[v] && departure[v] <= k) {
          const h = this.host[v];
          this.removeFrom(h, v);
          this.memUsed[h] -= this.memHeld[v];
          this.alive[v] = 0;
          this.host[v] = -1;
        }
      }
      // arrivals
      const arr: number[] = [];
      for (let v = 0; v < this.nV; v++) {
        if (arrival[v] === k) {
          this.req[v] = util[v * S + k] * mips[v];
          this.pushHistory(v, util[v * S + k]);
          arr.push(v);
        }
      }
      this.placeArrivals(policy, arr);
      // migrations: the workload moves at the step; it loses 10 % of its demand while memory copies
      const plan = policy.optimize(this.view);
      let migs = 0;
      for (let i = 0; i < plan.length; i += 2) {
        const v = plan[i];
        const h = plan[i + 1];
        if (!this.alive[v] || h < 0 || h >= this.nH || this.host[v] === h) continue;
        const src = this.host[v];
        this.removeFrom(src, v);
        this.memUsed[src] -= this.memHeld[v];
        this.lists[h].push(v);
        this.memUsed[h] += this.memHeld[v];
        this.host[v] = h;
        this.migDegradation += 0.1 * this.req[v] * this.migTime(v, h);
        this.migrations++;
        migs++;
      }
      series.migrations[k] = migs;
      this.countShutdowns(before);
      this.realSettle();
      onStep?.(k + 1, S);
    }
    this.lastT = S * this.dt;
  }
}

export function simulate(fleet: Fleet, wl: Workloads, policy: SimPolicy, opts: SimOptions): SimResult {
  return new Simulator(fleet, wl, opts).run(policy, opts.onStep);
}

export type { PowerModel };
