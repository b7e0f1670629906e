import {
  NoFeasibleHostError,
  PowerState,
  ValidationError,
  watts,
  type Candidate,
  type HostScore,
  type Rejection,
  type Workload,
} from '../domain';
import { buildPruneOrder, PlacementRunner, type PruneOrder, type CandidateOverrides, type PlacementConfig, type PreparedDemand, type RunResult } from '../placement';
import type { ClusterSnapshot, MemoryStore, ReservationBook, SnapshotCollector } from '../telemetry';
import { CapacityMisses } from './capacity-misses';
import { checkCandidate, checkWorkload } from './workload';

// A module constant: `PowerState.STANDBY` through the domain barrel is a getter call.
const STANDBY: number = PowerState.STANDBY;

export interface DecisionConfig extends PlacementConfig {
  /** Runner-up hosts returned by Place. */
  readonly alternatives: number;
  /** Most candidates one request may name. */
  readonly maxCandidates: number;
}

export interface DecisionRequest {
  readonly workload: Workload;
  /** Hosts to consider with the caller's view of them; empty or absent = every host. */
  readonly candidates?: readonly Candidate[];
  /**
   * Hosts to consider by snapshot index (ClusterSnapshot.indexOf or
   * indexOfUtf8; indices never change), with no view of their own, instead
   * of `candidates`: for a caller that resolved names itself, e.g. straight
   * from the bytes of a request. Empty or absent = every host.
   */
  readonly candidateHosts?: Int32Array;
  readonly allowStale?: boolean;
}

export interface EvaluateResult {
  /** Best first. */
  readonly feasible: HostScore[];
  readonly rejected: Rejection[];
  readonly pluginErrors: RunResult['pluginErrors'];
  /** Hosts the runner looked at. */
  readonly examined: number;
}

/**
 * Evaluate's decision without the best-first order, as flat arrays: feasible
 * host k is `hosts[k]` (a snapshot index; its name is `ids[hosts[k]]`), with
 * `marginal[k]` watts and `score[k]`, in the order the candidates were named
 * (first mention). The arrays are the engine's scratch, valid until its next
 * decision.
 */
export interface ScreenResult {
  readonly count: number;
  readonly hosts: Int32Array;
  readonly marginal: Float64Array;
  readonly score: Float64Array;
  /** Host names by snapshot index. */
  readonly ids: readonly string[];
  readonly rejected: Rejection[];
  readonly pluginErrors: RunResult['pluginErrors'];
  readonly examined: number;
}

export interface PlaceResult {
  readonly hostId: string;
  readonly hostIndex: number;
  readonly marginalWatts: number;
  readonly score: number;
  readonly reservationId: string;
  /** The chosen host is in STANDBY: the caller (or wattplace's applier) must wake it first. */
  readonly wake: boolean;
  readonly alternatives: HostScore[];
  /** Hosts examined and rejected (Place stops examining once no host left can enter its answer). */
  readonly rejected: Rejection[];
  readonly pluginErrors: RunResult['pluginErrors'];
  /** Hosts the runner looked at before it could stop. */
  readonly examined: number;
}

export interface DecisionDeps {
  readonly store: MemoryStore;
  readonly collector: SnapshotCollector;
  readonly reservations: ReservationBook;
  readonly clock: () => number;
  readonly config: DecisionConfig;
}

/** The reason a candidate the service does not know is rejected with. */
export const UNKNOWN_HOST = 'unknown host: not registered with wattplace';

/** Unknown candidates first, then the runner's rejections in host order, as one array. */
function rejections(unknown: Rejection[], res: RunResult, snap: ClusterSnapshot): Rejection[] {
  const rej = res.rejected;
  const u = unknown.length;
  const out: Rejection[] = new Array(u + rej.length);
  for (let i = 0; i < u; i++) out[i] = unknown[i];
  for (let i = 0; i < rej.length; i++) out[u + i] = { hostId: snap.ids[rej[i].hostIndex], reason: rej[i].reason };
  return out;
}

/**
 * The one decision entry: gRPC, the Kubernetes extender, the Nova endpoint and
 * the simulator all call these methods. Every method is synchronous, so a
 * Place's read of free capacity and its reservation happen with no other
 * decision in between: two requests can never double-book a host.
 */
export class DecisionEngine {
  private readonly runner = new PlacementRunner();
  /** Set when an allocation report confirmed a reservation: the next decision must not read an older snapshot. */
  private confirmedSinceSnapshot = false;
  /** The prune order of the latest snapshot a Place read (built on first use). */
  private pruned?: { snap: ClusterSnapshot; order: PruneOrder };
  /** Candidate de-duplication: seen[h] === stamp when host h was named in this request. */
  private seen = new Uint32Array(0);
  private stamp = 0;
  /** Decisions that found no feasible host (see capacity-misses.ts). */
  readonly capacityMisses = new CapacityMisses();

  constructor(readonly deps: DecisionDeps) {
    deps.store.onAllocation = (h, t, cpu, mem) => {
      if (deps.reservations.confirm(h, t, cpu, mem) > 0) this.confirmedSinceSnapshot = true;
    };
  }

  get config(): DecisionConfig {
    return this.deps.config;
  }

  snapshot(): ClusterSnapshot {
    return this.deps.collector.current();
  }

  /** Scores every candidate; reserves nothing. */
  evaluate(req: DecisionRequest): EvaluateResult {
    const { res, snap, unknown, now, demand } = this.run(req, Infinity);
    this.noteMiss(res, now, demand);
    return {
      feasible: this.scores(res, snap, 0, res.count),
      rejected: rejections(unknown, res, snap),
      pluginErrors: res.pluginErrors,
      examined: res.considered,
    };
  }

  /**
   * The same filters and scores as evaluate, for callers that need the
   * feasible set or a score per host but not the ranking (the Kubernetes
   * extender): no sort, and no object per feasible host.
   */
  screen(req: DecisionRequest): ScreenResult {
    const { res, snap, unknown, now, demand } = this.run(req, Infinity, true);
    this.noteMiss(res, now, demand);
    return {
      count: res.count,
      hosts: res.order,
      marginal: res.marginal,
      score: res.score,
      ids: snap.ids,
      rejected: rejections(unknown, res, snap),
      pluginErrors: res.pluginErrors,
      examined: res.considered,
    };
  }

  /** Chooses the best host and reserves the demand on it; NoFeasibleHostError when none fits. */
  place(req: DecisionRequest): PlaceResult {
    const { res, snap, unknown, now, demand } = this.run(req, 1 + Math.max(0, this.deps.config.alternatives));
    const rejected = rejections(unknown, res, snap);
    if (res.count === 0) {
      this.capacityMisses.record(now, demand.cpu, demand.mem);
      throw new NoFeasibleHostError(req.workload.id, rejected);
    }
    const h = res.order[0];
    const w = req.workload;
    // Expected allocation from the live store, not the (possibly throttled) snapshot: an
    // allocation report the snapshot does not show yet must not confirm this reservation.
    const r = this.deps.reservations.reserve(w.id, h, snap.ids[h], w.demand.cpuMillis, w.demand.memBytes, now, this.deps.store.allocatedNow(h));
    return {
      hostId: snap.ids[h],
      hostIndex: h,
      marginalWatts: res.marginal[0],
      score: res.score[0],
      reservationId: r.id,
      wake: snap.state[h] === STANDBY,
      alternatives: this.scores(res, snap, 1, res.count),
      rejected,
      pluginErrors: res.pluginErrors,
      examined: res.considered,
    };
  }

  /** Drops a reservation; NotFoundError when it is unknown (already released, confirmed or expired). */
  release(reservationId: string): { hostId: string } {
    if (!reservationId) throw new ValidationError('reservation_id', 'required');
    return { hostId: this.deps.reservations.release(reservationId).hostId };
  }

  /** An Evaluate / screen that examined hosts and found none feasible is a capacity miss. */
  private noteMiss(res: RunResult, now: number, d: PreparedDemand): void {
    if (res.count === 0 && res.considered > 0) this.capacityMisses.record(now, d.cpu, d.mem);
  }

  private scores(res: RunResult, snap: ClusterSnapshot, from: number, to: number): HostScore[] {
    const out: HostScore[] = new Array(Math.max(0, to - from));
    for (let i = from; i < to; i++) {
      out[i - from] = { hostId: snap.ids[res.order[i]], marginalWatts: watts(res.marginal[i]), score: res.score[i] };
    }
    return out;
  }

  private run(req: DecisionRequest, topK: number, unordered = false) {
    // Place over every host scans in prune order and stops early (same answer);
    // Evaluate, and any request naming candidates, examines every host it names.
    const w = checkWorkload(req.workload);
    const now = this.deps.clock();
    const book = this.deps.reservations;
    book.expire(now);
    // A confirmed reservation no longer counts; the allocation report that replaced it
    // must be in the snapshot read here, or the host looks emptier than it is until the
    // throttled rebuild (over-commit). So rebuild now when a confirmation happened.
    let snap: ClusterSnapshot;
    if (this.confirmedSinceSnapshot) {
      this.confirmedSinceSnapshot = false;
      snap = this.deps.collector.refresh();
    } else snap = this.deps.collector.current();
    book.ensureHosts(snap.size);
    const cfg = this.deps.config;
    const selectorKeys = Object.keys(w.selector ?? {});
    const demand: PreparedDemand = {
      workloadId: w.id,
      cpu: w.demand.cpuMillis,
      mem: w.demand.memBytes,
      selectorKeys,
      selectorValues: selectorKeys.map((k) => w.selector[k]),
      allowStale: !!req.allowStale,
      nowMs: now,
      config: cfg,
    };
    const unknown: Rejection[] = [];
    let hosts: Int32Array | null = null;
    let overrides: CandidateOverrides | undefined;
    const cands = req.candidates;
    const given = req.candidateHosts;
    if (cands?.length && given?.length) throw new ValidationError('candidates', 'send candidates or candidate host indices, not both');
    const byIndex = !cands?.length;
    const nc = cands?.length || given?.length || 0;
    if (nc > 0) {
      if (nc > cfg.maxCandidates) {
        throw new ValidationError('candidates', `at most ${cfg.maxCandidates} candidates per request, got ${nc}`);
      }
      hosts = new Int32Array(nc);
      // Duplicates are dropped with a per-host stamp (no Set); the override arrays
      // are only built when some candidate carries its own view.
      if (this.seen.length < snap.size) this.seen = new Uint32Array(Math.max(snap.size, this.seen.length * 2));
      if (this.stamp === 0xffffffff) {
        this.seen.fill(0);
        this.stamp = 0;
      }
      const stamp = ++this.stamp;
      const seen = this.seen;
      let k = 0;
      for (let i = 0; i < nc; i++) {
        let h: number;
        let c: Candidate | undefined;
        if (byIndex) {
          h = given![i];
          // A caller's bug, not bad input: indices come from a snapshot, and hosts are never removed.
          if (!(h >= 0 && h < snap.size)) throw new Error(`candidateHosts[${i}] = ${h} is not a host index (${snap.size} hosts)`);
        } else {
          c = cands![i];
          checkCandidate(c, `candidates[${i}]`);
          h = snap.indexOf(c.hostId);
          if (h < 0) {
            unknown.push({ hostId: c.hostId, reason: UNKNOWN_HOST });
            continue;
          }
        }
        if (seen[h] === stamp) continue;
        seen[h] = stamp;
        hosts[k] = h;
        if (c && (c.allocated || c.cpuAllocationRatio || c.memAllocationRatio)) {
          if (!overrides) {
            overrides = {
              allocCpu: new Float64Array(nc).fill(NaN),
              allocMem: new Float64Array(nc).fill(NaN),
              cpuRatio: new Float64Array(nc).fill(NaN),
              memRatio: new Float64Array(nc).fill(NaN),
            };
          }
          if (c.allocated) {
            overrides.allocCpu[k] = c.allocated.cpuMillis;
            overrides.allocMem[k] = c.allocated.memBytes;
          }
          if (c.cpuAllocationRatio) overrides.cpuRatio[k] = c.cpuAllocationRatio;
          if (c.memAllocationRatio) overrides.memRatio[k] = c.memAllocationRatio;
        }
        k++;
      }
      hosts = hosts.subarray(0, k);
    }
    let prune: PruneOrder | undefined;
    if (hosts === null && topK !== Infinity) {
      if (this.pruned?.snap !== snap) this.pruned = { snap, order: buildPruneOrder(snap, cfg) };
      prune = this.pruned.order;
    }
    const res = this.runner.run({ demand, snapshot: snap, reserved: book, hosts, overrides, topK, prune, unordered });
    return { res, snap, unknown, now, demand };
  }
}
