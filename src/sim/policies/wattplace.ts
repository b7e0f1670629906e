import { NoFeasibleHostError, PowerState, cpuMillis, epochMs, memBytes, watts, type HostSample, type HostSpec } from '../../domain';
import { DEFAULT_CORE_CONFIG, Wattplace, type CoreConfig } from '../../decision/wattplace';
import { DEFAULT_FORECAST, WorkloadForecaster, type ForecastConfig } from '../../decision/forecast';
import { DEFAULT_REBALANCE, Rebalancer, efficiencyOrder, type RebalanceConfig, type RebalanceHosts, type RebalanceWorkloads } from '../../decision/rebalance';
import { DEFAULT_OVERLOAD_CONTROL, DEFAULT_OVERLOAD_TARGET, OverloadController, intervalOverload, type Margins, type OverloadTargetConfig } from '../../decision/overload-target';
import type { SimPolicy, SimView } from '../engine';

const MIB = 1024 * 1024;

export interface WattplacePolicyConfig {
  readonly forecast: ForecastConfig;
  readonly rebalance: RebalanceConfig;
  /** Hot-path settings of the embedded core (the ceiling is 1: the margin is in the reported load). */
  readonly core: CoreConfig;
  /** Also keep every host's measured demand within capacity (see RebalanceWorkloads.current). */
  readonly useCurrent: boolean;
  /**
   * The operator's overload target (share of active host time above capacity):
   * the margins come from an OverloadController fed the measured overload of
   * every interval, and rebalance's z / drainZ / openZ are ignored. Absent =
   * the fixed margins of `rebalance` (expert setting).
   */
  readonly overloadTarget?: number;
  /** Controller settings other than the target (expert; see overload-target.ts). */
  readonly control?: Partial<OverloadTargetConfig>;
}

export const DEFAULT_WATTPLACE_POLICY: WattplacePolicyConfig = {
  forecast: DEFAULT_FORECAST,
  rebalance: DEFAULT_REBALANCE,
  // maxBatch is the RPC batch limit (one gRPC message); an offline simulation
  // registers its whole fleet at once and is limited by memory only (see run.ts).
  core: { ...DEFAULT_CORE_CONFIG, cpuCeiling: 1, staleAfterMs: 3_600_000, maxClockSkewMs: 0, maxBatch: Number.MAX_SAFE_INTEGER },
  useCurrent: true,
  overloadTarget: DEFAULT_OVERLOAD_TARGET,
};

/**
 * Fixed margins, no target: the policy before the overload target (z 0.5,
 * drainZ 1, openZ 0, forecast only, no burst scale from the size, no cap by the room to rise). An expert setting; it runs hot (about
 * 11 % overloaded host time on the PlanetLab days, see benchmarks/RESULTS.md).
 */
export const FIXED_MARGIN_POLICY: WattplacePolicyConfig = {
  ...DEFAULT_WATTPLACE_POLICY,
  forecast: { ...DEFAULT_FORECAST, sizeSigma: 0, roomSigmas: 0 },
  useCurrent: false,
  overloadTarget: undefined,
};

/**
 * The deployed scheduler, driven by the simulator the way an orchestrator
 * drives the service:
 *  - telemetry: every host reports its load each interval into the core's
 *    store (utilization = forecast demand + safety margin, so the hot path's
 *    capacity and ceiling filters see the same safe load the planner does);
 *  - arrivals: `DecisionEngine.place` (the gRPC Place path) with the running
 *    hosts as candidates; when none fits, the most efficient empty host;
 *  - every interval: the decision layer's forecaster and Rebalancer
 *    (overload relief, drains under a stricter margin, migration budget).
 * No placement or consolidation logic lives here.
 */
export class WattplacePolicy implements SimPolicy {
  readonly name: string;
  private core: Wattplace | null = null;
  private readonly fc: WorkloadForecaster;
  private readonly rb: Rebalancer;
  private readonly control: OverloadController | null;
  private margins: Margins;
  private overStep = -1;
  private prevReq = new Float64Array(0);
  private nowMs = 0;
  private sampleMs = 0;
  private ids: string[] = [];
  private hosts: RebalanceHosts | null = null;
  private order: Int32Array | null = null;
  private observedStep: Int32Array = new Int32Array(0);
  private w: {
    host: Int32Array;
    mean: Float64Array;
    variance: Float64Array;
    mem: Float64Array;
    cost: Float64Array;
    current: Float64Array;
  } | null = null;

  constructor(
    readonly cfg: WattplacePolicyConfig = DEFAULT_WATTPLACE_POLICY,
    name = 'wattplace',
  ) {
    this.name = name;
    this.fc = new WorkloadForecaster(cfg.forecast);
    this.rb = new Rebalancer(cfg.rebalance);
    this.control = cfg.overloadTarget === undefined ? null : new OverloadController({ ...DEFAULT_OVERLOAD_CONTROL, ...cfg.control, target: cfg.overloadTarget });
    this.margins = this.control ? this.control.margins() : cfg.rebalance;
  }

  /**
   * Once per interval, before any decision: the overload of the interval that
   * just ended on every host (demand of the VMs it ran, each capped at one
   * core, at the interval's start and end; see intervalOverload) goes to the
   * controller, which sets this interval's margins.
   */
  private control1(view: SimView): void {
    if (!this.control || this.overStep === view.step || view.initial) return;
    this.overStep = view.step;
    const f = view.fleet;
    let prev = this.prevReq;
    if (prev.length < view.wl.n) prev = this.prevReq = new Float64Array(view.wl.n).fill(NaN);
    let active = 0;
    let over = 0;
    for (let h = 0; h < f.n; h++) {
      const l = view.lists[h];
      if (l.length === 0) continue;
      const pe = f.coreMips[h];
      let a = 0;
      let b = 0;
      let known = false;
      for (let i = 0; i < l.length; i++) {
        const v = l[i];
        const r = view.req[v];
        const p = prev[v];
        b += r > pe ? pe : r;
        if (p === p) {
          known = true;
          a += p > pe ? pe : p;
        } else a += r > pe ? pe : r;
      }
      if (!known) continue; // a host opened for arrivals only: it ran nothing yet
      active++;
      over += intervalOverload(a, b, f.total[h]);
    }
    for (let v = 0; v < view.wl.n; v++) prev[v] = view.alive[v] ? view.req[v] : NaN;
    this.control.observe(over, active);
    this.margins = this.control.margins();
  }

  private init(view: SimView): void {
    if (this.core) return;
    const f = view.fleet;
    this.core = new Wattplace(this.cfg.core, () => this.nowMs);
    this.ids = Array.from({ length: f.n }, (_, h) => `h${h}`);
    const specs: HostSpec[] = this.ids.map((id, h) => ({
      id,
      site: f.types[f.typeOf[h]].site,
      capacity: { cpuMillis: cpuMillis(Math.round(f.total[h])), memBytes: memBytes(Math.round(f.ramMb[h] * MIB)) },
      power: f.models[h].spec,
      state: PowerState.STANDBY,
      labels: {},
    }));
    this.core.registerHosts(specs);
    this.hosts = { n: f.n, cap: f.total, memCap: f.ramMb, models: f.models };
    this.order = efficiencyOrder(this.hosts);
    const n = view.wl.n;
    this.fc.ensure(n);
    for (let v = 0; v < n; v++) this.fc.reset(v);
    this.observedStep = new Int32Array(n).fill(-1);
    this.w = {
      host: new Int32Array(n),
      mean: new Float64Array(n),
      variance: new Float64Array(n),
      mem: new Float64Array(n),
      cost: Float64Array.from(view.wl.ramMb),
      current: new Float64Array(n),
    };
  }

  private observe(view: SimView, v: number): void {
    if (this.observedStep[v] === view.step) return;
    this.observedStep[v] = view.step;
    this.fc.observe(v, view.req[v]);
  }

  private mean(view: SimView, v: number): number {
    return this.fc.count(v) > 0 ? this.fc.forecast(v) : view.req[v];
  }

  /**
   * Workload v's size on host h: its MIPS, at most one of the host's cores (a
   * VM has one core). It is also the hard limit of its demand (the engine caps
   * the demand there).
   */
  private size(view: SimView, v: number, h: number): number {
    const pe = view.fleet.coreMips[h];
    const m = view.wl.mips[v];
    return m > pe ? pe : m;
  }

  /** Workload v's s² on host h: its size scales a burst and limits the rise (see forecast.ts). */
  private variance(view: SimView, v: number, h: number): number {
    const sz = this.size(view, v, h);
    return this.fc.variance(v, sz, sz);
  }

  /** Reports every host's safe load to the core's store, as telemetry would. */
  private report(view: SimView): void {
    const core = this.core as Wattplace;
    const f = view.fleet;
    this.nowMs = Math.round(view.time * 1000);
    const t = Math.max(this.nowMs, this.sampleMs + 1);
    this.sampleMs = t;
    this.nowMs = t;
    const z = this.margins.z;
    const samples: HostSample[] = new Array(f.n);
    for (let h = 0; h < f.n; h++) {
      let m = 0;
      let s = 0;
      for (const v of view.lists[h]) {
        m += this.mean(view, v);
        if (this.fc.count(v) > 0) s += this.variance(view, v, h);
      }
      const load = Math.min(f.total[h], m + z * Math.sqrt(s));
      const u = load / f.total[h];
      const mem = Math.min(f.ramMb[h], view.memUsed[h]);
      samples[h] = {
        hostId: this.ids[h],
        time: epochMs(t),
        watts: watts(view.lists[h].length ? f.models[h].watts(u) : f.standby[h]),
        cpuUtil: u,
        memUtil: mem / f.ramMb[h],
        allocated: { cpuMillis: cpuMillis(Math.round(load)), memBytes: memBytes(Math.round(mem * MIB)) },
      };
      core.store.setPowerState(this.ids[h], view.lists[h].length ? PowerState.ON : PowerState.STANDBY);
    }
    const r = core.report(samples);
    if (r.rejected > 0) throw new Error(`simulated telemetry rejected: ${r.errors[0]?.field} ${r.errors[0]?.reason}`);
    core.collector.refresh();
  }

  place(view: SimView, vms: readonly number[]): Int32Array {
    this.init(view);
    const core = this.core as Wattplace;
    this.control1(view);
    for (const v of vms) if (!view.initial) this.observe(view, v);
    this.report(view);
    const f = view.fleet;
    // What the orchestrator's own pre-filter knows: CPU and memory left per host
    // after what it placed (the reported safe load, then this batch).
    const freeCpu = new Float64Array(f.n);
    const freeMem = new Float64Array(f.n);
    const snap = core.collector.current();
    const open = new Uint8Array(f.n);
    const running: number[] = [];
    for (let h = 0; h < f.n; h++) {
      freeCpu[h] = snap.capCpu[h] - snap.allocCpu[h];
      freeMem[h] = snap.capMem[h] - snap.allocMem[h];
      if (view.lists[h].length > 0) {
        open[h] = 1;
        running.push(h);
      }
    }
    const order = this.order as Int32Array;
    let next = 0;
    const reservations: string[] = [];
    const out = new Int32Array(vms.length).fill(-1);
    // Candidates by snapshot index (hosts were registered in fleet order, so index h is host h, as
    // r.hostIndex below relies on): the engine's by-index entry, without a name lookup per candidate.
    const cands = new Int32Array(running.length + vms.length);
    for (let i = 0; i < vms.length; i++) {
      const v = vms[i];
      const cpu = Math.ceil(this.mean(view, v));
      const mem = Math.ceil(view.memOf(v) * MIB);
      const workload = { id: view.wl.ids[v], demand: { cpuMillis: cpuMillis(cpu), memBytes: memBytes(mem) }, selector: {} };
      let host = -1;
      // candidates: running hosts with room (Nova's placement service hands over such a list)
      let nc = 0;
      for (const h of running) if (freeCpu[h] >= cpu && freeMem[h] >= mem) cands[nc++] = h;
      if (nc > 0) {
        try {
          const r = core.engine.place({ workload, candidateHosts: cands.subarray(0, nc) });
          host = r.hostIndex;
          reservations.push(r.reservationId);
        } catch (e) {
          if (!(e instanceof NoFeasibleHostError)) throw e;
        }
      }
      // none of the running hosts fits: wake the most efficient empty host that does
      while (host < 0 && next < order.length) {
        const h = order[next++];
        if (open[h] || freeCpu[h] < cpu || freeMem[h] < mem) continue;
        try {
          const r = core.engine.place({ workload, candidates: [{ hostId: this.ids[h] }] });
          host = r.hostIndex;
          reservations.push(r.reservationId);
          open[h] = 1;
          running.push(h);
        } catch (e) {
          if (!(e instanceof NoFeasibleHostError)) throw e;
        }
      }
      if (host >= 0) {
        freeCpu[host] -= cpu;
        freeMem[host] -= mem;
      }
      out[i] = host;
    }
    // the next report carries the allocations: the reservations are done
    for (const id of reservations) core.engine.release(id);
    return out;
  }

  optimize(view: SimView): number[] {
    this.init(view);
    this.control1(view);
    const w = this.w as NonNullable<typeof this.w>;
    const n = view.wl.n;
    for (let v = 0; v < n; v++) {
      if (!view.alive[v] || view.host[v] < 0) {
        w.host[v] = -1;
        continue;
      }
      this.observe(view, v);
      w.host[v] = view.host[v];
      w.mean[v] = this.mean(view, v);
      w.variance[v] = this.variance(view, v, w.host[v]);
      w.mem[v] = view.memOf(v);
      const pe = view.fleet.coreMips[w.host[v]];
      w.current[v] = view.req[v] > pe ? pe : view.req[v];
    }
    const wl: RebalanceWorkloads = { n, host: w.host, mean: w.mean, variance: w.variance, mem: w.mem, cost: w.cost, current: this.cfg.useCurrent ? w.current : undefined };
    return this.rb.plan(this.hosts as RebalanceHosts, wl, this.margins).migrations;
  }
}
