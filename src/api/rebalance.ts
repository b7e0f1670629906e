import { Counter, Gauge } from 'prom-client';
import { LimitError, PowerState, ValidationError, echo } from '../domain';
import type { Metrics } from './metrics';
import type { HttpApi } from './http';
import { DEFAULT_FORECAST, WorkloadForecaster } from '../decision/forecast';
import { DEFAULT_REBALANCE, Rebalancer, type RebalanceConfig } from '../decision/rebalance';
import type { Wattplace } from '../decision/wattplace';
import { DEFAULT_OVERLOAD_CONTROL, DEFAULT_OVERLOAD_TARGET, OverloadController, intervalOverload, type Margins } from '../decision/overload-target';

/** Most running workloads one rebalance request may carry, and samples of history per workload. */
export const REBALANCE_LIMITS = { maxWorkloads: 50_000, maxHistory: 1000 };

interface RunningBody {
  workloadId?: unknown;
  hostId?: unknown;
  /** Recent CPU demand samples (millicores), oldest first, one per telemetry interval. */
  cpuHistory?: unknown;
  /** CPU allocation in millicores (a pod's request), or `vcpus` (a server's flavor); one of the two is required. */
  cpuMillis?: unknown;
  vcpus?: unknown;
  /** Memory allocation in bytes (required). */
  memBytes?: unknown;
  /** Migration cost weight (memory to copy); default memBytes. */
  cost?: unknown;
}

const num = (v: unknown, field: string, min = 0): number => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw new ValidationError(field, `must be a finite number ≥ ${min}, got ${echo(v)}`);
  return v;
};

/**
 * `POST /v1/rebalance`: one interval of the forecast-driven consolidation the
 * simulator's `wattplace` policy runs (src/decision/forecast.ts and
 * rebalance.ts, the same classes), on the registered hosts:
 *
 *   { "running": [{ "workloadId", "hostId", "cpuHistory": [millicores, … oldest first],
 *                   "cpuMillis" | "vcpus", "memBytes", "cost"? }],
 *     "intervalEnd"?, "z"?, "drainZ"?, "openZ"?, "maxMigrations"? }
 *   → { "migrations": [{ workloadId, sourceHostId, targetHostId }] (in order),
 *       "drainedHostIds", "wokenHostIds", "unresolved",
 *       "overloadTarget", "observedOverload", "observed", "margins": { z, drainZ, openZ } }
 *
 * Margins: the service's `overloadTarget` (config key, `--overload-target`,
 * WATTPLACE_OVERLOAD_TARGET) drives an OverloadController
 * (src/decision/overload-target.ts, the one the simulator's policy uses). Call
 * once per telemetry interval: each call observes the interval that just ended
 * on every host with listed workloads (Σ of the last two cpuHistory samples
 * against the registered CPU, linear in between) and sets the margins for this
 * plan. `intervalEnd` (optional, epoch milliseconds of the latest cpuHistory
 * samples) makes a retry safe: a call whose intervalEnd is not later than the
 * last one observed plans with the current margins and observes nothing
 * (`observed: false`), so a client that resends after a timeout does not count
 * the interval twice. Without it every call is observed. A value more than the
 * core's clock skew ahead of its clock is a 400 (it would shut out every later
 * interval). `z`, `drainZ`, `openZ` in the body are expert overrides: that call
 * uses them (the observation is still counted).
 *
 * Hosts in MAINTENANCE or draining for standby take nothing new. Power comes from each host's model.
 * Two views are kept safe at every step, the moving workload counted on its
 * target from the start of the move (and on its source until the end):
 *  - measured demand (the forecast of cpuHistory) against the registered CPU, as
 *    the simulator's policy does;
 *  - allocations, as PlaceBatch and PlanConsolidation do (the hot path's Capacity
 *    and Ceiling rules): per host, the allocation of workloads not in `running`
 *    (reported allocation − Σ listed allocations on it, at least 0) plus open
 *    reservations is fixed, and the listed allocations must stay within
 *        Σ cpu ≤ cpuCeiling × capCpu × cpuAllocationRatio − fixed cpu
 *        Σ mem ≤ capMem × memAllocationRatio − fixed mem.
 *    A host already above that receives nothing (it is not relieved for it).
 * Bad input is a 400 naming the field.
 */
export function rebalancePlugin(overloadTarget = DEFAULT_OVERLOAD_TARGET) {
  return ({ core, http, metrics }: { core: Wattplace; http: HttpApi; metrics?: Metrics }): void => {
    const loop = new RebalanceLoop(new OverloadController({ ...DEFAULT_OVERLOAD_CONTROL, target: overloadTarget }));
    const intervals = metrics ? rebalanceMetrics(loop.control, metrics) : null;
    http.route(
      'POST',
      '/v1/rebalance',
      ({ body }) => {
        const answer = rebalance(core, body, loop);
        intervals?.inc({ counted: String(answer.observed) });
        return { status: 200, body: answer };
      },
      { metric: 'rebalance' },
    );
  };
}

/**
 * The controller on the operator's dashboard, read at scrape time:
 *   wattplace_overload_target              the configured overloadTarget
 *   wattplace_overload_observed_ratio      overloaded share of the active host time counted so far
 *   wattplace_overload_margin{margin}      z, drainZ, openZ the next plan uses
 *   wattplace_overload_intervals_total{counted}   calls observed ("true") or resends left uncounted ("false")
 */
function rebalanceMetrics(control: OverloadController, metrics: Metrics): Counter<'counted'> {
  const registers = [metrics.registry];
  new Gauge({ name: 'wattplace_overload_target', help: 'Share of active host time above capacity POST /v1/rebalance may spend (overloadTarget).', registers }).set(control.cfg.target);
  new Gauge({
    name: 'wattplace_overload_observed_ratio',
    help: 'Overloaded share of the active host time POST /v1/rebalance has counted since start.',
    registers,
    collect() {
      this.set(control.rate());
    },
  });
  new Gauge({
    name: 'wattplace_overload_margin',
    help: 'Safety margin (in forecast standard deviations) the next POST /v1/rebalance plan uses: z (relief), drainZ (drains), openZ (waking a host).',
    labelNames: ['margin'] as const,
    registers,
    collect() {
      const m = control.margins();
      this.set({ margin: 'z' }, m.z);
      this.set({ margin: 'drainZ' }, m.drainZ);
      this.set({ margin: 'openZ' }, m.openZ);
    },
  });
  return new Counter({
    name: 'wattplace_overload_intervals_total',
    help: 'POST /v1/rebalance calls whose interval the controller counted (counted="true"), or left uncounted as a resend of an interval already counted (counted="false").',
    labelNames: ['counted'] as const,
    registers,
  });
}

/** The state one service keeps across `/v1/rebalance` calls: its controller and the last interval it observed. */
export class RebalanceLoop {
  /** intervalEnd of the last observed call (epoch ms); −Infinity before the first. */
  lastIntervalEnd = -Infinity;
  constructor(readonly control: OverloadController = new OverloadController()) {}
}

export function rebalance(core: Wattplace, body: unknown, loop: RebalanceLoop = new RebalanceLoop()) {
  const control = loop.control;
  if (typeof body !== 'object' || body === null) throw new ValidationError('body', 'must be a JSON object');
  const b = body as Record<string, unknown>;
  if (!Array.isArray(b.running)) throw new ValidationError('running', 'must be an array');
  const running = b.running as RunningBody[];
  if (running.length > REBALANCE_LIMITS.maxWorkloads) throw new LimitError('running', `at most ${REBALANCE_LIMITS.maxWorkloads} entries, got ${running.length}`);
  const cfg: RebalanceConfig = {
    ...DEFAULT_REBALANCE,
    z: b.z === undefined ? DEFAULT_REBALANCE.z : num(b.z, 'z'),
    drainZ: b.drainZ === undefined ? DEFAULT_REBALANCE.drainZ : num(b.drainZ, 'drainZ'),
    openZ: b.openZ === undefined ? DEFAULT_REBALANCE.openZ : num(b.openZ, 'openZ'),
    maxMigrations: b.maxMigrations === undefined ? Infinity : num(b.maxMigrations, 'maxMigrations'),
  };
  let intervalEnd: number | undefined;
  if (b.intervalEnd !== undefined) {
    intervalEnd = num(b.intervalEnd, 'intervalEnd');
    if (!Number.isSafeInteger(intervalEnd)) throw new ValidationError('intervalEnd', `must be whole epoch milliseconds, got ${echo(b.intervalEnd)}`);
    const ahead = intervalEnd - core.clock();
    if (ahead > core.config.maxClockSkewMs) throw new ValidationError('intervalEnd', `is ${ahead} ms ahead of the service clock (at most ${core.config.maxClockSkewMs} ms allowed)`);
  }
  core.collector.refresh();
  const snap = core.collector.current();
  const n = running.length;
  const host = new Int32Array(n);
  const mean = new Float64Array(n);
  const variance = new Float64Array(n);
  const mem = new Float64Array(n);
  const cost = new Float64Array(n);
  const alloc = new Float64Array(n);
  const current = new Float64Array(n);
  const ids: string[] = new Array(n);
  const fc = new WorkloadForecaster(DEFAULT_FORECAST);
  fc.ensure(n);
  const seen = new Set<string>();
  running.forEach((r, i) => {
    const at = `running[${i}]`;
    if (typeof r !== 'object' || r === null) throw new ValidationError(at, 'must be an object');
    if (typeof r.workloadId !== 'string' || !r.workloadId) throw new ValidationError(`${at}.workloadId`, 'required');
    if (seen.has(r.workloadId)) throw new ValidationError(`${at}.workloadId`, `duplicate workload id ${echo(r.workloadId)}`);
    seen.add(r.workloadId);
    ids[i] = r.workloadId;
    if (typeof r.hostId !== 'string') throw new ValidationError(`${at}.hostId`, 'required');
    const h = snap.indexOf(r.hostId);
    if (h < 0) throw new ValidationError(`${at}.hostId`, `unknown host ${echo(r.hostId)}: not registered with wattplace`);
    host[i] = h;
    if (!Array.isArray(r.cpuHistory) || r.cpuHistory.length === 0) throw new ValidationError(`${at}.cpuHistory`, 'needs at least one sample');
    if (r.cpuHistory.length > REBALANCE_LIMITS.maxHistory) throw new LimitError(`${at}.cpuHistory`, `at most ${REBALANCE_LIMITS.maxHistory} samples, got ${r.cpuHistory.length}`);
    fc.reset(i);
    (r.cpuHistory as unknown[]).forEach((x, k) => fc.observe(i, num(x, `${at}.cpuHistory[${k}]`)));
    mean[i] = fc.forecast(i);
    current[i] = (r.cpuHistory as number[])[r.cpuHistory.length - 1];
    if (r.cpuMillis !== undefined && r.vcpus !== undefined) throw new ValidationError(`${at}.vcpus`, 'give cpuMillis or vcpus, not both');
    if (r.cpuMillis === undefined && r.vcpus === undefined) throw new ValidationError(`${at}.cpuMillis`, 'required: the CPU allocation in millicores (or vcpus)');
    alloc[i] = r.vcpus !== undefined ? num(r.vcpus, `${at}.vcpus`) * 1000 : num(r.cpuMillis, `${at}.cpuMillis`);
    // the allocation scales a burst (ForecastConfig.sizeSigma); a server's vCPUs are also the most
    // it can use (roomSigmas), a pod's request is not a limit
    variance[i] = fc.variance(i, alloc[i], r.vcpus !== undefined ? alloc[i] : 0);
    if (r.memBytes === undefined) throw new ValidationError(`${at}.memBytes`, 'required: the memory allocation in bytes');
    mem[i] = num(r.memBytes, `${at}.memBytes`);
    cost[i] = r.cost === undefined ? Math.max(1, mem[i]) : num(r.cost, `${at}.cost`);
  });
  const usable = new Uint8Array(snap.size);
  for (let h = 0; h < snap.size; h++) usable[h] = snap.state[h] === PowerState.MAINTENANCE || snap.draining[h] !== 0 ? 0 : 1;
  // allocation room per host for the listed workloads (see above)
  const book = core.reservations;
  book.expire(core.clock());
  book.ensureHosts(snap.size);
  const listedC = new Float64Array(snap.size);
  const listedM = new Float64Array(snap.size);
  for (let i = 0; i < n; i++) {
    listedC[host[i]] += alloc[i];
    listedM[host[i]] += mem[i];
  }
  const cfgCore = core.config;
  const allocCap = new Float64Array(snap.size);
  const memCap = new Float64Array(snap.size);
  for (let h = 0; h < snap.size; h++) {
    const fixedC = Math.max(0, snap.allocCpu[h] - listedC[h]) + book.cpu[h];
    const fixedM = Math.max(0, snap.allocMem[h] - listedM[h]) + book.mem[h];
    allocCap[h] = cfgCore.cpuCeiling * snap.capCpu[h] * cfgCore.cpuAllocationRatio - fixedC;
    memCap[h] = snap.capMem[h] * cfgCore.memAllocationRatio - fixedM;
  }
  // the interval that just ended, per host: Σ previous and Σ latest samples of its workloads
  const a = new Float64Array(snap.size);
  const bNow = new Float64Array(snap.size);
  const seenHost = new Uint8Array(snap.size);
  running.forEach((r, i) => {
    const hist = r.cpuHistory as number[];
    if (hist.length < 2) return;
    const h = host[i];
    seenHost[h] = 1;
    a[h] += hist[hist.length - 2];
    bNow[h] += hist[hist.length - 1];
  });
  let active = 0;
  let over = 0;
  for (let h = 0; h < snap.size; h++) {
    if (!seenHost[h]) continue;
    active++;
    over += intervalOverload(a[h], bNow[h], snap.capCpu[h]);
  }
  // a retry of an interval already counted (same or older intervalEnd) plans without counting it again
  const observed = intervalEnd === undefined || intervalEnd > loop.lastIntervalEnd;
  if (observed) {
    control.observe(over, active);
    if (intervalEnd !== undefined) loop.lastIntervalEnd = intervalEnd;
  }
  const expert = b.z !== undefined || b.drainZ !== undefined || b.openZ !== undefined;
  const margins: Margins = expert ? { z: cfg.z, drainZ: cfg.drainZ, openZ: cfg.openZ } : control.margins();
  const plan = new Rebalancer(cfg).plan(
    { n: snap.size, cap: snap.capCpu, memCap, models: snap.models, usable, allocCap },
    { n, host, mean, variance, mem, cost, alloc, current },
    margins,
  );
  const moves: { workloadId: string; sourceHostId: string; targetHostId: string }[] = [];
  const where = Int32Array.from(host);
  for (let i = 0; i < plan.migrations.length; i += 2) {
    const w = plan.migrations[i];
    const t = plan.migrations[i + 1];
    moves.push({ workloadId: ids[w], sourceHostId: snap.ids[where[w]], targetHostId: snap.ids[t] });
    where[w] = t;
  }
  return {
    migrations: moves,
    drainedHostIds: plan.drained.map((h) => snap.ids[h]),
    wokenHostIds: plan.opened.map((h) => snap.ids[h]),
    unresolved: plan.unresolved,
    overloadTarget: control.cfg.target,
    observedOverload: control.rate(),
    observed,
    margins,
  };
}
