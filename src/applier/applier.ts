import { PowerState, cpuMillis, epochMs, memBytes, watts } from '../domain';
import type { ClusterSnapshot } from '../telemetry';
import type { Wattplace } from '../decision/wattplace';
import { planConsolidation, type PlannedMigration, type RunningInput } from '../decision/consolidation';
import type { Journal, JournalAction, JournalEntry } from './journal';
import { done, failed, ok, type CloudServer, type ComputeCloud, type ComputeService, type Leadership, type Outcome, type PowerDriver } from './ports';

/**
 * The applier: executes consolidation on an OpenStack cloud and keeps the
 * emptied hypervisors in standby until capacity is needed.
 *
 * One loop, run only by the leader (`Leadership`), every `tickMs`:
 *   1. reconcile (first tick as leader): the journal names the hosts it was
 *      acting on; Nova (service status, disabled_reason `wattplace: …`) and the
 *      power driver say what is true. A host disabled by the applier that is
 *      still powered is re-enabled (a drain undone, or a wake finished); a
 *      powered-off one is in standby. Nothing stays disabled and forgotten.
 *   2. wake: when free capacity on the managed ON hosts (CPU under the
 *      ceiling, memory under its ratio) is below `headroom` × the managed
 *      fleet's, when a request found no feasible host in the last minute, or
 *      when a Place chose a STANDBY host (a reservation on it), power on the
 *      most efficient standby hosts that cover the shortfall, wait until Nova
 *      reports their nova-compute `up`, enable them, mark them ON.
 *   3. every `intervalMs`, a cycle: read Nova's servers, plan with
 *      PlanConsolidation (allocation-safe at every step), keep the longest
 *      prefix of whole host drains that fits `maxMigrationsPerCycle` and leaves
 *      the headroom, skip it when it saves less than `minSavingWatts`; then per
 *      host: disable its service (reason `wattplace: draining for standby`),
 *      live-migrate its servers (at most `maxConcurrentMigrations` at once,
 *      never two of one server, never a move onto a host another in-flight
 *      move is leaving), ask Nova again that the host is empty, power it off,
 *      wait for the driver to report off, mark it STANDBY.
 *      A failed migration ends the cycle: the hosts it was draining are
 *      re-enabled, nothing more is powered off.
 *
 * Every mutating call is journalled before it is made (intent) and after
 * (outcome), and made only while this replica leads: losing the lease stops
 * the applier at the next such call. Dry-run computes and reports the same
 * actions without making any mutating call.
 */

export const DRAINING_REASON = 'wattplace: draining for standby';
export const STANDBY_REASON = 'wattplace: standby';
/** A nova-compute service disabled with a reason starting so was disabled by the applier. */
export const REASON_PREFIX = 'wattplace:';
const MIB = 1024 * 1024;
/** As the Nova plugin counts: one vCPU is 1000 millicores (deploy/openstack/wattplace_nova/evaluation.py). */
const MILLIS_PER_VCPU = 1000;
const MAX_ERRORS = 20;

export type ApplierMode = 'off' | 'dry-run' | 'on';

export interface ApplierSettings {
  readonly mode: ApplierMode;
  /** Managed hosts: those whose labels match every pair, and (when non-empty) whose site is listed. */
  readonly selector: Readonly<Record<string, string>>;
  readonly sites: readonly string[];
  readonly intervalMs: number;
  /** How often the loop wakes up to reconcile and check capacity (≤ intervalMs). */
  readonly tickMs: number;
  readonly minSavingWatts: number;
  readonly headroom: number;
  readonly maxConcurrentMigrations: number;
  readonly maxMigrationsPerCycle: number;
  readonly migrationTimeoutMs: number;
  readonly wakeTimeoutMs: number;
  /** Longest wait for a power driver to report off after `off`. */
  readonly powerTimeoutMs: number;
  /** Poll interval while following a migration, a power change or a service coming up. */
  readonly pollMs: number;
  /** Time budget of the consolidation solver per cycle. */
  readonly planBudgetMs: number;
  /** A capacity miss this recent makes the applier wake a host. */
  readonly missWindowMs: number;
  /** Watts each migration must save (PlanConsolidation's migration price). */
  readonly migrationWatts: number;
}

export const DEFAULT_APPLIER_SETTINGS: ApplierSettings = {
  mode: 'off',
  selector: {},
  sites: [],
  intervalMs: 300_000,
  tickMs: 10_000,
  minSavingWatts: 50,
  headroom: 0.1,
  maxConcurrentMigrations: 2,
  maxMigrationsPerCycle: 20,
  migrationTimeoutMs: 600_000,
  wakeTimeoutMs: 900_000,
  powerTimeoutMs: 120_000,
  pollMs: 1_000,
  planBudgetMs: 2_000,
  missWindowMs: 60_000,
  migrationWatts: 2,
};

/** What the applier does to each host it manages, beyond ON. */
export type HostPhase = 'draining' | 'standby' | 'waking';

export interface ApplierError {
  readonly at: string;
  readonly action: string;
  readonly host: string;
  readonly reason: string;
}

export interface PlannedAction {
  readonly action: JournalAction;
  readonly host: string;
  readonly server?: string;
  readonly target?: string;
}

export interface CycleReport {
  readonly number: number;
  readonly startedAt: string;
  readonly endedAt?: string;
  /** What the cycle is doing now, or how it ended. */
  readonly step: string;
  /** planned | skipped (reason in step) | done | failed | dry-run */
  readonly outcome?: 'skipped' | 'done' | 'failed' | 'dry-run';
  readonly plannedMigrations?: number;
  readonly plannedStandby?: readonly string[];
  readonly estimatedSavingWatts?: number;
  /** Dry-run: every action the cycle would have taken, in order. */
  readonly actions?: readonly PlannedAction[];
}

export interface ApplierStatus {
  readonly mode: ApplierMode;
  readonly leader: boolean;
  readonly identity: string;
  readonly leaderIdentity: string | null;
  readonly reconciled: boolean;
  readonly cycle: CycleReport | null;
  readonly lastCycle: CycleReport | null;
  readonly hosts: { readonly draining: string[]; readonly standby: string[]; readonly waking: string[] };
  readonly migrationsInFlight: number;
  readonly lastErrors: readonly ApplierError[];
}

/** Counters and gauges the applier keeps (src/applier/metrics.ts registers them). */
export interface ApplierObserver {
  action(action: string, outcome: 'ok' | 'failed' | 'dry-run'): void;
  hosts(counts: Record<'on' | HostPhase, number>): void;
  migrationsInFlight(n: number): void;
  leader(leading: boolean): void;
  savedWatts(w: number): void;
}

export interface ApplierDeps {
  readonly core: Wattplace;
  readonly cloud: ComputeCloud;
  /** The power driver of a host; null = its power is not managed: it is never drained. */
  readonly power: (hostId: string) => PowerDriver | null;
  readonly leadership: Leadership;
  readonly journal: Journal;
  /** One structured line per action and per decision. */
  readonly log: (event: string, fields: Record<string, unknown>) => void;
  readonly observer?: ApplierObserver;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly clock?: () => number;
}

interface HostView {
  readonly id: string;
  readonly index: number;
  readonly service: ComputeService | undefined;
  readonly servers: CloudServer[];
  readonly cpu: number;
  readonly mem: number;
  /** Capacity under the ceiling / memory ratio. */
  readonly capCpu: number;
  readonly capMem: number;
}

interface CloudView {
  readonly hosts: Map<string, HostView>;
  readonly snap: ClusterSnapshot;
  readonly fleetCpu: number;
  readonly fleetMem: number;
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref?.());

export class Applier {
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly clock: () => number;
  private readonly phases = new Map<string, HostPhase>();
  private inListener = false;
  /** Hosts a drain disabled, with their service, until enabled again or in standby. */
  private readonly drains = new Map<string, ComputeService>();
  private readonly errors: ApplierError[] = [];
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private reconciled = false;
  private lastCycleAt = -Infinity;
  private cycleNo = 0;
  private current: CycleReport | null = null;
  private last: CycleReport | null = null;
  private inFlight = 0;
  /** Capacity misses up to this time were answered by a wake. */
  private missesHandledUntil = -Infinity;

  constructor(
    readonly settings: ApplierSettings,
    private readonly deps: ApplierDeps,
  ) {
    this.sleep = deps.sleep ?? realSleep;
    this.clock = deps.clock ?? Date.now;
  }

  get mode(): ApplierMode {
    return this.settings.mode;
  }

  async start(): Promise<void> {
    if (this.mode === 'off') return;
    this.deps.leadership.onChange((leading) => {
      this.deps.observer?.leader(leading);
      this.deps.log('applier leadership', { leader: leading, identity: this.deps.leadership.identity });
      // whoever leads next starts by reconciling: the cloud may have changed meanwhile
      if (!leading) this.reconciled = false;
      else this.kick();
    });
    // a host registered (again) while the applier holds it in standby is STANDBY at once:
    // after a restart hosts are registered after the reconcile that found them powered off
    this.deps.core.store.addListener({
      hostsRegistered: (specs) => {
        if (this.mode !== 'on' || this.inListener) return;
        this.inListener = true;
        try {
          for (const spec of specs) if (spec.state !== PowerState.STANDBY && this.phases.get(spec.id) === 'standby') this.setStandby(spec.id);
        } finally {
          this.inListener = false;
        }
      },
    });
    await this.deps.leadership.start();
    this.deps.observer?.leader(this.deps.leadership.isLeader());
    this.timer = setInterval(() => this.kick(), this.settings.tickMs);
    this.timer.unref?.();
    this.kick();
  }

  /** Stops at the next safe point, waits for the tick in progress, resigns. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
    if (this.mode !== 'off') await this.deps.leadership.close();
    await this.deps.journal.close();
  }

  /** Runs one tick now (or waits for the one in progress); with `cycle`, the consolidation cycle runs whatever its interval. */
  async tick(opts: { cycle?: boolean } = {}): Promise<void> {
    if (this.running) await this.running;
    if (opts.cycle) this.lastCycleAt = -Infinity;
    this.kick();
    await this.running;
  }

  status(): ApplierStatus {
    const by = (p: HostPhase) => [...this.phases].filter(([, v]) => v === p).map(([k]) => k).sort();
    const l = this.deps.leadership;
    return {
      mode: this.mode,
      leader: this.mode !== 'off' && l.isLeader(),
      identity: l.identity,
      leaderIdentity: this.mode !== 'off' ? l.leaderIdentity() : null,
      reconciled: this.reconciled,
      cycle: this.current,
      lastCycle: this.last,
      hosts: { draining: by('draining'), standby: by('standby'), waking: by('waking') },
      migrationsInFlight: this.inFlight,
      lastErrors: [...this.errors],
    };
  }

  private kick(): void {
    if (this.running || this.stopped || this.mode === 'off') return;
    this.running = this.loop()
      .catch((e) => this.error('tick', '', `unexpected: ${(e as Error).message}`))
      .finally(() => {
        this.running = null;
      });
  }

  private canAct(): boolean {
    return !this.stopped && this.deps.leadership.isLeader();
  }

  private async loop(): Promise<void> {
    if (!this.canAct()) return;
    if (!this.reconciled) {
      await this.reconcile();
      if (!this.reconciled) return;
    }
    // the cycle reads Nova once more only when the wake check changed the cloud
    const seen = await this.wakeCheck();
    if (this.canAct() && this.clock() - this.lastCycleAt >= this.settings.intervalMs) {
      this.lastCycleAt = this.clock();
      try {
        await this.cycle(seen);
      } catch (e) {
        // a bug, not an expected failure: still, no host stays disabled by an abandoned drain
        this.error('cycle', '', `unexpected: ${(e as Error).message}`);
        if (this.current) this.last = { ...this.current, outcome: 'failed', step: `aborted: ${(e as Error).message}`, endedAt: new Date(this.clock()).toISOString() };
        this.current = null;
        await this.undoDrains();
      }
    }
    this.publish();
  }

  // ---- reading the cloud -------------------------------------------------------------

  /** Registered hosts the applier manages (labels and sites), by snapshot index. */
  private managed(snap: ClusterSnapshot): number[] {
    const sel = Object.entries(this.settings.selector);
    const sites = this.settings.sites;
    const out: number[] = [];
    for (let h = 0; h < snap.size; h++) {
      const spec = snap.specs[h];
      if (sites.length > 0 && !sites.includes(spec.site ?? 'default')) continue;
      if (sel.every(([k, v]) => spec.labels?.[k] === v)) out.push(h);
    }
    return out;
  }

  private async view(): Promise<Outcome<CloudView>> {
    const [servers, services] = await Promise.all([this.deps.cloud.listServers(), this.deps.cloud.computeServices()]);
    if (!servers.ok) return servers;
    if (!services.ok) return services;
    const snap = this.deps.core.collector.current();
    const cfg = this.deps.core.config;
    const svc = new Map(services.value.map((s) => [s.host, s]));
    const on = new Map<string, CloudServer[]>();
    for (const s of servers.value) if (s.host) (on.get(s.host) ?? on.set(s.host, []).get(s.host)!).push(s);
    const hosts = new Map<string, HostView>();
    let fleetCpu = 0;
    let fleetMem = 0;
    for (const h of this.managed(snap)) {
      const id = snap.ids[h];
      const list = on.get(id) ?? [];
      const capCpu = snap.capCpu[h] * cfg.cpuAllocationRatio * cfg.cpuCeiling;
      const capMem = snap.capMem[h] * cfg.memAllocationRatio;
      fleetCpu += capCpu;
      fleetMem += capMem;
      hosts.set(id, {
        id,
        index: h,
        service: svc.get(id),
        servers: list,
        cpu: list.reduce((a, s) => a + s.vcpus * MILLIS_PER_VCPU, 0),
        mem: list.reduce((a, s) => a + s.ramMb * MIB, 0),
        capCpu,
        capMem,
      });
    }
    return ok({ hosts, snap, fleetCpu, fleetMem });
  }

  /** ON, enabled, up, and not being acted on: may take servers and may be drained. */
  private usable(v: CloudView, h: HostView): boolean {
    const st = v.snap.state[h.index];
    return st === PowerState.ON && !this.phases.has(h.id) && h.service?.status === 'enabled' && h.service.state === 'up';
  }

  /** Free CPU and memory on the usable hosts, less what `without` would take away. */
  private free(v: CloudView, without: ReadonlySet<string> = new Set()): { cpu: number; mem: number } {
    let cpu = 0;
    let mem = 0;
    for (const h of v.hosts.values()) {
      if (!this.usable(v, h)) continue;
      // the servers of a host taken away move to the others: its allocation stays counted
      if (!without.has(h.id)) {
        cpu += h.capCpu;
        mem += h.capMem;
      }
      cpu -= h.cpu;
      mem -= h.mem;
    }
    return { cpu, mem };
  }

  private leavesHeadroom(v: CloudView, without: ReadonlySet<string>): boolean {
    const f = this.free(v, without);
    const k = this.settings.headroom;
    return f.cpu >= k * v.fleetCpu - 1e-9 && f.mem >= k * v.fleetMem - 1e-9;
  }

  // ---- acting ------------------------------------------------------------------------

  /** Journals, checks leadership, calls, journals the outcome, counts and logs. */
  /** With `pending`, a success writes no outcome: the caller follows the action and journals how it ended. */
  private async act<T>(action: JournalAction, host: string, fields: { server?: string; target?: string }, call: () => Promise<Outcome<T>>, pending = false): Promise<Outcome<T | undefined>> {
    if (!this.canAct()) return failed('stopped at a safe point: this replica no longer leads (or is stopping)');
    if (this.mode === 'dry-run') {
      this.dryRunNote({ action, host, ...fields });
      return ok(undefined);
    }
    const cycle = this.current?.number;
    await this.deps.journal.append({ t: this.clock(), kind: 'intent', action, host, ...fields, cycle });
    const r = await call();
    if (!(pending && r.ok)) await this.deps.journal.append({ t: this.clock(), kind: 'outcome', action, host, ...fields, cycle, outcome: r.ok ? 'ok' : 'failed', ...(r.ok ? {} : { reason: r.reason }) });
    this.deps.observer?.action(action, r.ok ? 'ok' : 'failed');
    this.deps.log('applier action', { action, host, ...fields, outcome: r.ok ? 'ok' : 'failed', ...(r.ok ? {} : { reason: r.reason }), cycle });
    if (!r.ok) this.error(action, host, r.reason);
    return r;
  }

  private error(action: string, host: string, reason: string): void {
    this.errors.push({ at: new Date(this.clock()).toISOString(), action, host, reason });
    if (this.errors.length > MAX_ERRORS) this.errors.shift();
  }

  private step(step: string): void {
    if (this.current) this.current = { ...this.current, step };
  }

  // wattplace's own view of a host; dry-run leaves it as it is
  private setOn(host: string): void {
    if (this.mode !== 'on') return;
    this.deps.core.store.setPowerState(host, PowerState.ON);
    this.deps.core.setDraining(host, false);
  }

  /**
   * A host Nova said is empty and its driver said is off: STANDBY, with a last
   * sample of nothing allocated and no load at its standby watts (it sends no
   * telemetry of its own while off, so its last report would otherwise stand).
   */
  private setStandby(host: string): void {
    if (this.mode !== 'on') return;
    const core = this.deps.core;
    const h = core.store.hostIndex(host);
    if (h < 0) return;
    core.store.setPowerState(host, PowerState.STANDBY);
    const model = core.collector.current().models[h];
    core.report([{ hostId: host, time: epochMs(this.clock()), watts: watts(model?.standbyWatts ?? 0), cpuUtil: 0, memUtil: 0, allocated: { cpuMillis: cpuMillis(0), memBytes: memBytes(0) } }]);
    core.setDraining(host, false);
  }



  private setDraining(host: string, draining: boolean): void {
    if (this.mode === 'on' && this.deps.core.store.hostIndex(host) >= 0) this.deps.core.setDraining(host, draining);
  }

  private async enable(host: string, service: ComputeService): Promise<Outcome> {
    const r = await this.act('enable', host, {}, () => this.deps.cloud.setServiceStatus(service.id, true));
    if (r.ok) {
      this.phases.delete(host);
      this.drains.delete(host);
      this.setOn(host);
    }
    return r.ok ? done : r;
  }

  /** Re-enables every host a drain disabled and did not power off. */
  private async undoDrains(): Promise<void> {
    for (const [host, service] of [...this.drains]) {
      if (this.phases.get(host) !== 'draining') {
        this.drains.delete(host);
        continue;
      }
      const r = await this.enable(host, service);
      if (r.ok) this.drains.delete(host);
    }
  }

  /** Polls until `check` answers true (a value) or false (keep waiting), or the deadline passes. */
  private async until(deadline: number, check: () => Promise<Outcome<boolean>>): Promise<Outcome> {
    let lastReason = 'no answer yet';
    for (;;) {
      const r = await check();
      if (r.ok && r.value) return done;
      if (!r.ok) {
        if (r.refused) return r;
        lastReason = r.reason;
      }
      if (this.clock() >= deadline) return failed(`timed out (${lastReason})`);
      await this.sleep(this.settings.pollMs);
    }
  }

  private async serviceOf(host: string): Promise<Outcome<ComputeService | undefined>> {
    const r = await this.deps.cloud.computeServices(host);
    return r.ok ? ok(r.value.find((s) => s.host === host)) : r;
  }

  // ---- reconcile ---------------------------------------------------------------------

  private async reconcile(): Promise<void> {
    let entries: JournalEntry[];
    try {
      entries = await this.deps.journal.read();
    } catch (e) {
      this.error('reconcile', '', `cannot read the journal: ${(e as Error).message}`);
      return;
    }
    // what the journal last says each host was left as: off (standby) or not
    const leftOff = new Map<string, boolean>();
    for (const e of entries) {
      if (e.kind === 'state') leftOff.set(e.host, e.state === 'standby');
      else if (e.kind === 'outcome' && e.outcome === 'ok') {
        if (e.action === 'power-off' || e.action === 'standby') leftOff.set(e.host, true);
        else if (e.action === 'power-on' || e.action === 'enable' || e.action === 'on') leftOff.set(e.host, false);
      } else if (e.kind === 'intent') {
        if (!leftOff.has(e.host)) leftOff.set(e.host, false);
      }
    }
    const services = await this.deps.cloud.computeServices();
    if (!services.ok) {
      this.error('reconcile', '', services.reason);
      return;
    }
    let complete = true;
    this.phases.clear();
    for (const svc of services.value) {
      const host = svc.host;
      const known = this.deps.core.store.hostIndex(host) >= 0;
      if (known) this.setDraining(host, false);
      const ours = svc.status === 'disabled' && (svc.disabledReason ?? '').startsWith(REASON_PREFIX);
      if (!ours) {
        // enabled (or disabled by someone else): not in standby by the applier's hand
        if (known && svc.status === 'enabled' && svc.state === 'up' && leftOff.has(host)) this.setOn(host);
        continue;
      }
      const drv = this.deps.power(host);
      const st = drv ? await drv.status(host) : ok('unmanaged' as const);
      if (!st.ok) {
        this.error('reconcile', host, `power status: ${st.reason}`);
        complete = false;
        continue;
      }
      const off = st.value === 'off' || (st.value === 'unmanaged' && leftOff.get(host) === true);
      if (off) {
        this.phases.set(host, 'standby');
        if (known) this.setStandby(host);
        if (svc.disabledReason !== STANDBY_REASON) await this.act('standby', host, {}, () => this.deps.cloud.setServiceStatus(svc.id, false, STANDBY_REASON));
        this.deps.log('applier reconcile', { host, found: 'powered off', now: 'standby' });
      } else if (svc.state === 'up') {
        // powered and reporting: a drain that did not finish, or a wake that did not enable it
        this.deps.log('applier reconcile', { host, found: 'powered and up but disabled by wattplace', now: 're-enable' });
        const r = await this.enable(host, svc);
        if (!r.ok) complete = false;
      } else {
        // powered but not up yet: finish waking it
        this.deps.log('applier reconcile', { host, found: 'powered but nova-compute down', now: 'finish waking' });
        this.phases.set(host, 'standby');
        const r = await this.wake(host);
        if (!r.ok) complete = false;
      }
      if (!this.canAct()) return;
    }
    if (!complete) return; // try again next tick
    if (this.mode === 'on') {
      try {
        await this.deps.journal.compact(this.status().hosts.standby, this.clock());
      } catch (e) {
        this.error('reconcile', '', `cannot compact the journal: ${(e as Error).message}`);
      }
    }
    this.reconciled = true;
    this.publish();
  }

  // ---- waking ------------------------------------------------------------------------

  /** Wakes what is needed; returns the view of the cloud it read when it woke nothing. */
  private async wakeCheck(): Promise<CloudView | undefined> {
    const v = await this.view();
    if (!v.ok) {
      this.error('wake-check', '', `cannot read Nova: ${v.reason}`);
      return undefined;
    }
    const view = v.value;
    const now = this.clock();
    const f = this.free(view);
    const k = this.settings.headroom;
    let needCpu = k * view.fleetCpu - f.cpu;
    let needMem = k * view.fleetMem - f.mem;
    const since = Math.max(now - this.settings.missWindowMs, this.missesHandledUntil);
    const misses = this.deps.core.engine.capacityMisses.misses(since);
    if (misses.count > 0) {
      needCpu = Math.max(needCpu, 0) + misses.cpuMillis;
      needMem = Math.max(needMem, 0) + misses.memBytes;
    }
    const standby = [...view.hosts.values()].filter((h) => this.phases.get(h.id) === 'standby');
    // a Place that chose a standby host reserved on it: that host is woken whatever the headroom
    const book = this.deps.core.reservations;
    const chosen = standby.filter((h) => (book.cpu[h.index] ?? 0) > 0 || (book.mem[h.index] ?? 0) > 0);
    if (needCpu <= 0 && needMem <= 0 && chosen.length === 0) return view;
    const snap = view.snap;
    const ceil = this.deps.core.config.cpuCeiling;
    // most efficient first: fewest watts per usable millicore at the ceiling
    const eff = (h: HostView) => snap.models[h.index].watts(ceil) / Math.max(1, h.capCpu);
    const wake: HostView[] = [...chosen];
    for (const h of chosen) {
      needCpu -= h.capCpu;
      needMem -= h.capMem;
    }
    for (const h of standby.filter((x) => !chosen.includes(x)).sort((a, b) => eff(a) - eff(b) || a.id.localeCompare(b.id))) {
      if (needCpu <= 0 && needMem <= 0) break;
      wake.push(h);
      needCpu -= h.capCpu;
      needMem -= h.capMem;
    }
    if (wake.length === 0) {
      if (standby.length === 0 && (misses.count > 0 || f.cpu < k * view.fleetCpu)) this.deps.log('applier wake', { outcome: 'no standby host left', freeCpu: f.cpu, freeMem: f.mem });
      return view;
    }
    this.missesHandledUntil = now;
    this.deps.log('applier wake', { hosts: wake.map((h) => h.id), freeCpuMillis: Math.round(f.cpu), freeMemBytes: Math.round(f.mem), misses: misses.count, placeChose: chosen.map((h) => h.id) });
    await Promise.all(wake.map((h) => this.wake(h.id)));
    return undefined;
  }

  /** Powers a standby host on, waits for its nova-compute to be up, enables it, marks it ON. */
  private async wake(host: string): Promise<Outcome> {
    if (this.mode === 'dry-run') {
      this.dryRunNote({ action: 'power-on', host });
      return done;
    }
    const drv = this.deps.power(host);
    if (!drv) return failed(`${host}: no power driver`);
    this.phases.set(host, 'waking');
    // the last heartbeat before power-on: right after a power-off Nova may still call the host
    // `up`, so only a heartbeat newer than this one shows its nova-compute really runs again
    const before = await this.serviceOf(host);
    const lastBeat = before.ok ? (before.value?.updatedAt ?? null) : null;
    const on = await this.act('power-on', host, {}, () => drv.on(host));
    if (!on.ok) {
      this.phases.set(host, 'standby');
      return on;
    }
    const deadline = this.clock() + this.settings.wakeTimeoutMs;
    let svc: ComputeService | undefined;
    const up = await this.until(deadline, async () => {
      const r = await this.serviceOf(host);
      if (!r.ok) return r;
      svc = r.value;
      return ok(svc?.state === 'up' && (lastBeat === null || (svc.updatedAt ?? '') > lastBeat));
    });
    if (!up.ok || !svc) {
      const reason = `nova-compute did not come up: ${up.ok ? 'no service' : up.reason}`;
      this.error('wake', host, reason);
      this.phases.set(host, 'standby');
      return failed(reason);
    }
    const r = await this.enable(host, svc);
    if (r.ok) await this.deps.journal.append({ t: this.clock(), kind: 'outcome', action: 'on', host, outcome: 'ok' });
    else this.phases.set(host, 'standby');
    return r;
  }

  private dryRunNote(a: PlannedAction): void {
    this.deps.observer?.action(a.action, 'dry-run');
    this.deps.log('applier action', { ...a, outcome: 'dry-run' });
    if (this.current) this.current = { ...this.current, actions: [...(this.current.actions ?? []), a] };
  }

  // ---- the consolidation cycle -------------------------------------------------------

  private async cycle(seen?: CloudView): Promise<void> {
    this.cycleNo++;
    this.current = { number: this.cycleNo, startedAt: new Date(this.clock()).toISOString(), step: 'reading Nova' };
    const end = (outcome: CycleReport['outcome'], step: string) => {
      this.last = { ...this.current!, step, outcome, endedAt: new Date(this.clock()).toISOString() };
      this.current = null;
      this.deps.log('applier cycle', { cycle: this.last.number, outcome, step });
    };
    const v = seen ? ok(seen) : await this.view();
    if (!v.ok) {
      this.error('cycle', '', v.reason);
      return end('failed', `cannot read Nova: ${v.reason}`);
    }
    const view = v.value;
    const scope = [...view.hosts.values()].filter((h) => this.usable(view, h));
    const running: RunningInput[] = [];
    const fixed: { hostId: string; cpuMillis: number; memBytes: number }[] = [];
    for (const h of scope) {
      for (const s of h.servers) {
        const demand = { cpuMillis: s.vcpus * MILLIS_PER_VCPU, memBytes: s.ramMb * MIB };
        if (s.status === 'ACTIVE' && !s.taskState) running.push({ workload: { id: s.id, demand: { cpuMillis: cpuMillis(demand.cpuMillis), memBytes: memBytes(demand.memBytes) }, selector: {} }, hostId: h.id });
        else fixed.push({ hostId: h.id, ...demand });
      }
    }
    if (scope.length < 2) return end('skipped', `fewer than 2 usable hosts (${scope.length})`);
    this.step('planning');
    let plan;
    try {
      plan = await planConsolidation(
        { core: this.deps.core, migrationWatts: this.settings.migrationWatts },
        { running, hostIds: scope.map((h) => h.id), maxMigrations: 0, timeBudgetMs: this.settings.planBudgetMs, fixed },
      );
    } catch (e) {
      this.error('plan', '', (e as Error).message);
      return end('failed', `planning failed: ${(e as Error).message}`);
    }
    const sel = this.select(view, plan.migrations, plan.standbyHostIds);
    const saving = this.saving(view, sel.moves, sel.hosts);
    this.current = { ...this.current!, plannedMigrations: sel.moves.length, plannedStandby: sel.hosts, estimatedSavingWatts: Math.round(saving * 10) / 10 };
    if (sel.hosts.length === 0) return end('skipped', sel.why ?? 'nothing to put in standby');
    if (saving < this.settings.minSavingWatts) return end('skipped', `saves ${saving.toFixed(1)} W, less than minSavingWatts ${this.settings.minSavingWatts} W`);
    if (!this.canAct()) return end('skipped', 'no longer the leader');

    if (this.mode === 'dry-run') {
      for (const host of sel.hosts) {
        const moves = sel.moves.filter((m) => m.enablesHostId === host);
        this.dryRunNote({ action: 'disable', host });
        for (const m of moves) this.dryRunNote({ action: 'migrate', host: m.sourceHostId, server: m.workloadId, target: m.targetHostId });
        this.dryRunNote({ action: 'power-off', host });
      }
      for (const m of sel.moves.filter((x) => !x.enablesHostId)) this.dryRunNote({ action: 'migrate', host: m.sourceHostId, server: m.workloadId, target: m.targetHostId });
      return end('dry-run', `would put ${sel.hosts.length} host(s) in standby with ${sel.moves.length} migration(s)`);
    }

    // in the plan's order: each segment ends with the move that completes a host's drain;
    // a host is disabled before the segment holding its first move, checked empty and
    // powered off right after the segment that completes it. Hosts already empty go first.
    const undo = () => this.undoDrains();
    const selected = new Set(sel.hosts);
    const left = new Map<string, number>();
    for (const m of sel.moves) if (m.enablesHostId) left.set(m.enablesHostId, (left.get(m.enablesHostId) ?? 0) + 1);
    const segments: { moves: PlannedMigration[]; start: string[]; complete: string[] }[] = [{ moves: [], start: [], complete: sel.hosts.filter((h) => !left.has(h)) }];
    segments[0].start.push(...segments[0].complete);
    let seg = { moves: [] as PlannedMigration[], start: [] as string[], complete: [] as string[] };
    const started = new Set<string>();
    for (const m of sel.moves) {
      const h = m.enablesHostId;
      if (h && !started.has(h)) {
        started.add(h);
        if (selected.has(h)) seg.start.push(h);
      }
      seg.moves.push(m);
      if (h) {
        const n = left.get(h)! - 1;
        left.set(h, n);
        if (n === 0) {
          if (selected.has(h)) seg.complete.push(h);
          segments.push(seg);
          seg = { moves: [], start: [], complete: [] };
        }
      }
    }
    if (seg.moves.length) segments.push(seg);
    let standbyCount = 0;
    for (const sg of segments) {
      for (const host of sg.start) {
        const service = view.hosts.get(host)!.service!;
        this.step(`disabling ${host}`);
        this.phases.set(host, 'draining');
        this.drains.set(host, service);
        this.setDraining(host, true);
        const dis = await this.act('disable', host, {}, () => this.deps.cloud.setServiceStatus(service.id, false, DRAINING_REASON));
        if (!dis.ok) {
          await undo();
          return end('failed', `disabling ${host} failed: ${dis.reason}`);
        }
      }
      if (sg.moves.length) {
        this.step(`migrating ${sg.moves.length} server(s) for ${sg.complete.join(', ') || sg.start.join(', ') || 'relief'}`);
        const mig = await this.migrate(sg.moves);
        if (!mig.ok) {
          await undo();
          return end('failed', `migration failed: ${mig.reason}`);
        }
      }
      for (const host of sg.complete) {
        const service = view.hosts.get(host)!.service!;
        this.step(`checking ${host} is empty`);
        const still = await this.deps.cloud.listServers(host);
        if (!still.ok || still.value.length > 0) {
          const why = still.ok ? `${still.value.length} server(s) still on it (${still.value.slice(0, 3).map((s) => s.id).join(', ')})` : `cannot list its servers: ${still.reason}`;
          this.error('power-off', host, `not powered off: ${why}`);
          this.deps.log('applier power-off skipped', { host, reason: why });
          await this.enable(host, service);
          continue;
        }
        const off = await this.powerOff(host, service);
        if (!off.ok) {
          await this.enable(host, service);
          await undo();
          return end('failed', `powering off ${host} failed: ${off.reason}`);
        }
        standbyCount++;
      }
    }
    end('done', `${standbyCount} host(s) put in standby`);
  }

  /**
   * The longest prefix of the plan that ends where every host it started to
   * drain is drained, within maxMigrationsPerCycle, and leaves the headroom.
   * Hosts already empty come first (no migration).
   */
  private select(view: CloudView, migrations: readonly PlannedMigration[], standbyIds: readonly string[]): { moves: PlannedMigration[]; hosts: string[]; why?: string } {
    const drainable = new Set(standbyIds.filter((id) => this.deps.power(id) !== null && view.hosts.has(id)));
    const remaining = new Map<string, number>();
    for (const m of migrations) if (m.enablesHostId) remaining.set(m.enablesHostId, (remaining.get(m.enablesHostId) ?? 0) + 1);
    const empty = [...drainable].filter((id) => !remaining.has(id));
    let best = { cut: 0, hosts: [] as string[] };
    const hosts: string[] = [];
    const off = new Set<string>();
    let why: string | undefined;
    for (const id of empty) {
      off.add(id);
      if (!this.leavesHeadroom(view, off)) {
        off.delete(id);
        why = 'the headroom would not be left';
        break;
      }
      hosts.push(id);
    }
    best = { cut: 0, hosts: [...hosts] };
    const open = new Set<string>();
    let stuck = false;
    for (let i = 0; i < migrations.length && i < this.settings.maxMigrationsPerCycle; i++) {
      const m = migrations[i];
      if (m.enablesHostId) {
        open.add(m.enablesHostId);
        const left = remaining.get(m.enablesHostId)! - 1;
        remaining.set(m.enablesHostId, left);
        if (left === 0) {
          open.delete(m.enablesHostId);
          if (drainable.has(m.enablesHostId)) {
            off.add(m.enablesHostId);
            hosts.push(m.enablesHostId);
          }
        }
      }
      if (open.size === 0) {
        if (!this.leavesHeadroom(view, off)) {
          why = 'the headroom would not be left';
          stuck = true;
          break;
        }
        best = { cut: i + 1, hosts: [...hosts] };
      }
    }
    if (!stuck && best.cut < migrations.length && migrations.length > this.settings.maxMigrationsPerCycle) why ??= `maxMigrationsPerCycle ${this.settings.maxMigrationsPerCycle}`;
    // moves after the last host in the prefix that free nothing are not worth a cycle of their own
    const moves = migrations.slice(0, best.cut);
    return { moves, hosts: best.hosts, why: best.hosts.length === 0 ? (why ?? 'the plan frees no host') : why };
  }

  /** Model watts of the scope now minus after the selected moves and power-offs (allocation view). */
  private saving(view: CloudView, moves: readonly PlannedMigration[], off: readonly string[]): number {
    const snap = view.snap;
    const load = new Map<string, number>();
    for (const h of view.hosts.values()) load.set(h.id, h.cpu);
    const before = new Map(load);
    const cpuOf = new Map<string, number>();
    for (const h of view.hosts.values()) for (const s of h.servers) cpuOf.set(s.id, s.vcpus * MILLIS_PER_VCPU);
    for (const m of moves) {
      const c = cpuOf.get(m.workloadId) ?? 0;
      load.set(m.sourceHostId, (load.get(m.sourceHostId) ?? 0) - c);
      load.set(m.targetHostId, (load.get(m.targetHostId) ?? 0) + c);
    }
    const offSet = new Set(off);
    let w = 0;
    for (const h of view.hosts.values()) {
      if (!this.usable(view, h)) continue;
      const model = snap.models[h.index];
      const cap = snap.capCpu[h.index];
      const u = (x: number) => Math.min(1, Math.max(0, x / cap));
      w += model.watts(u(before.get(h.id)!));
      w -= offSet.has(h.id) ? model.standbyWatts : model.watts(u(load.get(h.id)!));
    }
    return w - moves.length * this.settings.migrationWatts;
  }

  /**
   * Runs the moves in order, at most maxConcurrentMigrations at once. A move
   * starts only when no move in flight leaves its target or enters its source
   * (so a host never holds more than the plan's prefix says), and never while
   * another move of the same server is in flight. The first failure stops new
   * starts; the ones in flight are followed to their end.
   */
  private async migrate(moves: readonly PlannedMigration[]): Promise<Outcome> {
    const inflight = new Map<string, { m: PlannedMigration; p: Promise<void> }>();
    let firstFailure: Outcome | null = null;
    let i = 0;
    const conflicts = (m: PlannedMigration) => {
      for (const { m: f } of inflight.values()) {
        if (f.workloadId === m.workloadId || f.sourceHostId === m.targetHostId || f.targetHostId === m.sourceHostId) return true;
      }
      return false;
    };
    while (i < moves.length || inflight.size > 0) {
      while (!firstFailure && i < moves.length && inflight.size < this.settings.maxConcurrentMigrations && !conflicts(moves[i])) {
        const m = moves[i++];
        const p = this.migrateOne(m).then((r) => {
          if (!r.ok && !firstFailure) firstFailure = failed(`${m.workloadId} ${m.sourceHostId} → ${m.targetHostId}: ${r.reason}`, r.refused, r.status);
          inflight.delete(m.workloadId);
          this.inFlight = inflight.size;
          this.deps.observer?.migrationsInFlight(this.inFlight);
        });
        inflight.set(m.workloadId, { m, p });
        this.inFlight = inflight.size;
        this.deps.observer?.migrationsInFlight(this.inFlight);
      }
      if (inflight.size === 0) break;
      await Promise.race([...inflight.values()].map((x) => x.p));
    }
    return firstFailure ?? done;
  }

  private async migrateOne(m: PlannedMigration): Promise<Outcome> {
    const fields = { server: m.workloadId, target: m.targetHostId };
    const req = await this.act('migrate', m.sourceHostId, fields, () => this.deps.cloud.liveMigrate(m.workloadId, m.targetHostId), true);
    if (!req.ok) return req;
    const deadline = this.clock() + this.settings.migrationTimeoutMs;
    let gone = false;
    const r = await this.until(deadline, async () => {
      const g = await this.deps.cloud.getServer(m.workloadId);
      if (!g.ok) return g.refused ? failed(g.reason) : g;
      const s = g.value;
      if (s === null) {
        gone = true; // deleted meanwhile: nothing left to move
        return ok(true);
      }
      if (s.status === 'ERROR') return failed('the server went to ERROR', true);
      if (s.host === m.targetHostId && s.status === 'ACTIVE' && !s.taskState) return ok(true);
      if (s.host === m.sourceHostId && s.status === 'ACTIVE' && !s.taskState) {
        const mig = await this.deps.cloud.migrations(m.workloadId);
        const last = mig.ok ? mig.value[0] : undefined;
        if (last && ['error', 'failed', 'cancelled'].includes(last.status)) return failed(`Nova's live migration ended ${last.status}`, true);
      }
      return ok(false);
    });
    await this.deps.journal.append({ t: this.clock(), kind: 'outcome', action: 'migrate', host: m.sourceHostId, ...fields, outcome: r.ok ? 'ok' : 'failed', ...(r.ok ? { reason: gone ? 'server deleted' : 'on target' } : { reason: r.reason }) });
    this.deps.log('applier migration', { server: m.workloadId, source: m.sourceHostId, target: m.targetHostId, outcome: r.ok ? 'ok' : 'failed', ...(r.ok ? {} : { reason: r.reason }) });
    if (!r.ok) this.error('migrate', m.sourceHostId, `${m.workloadId} → ${m.targetHostId}: ${r.reason}`);
    return r;
  }

  private async powerOff(host: string, service: ComputeService): Promise<Outcome> {
    const drv = this.deps.power(host);
    if (!drv) return failed('no power driver');
    this.step(`powering off ${host}`);
    // the reason first, while its nova-compute still runs: once it is off, Nova's API waits on an
    // RPC to it until its timeout (Nova calls the service up for service_down_time after that)
    await this.act('standby', host, {}, () => this.deps.cloud.setServiceStatus(service.id, false, STANDBY_REASON));
    const r = await this.act('power-off', host, {}, () => drv.off(host));
    if (!r.ok) return r;
    if (drv.kind !== 'none') {
      const seen = await this.until(this.clock() + this.settings.powerTimeoutMs, async () => {
        const s = await drv.status(host);
        return s.ok ? ok(s.value === 'off') : s;
      });
      if (!seen.ok) return failed(`the power driver did not report off: ${seen.reason}`);
    }
    this.phases.set(host, 'standby');
    this.drains.delete(host);
    this.setStandby(host);
    return done;
  }

  /** Gauges: hosts by state, leadership, saved watts (idle minus standby of the hosts in standby). */
  private publish(): void {
    const o = this.deps.observer;
    if (!o) return;
    const snap = this.deps.core.collector.current();
    const counts = { on: 0, draining: 0, standby: 0, waking: 0 };
    let saved = 0;
    for (const h of this.managed(snap)) {
      const p = this.phases.get(snap.ids[h]);
      counts[p ?? 'on']++;
      if (p === 'standby') saved += snap.models[h].watts(0) - snap.models[h].standbyWatts;
    }
    o.hosts(counts);
    o.savedWatts(saved);
    o.leader(this.mode !== 'off' && this.deps.leadership.isLeader());
  }
}
