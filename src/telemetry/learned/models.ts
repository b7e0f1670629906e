import { PowerState, type HostSample, type HostSpec, type PowerModelSpec } from '../../domain';
import { createPowerModel, type PowerModel } from '../../power';
import { fitPowerCurve, MIN_FIT_POINTS, rejectFit, type LearnedForm, type PowerFit } from '../../power/learned';
import type { TelemetryListener } from '../store';

export type LearnedMode = 'off' | 'report' | 'use';

export interface LearnedConfig {
  /** off: nothing kept; report: fit and expose; use: also replace the declared model once good enough. */
  readonly mode: LearnedMode;
  readonly form: LearnedForm;
  /** Per-host ring buffer of (util, watts) pairs. */
  readonly window: number;
  readonly minSamples: number;
  readonly minR2: number;
  /** RMSE at most this fraction of the fitted P(1). */
  readonly maxRmse: number;
  readonly minUtilSpan: number;
  /** Refit period, ms (0: only on request). */
  readonly refitMs: number;
}

export const DEFAULT_LEARNED_CONFIG: LearnedConfig = {
  mode: 'off',
  form: 'table',
  window: 512,
  minSamples: 200,
  minR2: 0.9,
  maxRmse: 0.05,
  minUtilSpan: 0.5,
  refitMs: 60_000,
};

/** What the store needs to offer: host lookup and swapping a host's effective model. */
export interface ModelTarget {
  hostIndex(id: string): number;
  /** Sets the model decisions use for host index h; null restores the declared one. */
  setPowerModel(h: number, model: PowerModel | null): void;
}

export interface LearnedDescription {
  readonly hostId: string;
  readonly declared: PowerModelSpec;
  /** The latest fit (its spec carries the declared standby watts), if any. */
  readonly fit?: PowerFit;
  readonly fittedAtMs?: number;
  readonly inUse: boolean;
  /** Why the fit is not in use ('' when it is). */
  readonly reason: string;
  /** Pairs currently held for this host. */
  readonly windowSamples: number;
}

interface HostState {
  declared: PowerModelSpec;
  state: PowerState;
  fit?: PowerFit;
  model?: PowerModel;
  fittedAtMs?: number;
  inUse: boolean;
  reason: string;
}

/**
 * Learned power models per host. A TelemetryListener: every accepted sample
 * of a host that is ON adds its (cpu_util, watts) to the host's ring buffer
 * (Float32Array, allocated on the host's first sample; `window` pairs). Fits
 * run every `refitMs` for hosts with enough new samples (an eighth of the
 * window), a few hosts per tick so that one refit never blocks the event
 * loop, or on request (`describe(id, true)`). With mode `use`, a fit that
 * passes the thresholds replaces the declared model in the store (decisions
 * use it from the next snapshot); a later fit that fails them restores the
 * declared model.
 */
export class LearnedPowerModels implements TelemetryListener {
  private rings: (Float32Array | undefined)[] = [];
  private count = new Int32Array(16);
  private pos = new Int32Array(16);
  private fresh = new Int32Array(16);
  /** Time of the oldest live sample in the window (NaN: none), so history never duplicates it. */
  private firstMs = new Float64Array(16).fill(NaN);
  private hosts: (HostState | undefined)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private cursor = 0;
  /** Hosts fitted per timer tick. */
  private static readonly PER_TICK = 50;

  constructor(
    readonly config: LearnedConfig,
    private readonly target: ModelTarget,
    private readonly onModelChange: () => void,
    private readonly clock: () => number = Date.now,
  ) {}

  get enabled(): boolean {
    return this.config.mode !== 'off';
  }

  /** For HistorySink (InfluxDB): how many recent pairs per host to read. */
  get historyLimit(): number {
    return this.config.window;
  }

  private ensure(h: number): void {
    if (h < this.count.length) return;
    const n = Math.max(h + 1, this.count.length * 2);
    const grow = (a: Int32Array) => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    this.count = grow(this.count);
    this.pos = grow(this.pos);
    this.fresh = grow(this.fresh);
    const f = new Float64Array(n).fill(NaN);
    f.set(this.firstMs);
    this.firstMs = f;
  }

  hostsRegistered(specs: readonly HostSpec[]): void {
    for (const spec of specs) {
      const h = this.target.hostIndex(spec.id);
      if (h < 0) continue;
      this.ensure(h);
      const s = this.hosts[h];
      if (!s) {
        this.hosts[h] = { declared: spec.power, state: spec.state, inUse: false, reason: 'no fit yet' };
        continue;
      }
      const standbyChanged = s.declared.standbyWatts !== spec.power.standbyWatts;
      s.declared = spec.power;
      s.state = spec.state;
      // Registering reset the store's model to the declared one: put the learned one back.
      if (s.inUse && s.fit) {
        if (standbyChanged) s.model = this.modelOf(s.fit, spec.power);
        if (s.model) this.target.setPowerModel(h, s.model);
      }
    }
  }

  sampleAccepted(sample: HostSample, h: number): void {
    const s = this.hosts[h];
    if (!s || s.state !== PowerState.ON) return;
    if (this.count[h] === 0) this.firstMs[h] = sample.time;
    this.push(h, sample.cpuUtil, sample.watts);
  }

  private push(h: number, u: number, w: number): void {
    this.ensure(h);
    let r = this.rings[h];
    if (!r) this.rings[h] = r = new Float32Array(2 * this.config.window);
    const p = this.pos[h];
    r[2 * p] = u;
    r[2 * p + 1] = w;
    this.pos[h] = p + 1 === this.config.window ? 0 : p + 1;
    if (this.count[h] < this.config.window) this.count[h]++;
    this.fresh[h]++;
  }

  /**
   * History (e.g. from InfluxDB), newest first, with each pair's time: pairs
   * older than the oldest live sample in the window fill the room live samples
   * left, so nothing is counted twice.
   */
  seed(hostId: string, util: ArrayLike<number>, watts: ArrayLike<number>, timesMs: ArrayLike<number>): void {
    const h = this.target.hostIndex(hostId);
    if (h < 0 || !this.hosts[h]) return;
    this.ensure(h);
    const room = this.config.window - this.count[h];
    if (room <= 0) return;
    const first = this.firstMs[h];
    let from = 0;
    while (from < timesMs.length && timesMs[from] >= first) from++; // NaN (no live pairs) skips nothing
    const k = Math.min(room, util.length - from);
    if (k <= 0) return;
    // Keep the live pairs as the newest: rebuild the ring as [history (oldest first)…, live…].
    const live = this.pairs(h);
    this.rings[h] = undefined;
    this.count[h] = 0;
    this.pos[h] = 0;
    this.fresh[h] = 0;
    for (let i = from + k - 1; i >= from; i--) this.push(h, util[i], watts[i]);
    for (let i = 0; i < live.n; i++) this.push(h, live.u[i], live.w[i]);
    this.firstMs[h] = timesMs[from + k - 1];
  }

  /** The pairs held for host h, oldest first. */
  pairs(h: number): { u: Float64Array; w: Float64Array; n: number } {
    const n = h < this.count.length ? this.count[h] : 0;
    const u = new Float64Array(n);
    const w = new Float64Array(n);
    const r = this.rings[h];
    if (!r || n === 0) return { u, w, n: 0 };
    const start = n < this.config.window ? 0 : this.pos[h];
    for (let i = 0; i < n; i++) {
      const j = (start + i) % this.config.window;
      u[i] = r[2 * j];
      w[i] = r[2 * j + 1];
    }
    return { u, w, n };
  }

  private modelOf(fit: PowerFit, declared: PowerModelSpec): PowerModel | undefined {
    const standby = Math.min(declared.standbyWatts ?? 0, fit.table[0]);
    try {
      return createPowerModel({ ...fit.spec, standbyWatts: standby } as PowerModelSpec, 'learned');
    } catch {
      return undefined;
    }
  }

  /** Fits host h now from its window; applies or withdraws the model per the thresholds. */
  refit(h: number): void {
    const s = this.hosts[h];
    if (!s) return;
    const { u, w, n } = this.pairs(h);
    this.fresh[h] = 0;
    const fit = fitPowerCurve(u, w, n, { form: this.config.form });
    s.fittedAtMs = this.clock();
    if (!fit) {
      s.fit = undefined;
      s.model = undefined;
      s.reason = n < MIN_FIT_POINTS ? `not enough data to fit: ${n} samples (at least ${MIN_FIT_POINTS})` : `cannot fit: the ${n} samples span less than 0.05 of CPU utilization`;
      this.withdraw(h, s);
      return;
    }
    s.fit = { ...fit, spec: { ...fit.spec, standbyWatts: Math.min(s.declared.standbyWatts ?? 0, fit.table[0]) } as PowerModelSpec };
    const why = rejectFit(fit, this.config);
    const model = why === null ? this.modelOf(fit, s.declared) : undefined;
    s.model = model;
    if (why !== null || !model) {
      s.reason = why ?? 'fitted curve is not a valid power model';
      this.withdraw(h, s);
      return;
    }
    if (this.config.mode !== 'use') {
      s.reason = 'good enough, but learned models are in report-only mode';
      return;
    }
    s.reason = '';
    s.inUse = true;
    this.target.setPowerModel(h, model);
    this.onModelChange();
  }

  private withdraw(h: number, s: HostState): void {
    if (!s.inUse) return;
    s.inUse = false;
    this.target.setPowerModel(h, null);
    this.onModelChange();
  }

  /** Refits up to `max` hosts that gathered enough new samples, round robin. */
  refitDue(max = Infinity): number {
    const need = Math.max(8, this.config.window >> 3);
    const total = this.hosts.length;
    let done = 0;
    for (let k = 0; k < total && done < max; k++) {
      const h = (this.cursor + k) % total;
      if (this.hosts[h] && this.fresh[h] >= need) {
        this.refit(h);
        done++;
        this.cursor = (h + 1) % total;
      }
    }
    return done;
  }

  describe(hostId: string, refitNow = false): LearnedDescription | undefined {
    const h = this.target.hostIndex(hostId);
    const s = h >= 0 ? this.hosts[h] : undefined;
    if (!s) return undefined;
    if (refitNow && this.enabled) this.refit(h);
    return {
      hostId,
      declared: s.declared,
      fit: s.fit,
      fittedAtMs: s.fittedAtMs,
      inUse: s.inUse,
      reason: this.enabled ? s.reason : 'learned models are off',
      windowSamples: h < this.count.length ? this.count[h] : 0,
    };
  }

  start(): void {
    if (!this.enabled || this.config.refitMs <= 0 || this.timer) return;
    // A short tick working through due hosts a few at a time: a full pass over 5,000
    // hosts is spread over the refit period instead of one long pause.
    const tickMs = Math.max(10, Math.min(1_000, this.config.refitMs / 20));
    let last = this.clock();
    let sweeping = false;
    const tick = () => {
      const now = this.clock();
      if (!sweeping && now - last >= this.config.refitMs) {
        sweeping = true;
        last = now;
      }
      if (sweeping && this.refitDue(LearnedPowerModels.PER_TICK) < LearnedPowerModels.PER_TICK) sweeping = false;
    };
    this.timer = setInterval(tick, tickMs);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
