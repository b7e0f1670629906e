import { HISTORY, type SimPolicy, type SimView } from '../engine';

/**
 * CloudSim 3.0.3's power-aware dynamic consolidation
 * (PowerVmAllocationPolicyMigrationAbstract and subclasses), as used in the
 * PlanetLab experiment of Beloglazov & Buyya (CCPE 2012):
 *
 *  - overload detection: THR (requested MIPS / host MIPS > threshold) or LR
 *    (least squares over the host's last 10 utilization values, predicted one
 *    migration ahead, × safety ≥ 1; THR 0.7 as fallback while the history is
 *    shorter than 10). CloudSim's "loess" weights are never applied (its
 *    weighting branch needs 40 % zero weights), so this is plain OLS.
 *  - VM selection MMT: the VM with the least RAM (first in host order on ties),
 *    repeated until the host is no longer overloaded.
 *  - placement PABFD: VMs by decreasing CPU demand; each to the host with the
 *    least power increase, P(u_after) − P(u at the last update), among hosts
 *    that fit (core MIPS, free MIPS, memory) and are not overloaded after it.
 *  - underload: every active host in increasing utilization is drained when
 *    all its VMs fit elsewhere; the overload phase's targets are not excluded
 *    (the original's bug), so a VM may move twice in one step.
 *
 * The planning state mirrors CloudSim's: host VM lists change as VMs are
 * tentatively created and destroyed; utilization for power ("host.getPower")
 * stays at the last update's value.
 */
export class CloudSimPolicy implements SimPolicy {
  readonly name: string;
  private lists: number[][] = [];
  private sCap = new Float64Array(0);
  private sReq = new Float64Array(0);
  private sReqOv = new Float64Array(0);
  private memFree = new Float64Array(0);
  private bwCount = new Int32Array(0);
  private staleP = new Float64Array(0);
  private histSum = new Float64Array(0);
  private histLenH = new Int32Array(0);
  private histDirty = new Uint8Array(0);
  private v!: SimView;

  constructor(
    readonly kind: 'thr' | 'lr',
    readonly param: number = kind === 'thr' ? 0.8 : 1.2,
    /** THR fallback threshold while LR lacks history. */
    readonly fallback = 0.7,
    /** VMs per host allowed by bandwidth at creation (1 Gbit/s host, 100 Mbit/s VM). */
    readonly bwSlots = 10,
  ) {
    this.name = `${kind}-mmt`;
  }

  private begin(view: SimView): void {
    this.v = view;
    const n = view.fleet.n;
    if (this.sCap.length !== n) {
      this.sCap = new Float64Array(n);
      this.sReq = new Float64Array(n);
      this.sReqOv = new Float64Array(n);
      this.memFree = new Float64Array(n);
      this.bwCount = new Int32Array(n);
      this.staleP = new Float64Array(n);
      this.histSum = new Float64Array(n * HISTORY);
      this.histLenH = new Int32Array(n);
      this.histDirty = new Uint8Array(n);
    }
    const f = view.fleet;
    this.lists = new Array(n);
    for (let h = 0; h < n; h++) {
      const l = view.lists[h].slice();
      this.lists[h] = l;
      let cap = 0;
      let req = 0;
      const pe = f.coreMips[h];
      for (const vm of l) {
        const r = view.req[vm];
        cap += r > pe ? pe : r;
        req += r;
      }
      this.sCap[h] = cap;
      this.sReq[h] = req;
      this.sReqOv[h] = view.initial ? 0 : req;
      this.memFree[h] = f.ramMb[h] - view.memUsed[h];
      this.bwCount[h] = l.length;
      let u = view.used[h] / f.total[h];
      if (u > 1) u = 1;
      this.staleP[h] = f.models[h].watts(u);
      this.histDirty[h] = 1;
    }
  }

  private capped(h: number, vm: number): number {
    const r = this.v.req[vm];
    const pe = this.v.fleet.coreMips[h];
    return r > pe ? pe : r;
  }

  private create(h: number, vm: number): void {
    this.lists[h].push(vm);
    const r = this.v.req[vm];
    this.sCap[h] += this.capped(h, vm);
    this.sReq[h] += r;
    this.sReqOv[h] += this.v.initial ? 0 : r;
    this.memFree[h] -= this.v.memOf(vm);
    this.bwCount[h]++;
    this.histDirty[h] = 1;
  }

  private destroy(h: number, vm: number): void {
    const l = this.lists[h];
    const i = l.indexOf(vm);
    if (i < 0) return;
    l.splice(i, 1);
    const r = this.v.req[vm];
    this.sCap[h] -= this.capped(h, vm);
    this.sReq[h] -= r;
    this.sReqOv[h] -= this.v.initial ? 0 : r;
    this.memFree[h] += this.v.memOf(vm);
    this.bwCount[h]--;
    if (l.length === 0) {
      this.sCap[h] = 0;
      this.sReq[h] = 0;
      this.sReqOv[h] = 0;
    }
    this.histDirty[h] = 1;
  }

  /** Σ allocated MIPS (getUtilizationOfCpuMips). */
  private utilMips(h: number): number {
    const t = this.v.fleet.total[h];
    return this.sCap[h] <= t ? this.sCap[h] : t;
  }

  private available(h: number): number {
    const t = this.v.fleet.total[h];
    return this.sCap[h] <= t ? t - this.sCap[h] : 0;
  }

  private refreshHist(h: number): void {
    if (!this.histDirty[h]) return;
    this.histDirty[h] = 0;
    const base = h * HISTORY;
    const hs = this.histSum;
    hs.fill(0, base, base + HISTORY);
    const total = this.v.fleet.total[h];
    for (const vm of this.lists[h]) {
      const n = this.v.histLen(vm);
      const w = this.v.wl.mips[vm] / total;
      for (let i = 0; i < n; i++) hs[base + i] += this.v.hist(vm, i) * w;
    }
    let len = HISTORY;
    while (len > 0 && hs[base + len - 1] === 0) len--;
    this.histLenH[h] = len;
  }

  private readonly y = new Float64Array(10);

  /** LR over the host's history, with `extra` VM added (−1 = none); null when too short. */
  private lrPredict(h: number, extra: number): number | null {
    this.refreshHist(h);
    const base = h * HISTORY;
    const total = this.v.fleet.total[h];
    let len = this.histLenH[h];
    let en = 0;
    let w = 0;
    if (extra >= 0) {
      en = this.v.histLen(extra);
      w = this.v.wl.mips[extra] / total;
      // trimZeroTail of the sum
      let el = en;
      while (el > 0 && this.v.hist(extra, el - 1) === 0) el--;
      if (el > len) len = el;
    }
    if (len < 10) return null;
    const y = this.y;
    // reversed: oldest of the 10 most recent first
    for (let i = 0; i < 10; i++) {
      const idx = 9 - i;
      let val = this.histSum[base + idx];
      if (extra >= 0 && idx < en) val += this.v.hist(extra, idx) * w;
      y[i] = val;
    }
    // OLS on x = 1..10
    let sy = 0;
    let sxy = 0;
    for (let i = 0; i < 10; i++) {
      sy += y[i];
      sxy += (i + 1) * y[i];
    }
    const sx = 55;
    const sxx = 385;
    const slope = (10 * sxy - sx * sy) / (10 * sxx - sx * sx);
    const intercept = (sy - slope * sx) / 10;
    // migration intervals: ⌈max RAM migration time / interval⌉
    let maxRam = -Infinity;
    for (const vm of this.lists[h]) if (this.v.wl.ramMb[vm] > maxRam) maxRam = this.v.wl.ramMb[vm];
    if (extra >= 0 && this.v.wl.ramMb[extra] > maxRam) maxRam = this.v.wl.ramMb[extra];
    const bw = this.v.fleet.bwMbps[h];
    const migIntervals = Math.ceil(maxRam / ((bw * 1000) / (2 * 8000)) / this.v.stepSeconds);
    return (intercept + slope * (10 + migIntervals)) * this.param;
  }

  private overloaded(h: number, extra = -1): boolean {
    const total = this.v.fleet.total[h];
    if (this.kind === 'lr') {
      const p = this.lrPredict(h, extra);
      if (p !== null) return p >= 1;
      const r = this.sReqOv[h] + (extra >= 0 ? this.v.req[extra] : 0);
      return r / total > this.fallback;
    }
    const r = this.sReqOv[h] + (extra >= 0 ? this.v.req[extra] : 0);
    return r / total > this.param;
  }

  private findHost(vm: number, excluded: Uint8Array | null): number {
    const f = this.v.fleet;
    const r = this.v.req[vm];
    const mem = this.v.memOf(vm);
    let best = -1;
    let min = Infinity;
    for (let h = 0; h < f.n; h++) {
      if (excluded && excluded[h]) continue;
      if (f.coreMips[h] < r || this.available(h) < r || this.memFree[h] < mem) continue;
      if (this.v.initial && this.v.compat && this.bwCount[h] >= this.bwSlots) continue;
      const um = this.utilMips(h);
      if (um !== 0 && this.overloaded(h, vm)) continue;
      const u = (um + r) / f.total[h];
      if (u > 1) continue;
      const diff = f.models[h].watts(u) - this.staleP[h];
      if (diff < min) {
        min = diff;
        best = h;
      }
    }
    return best;
  }

  place(view: SimView, vms: readonly number[]): Int32Array {
    this.begin(view);
    const out = new Int32Array(vms.length).fill(-1);
    for (let i = 0; i < vms.length; i++) {
      const h = this.findHost(vms[i], null);
      if (h >= 0) {
        this.create(h, vms[i]);
        out[i] = h;
      }
    }
    return out;
  }

  private sortByReqDesc(vms: number[]): number[] {
    const req = this.v.req;
    return vms
      .map((vm, i) => ({ vm, i }))
      .sort((a, b) => req[b.vm] - req[a.vm] || a.i - b.i)
      .map((x) => x.vm);
  }

  optimize(view: SimView): number[] {
    this.begin(view);
    const f = view.fleet;
    const n = f.n;
    const plan: number[] = [];
    // 1. over-utilized hosts
    const over = new Uint8Array(n);
    const overList: number[] = [];
    for (let h = 0; h < n; h++) {
      if (this.lists[h].length > 0 && this.overloaded(h)) {
        over[h] = 1;
        overList.push(h);
      }
    }
    let toMigrate: number[] = [];
    for (const h of overList) {
      for (;;) {
        const l = this.lists[h];
        if (l.length === 0) break;
        let pick = -1;
        let minRam = Infinity;
        for (const vm of l) {
          const ram = view.wl.ramMb[vm];
          if (ram < minRam) {
            minRam = ram;
            pick = vm;
          }
        }
        if (pick < 0) break;
        toMigrate.push(pick);
        this.destroy(h, pick);
        if (!this.overloaded(h)) break;
      }
    }
    toMigrate = this.sortByReqDesc(toMigrate);
    for (const vm of toMigrate) {
      const h = this.findHost(vm, over);
      if (h >= 0) {
        this.create(h, vm);
        plan.push(vm, h);
      }
    }
    // 2. under-utilized hosts, least utilized first
    const exclUnder = new Uint8Array(n);
    const exclPlace = new Uint8Array(n);
    let excluded = 0;
    for (let h = 0; h < n; h++) {
      const off = view.used[h] === 0;
      if (over[h] || off) {
        exclUnder[h] = 1;
        exclPlace[h] = 1;
        excluded++;
      }
    }
    for (;;) {
      if (excluded >= n) break;
      let pick = -1;
      let minU = 1;
      for (let h = 0; h < n; h++) {
        if (exclUnder[h]) continue;
        const u = view.used[h] / f.total[h];
        if (u > 0 && u < minU && this.lists[h].length > 0) {
          minU = u;
          pick = h;
        }
      }
      if (pick < 0) break;
      exclUnder[pick] = 1;
      excluded++;
      exclPlace[pick] = 1;
      const vms = this.sortByReqDesc(this.lists[pick].slice());
      if (vms.length === 0) continue;
      const made: number[] = [];
      let ok = true;
      for (const vm of vms) {
        const h = this.findHost(vm, exclPlace);
        if (h < 0) {
          ok = false;
          break;
        }
        this.create(h, vm);
        made.push(vm, h);
      }
      if (!ok) {
        for (let i = 0; i < made.length; i += 2) this.destroy(made[i + 1], made[i]);
        continue;
      }
      for (let i = 0; i < made.length; i += 2) {
        const h = made[i + 1];
        if (!exclUnder[h]) {
          exclUnder[h] = 1;
          excluded++;
        }
        plan.push(made[i], h);
      }
    }
    return plan;
  }
}
