import {
  DEFAULT_SITE,
  PowerState,
  ValidationError,
  cpuMillis,
  memBytes,
  type Candidate,
  type HostScore,
  type HostSpec,
  type PowerModelSpec,
  type Rejection,
} from '../../domain';
import type { Wattplace } from '../../decision';
import { catalogSpec } from '../../power';
import type { Metrics } from '../metrics';
import { nodeItems, readNode, type NodeView } from './node';
import { optedOut, readPod, type PodView } from './pod';

/** MaxExtenderPriority in k8s.io/kube-scheduler/extender/v1. */
export const MAX_EXTENDER_PRIORITY = 10;

/**
 * ExtenderFilterResult exactly as kube-scheduler decodes it (Go field names,
 * no JSON tags). Every answer carries all five keys.
 */
export interface ExtenderFilterResult {
  Nodes: { [k: string]: unknown; items: unknown[] } | null;
  NodeNames: string[] | null;
  FailedNodes: Record<string, string>;
  FailedAndUnresolvableNodes: Record<string, string>;
  Error: string;
}

/** One HostPriority; prioritize answers a bare array of these. */
export interface HostPriority {
  Host: string;
  Score: number;
}

export type ScoreMapping = 'linear' | 'absolute';

export interface K8sExtenderOptions {
  /** Label or annotation key; the value "true" takes the pod out of energy-aware placement. */
  readonly optOutKey: string;
  /** Model for nodes the service does not know (full-Nodes mode); none = such nodes fail. */
  readonly defaultPowerModel?: PowerModelSpec;
  /** Node label naming a SPECpower catalog entry, which wins over the default for that node. */
  readonly powerModelLabel: string;
  /** Node label naming the wattplace site of a node registered from its Node object. */
  readonly siteLabel: string;
  /**
   * linear: best → 10, worst feasible → 0, linear in between (all equal → 10).
   * absolute: 10 − round((W − W_best) / wattsPerPoint), at least 0, so a small
   * difference in watts stays a small difference in score.
   */
  readonly scoreMapping: ScoreMapping;
  readonly wattsPerPoint: number;
  /** Accept nodes whose telemetry is stale (else they fail with that reason). */
  readonly allowStale: boolean;
}

export const DEFAULT_K8S_OPTIONS: K8sExtenderOptions = {
  optOutKey: 'wattplace.scs.community/opt-out',
  powerModelLabel: 'wattplace.scs.community/power-model',
  siteLabel: 'wattplace.scs.community/site',
  scoreMapping: 'linear',
  wattsPerPoint: 10,
  allowStale: false,
};

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The request, read: the pod, and the nodes in the form they came. */
interface Args {
  readonly pod: PodView;
  /** Full-Nodes mode: the NodeList as sent (its items are echoed back). */
  readonly nodeList: Obj | null;
  readonly nodeItems: unknown[];
  /** Node names in request order (both modes). */
  readonly names: string[];
  /** Full-Nodes mode: what each item says (aligned with names). */
  readonly views: NodeView[] | null;
}

interface Outcome {
  /** Names that pass, best first, with the engine's score (higher is better). */
  readonly feasible: readonly HostScore[];
  /** Names that fail, with the reason (a name offered twice may appear twice). */
  readonly failed: readonly Rejection[];
}

const NO_OUTCOME: Outcome = { feasible: [], failed: [] };

/**
 * kube-scheduler HTTP extender (k8s.io/kube-scheduler/extender/v1): filter and
 * prioritize. Both run the pod through DecisionEngine.evaluate — the same
 * decision as gRPC Evaluate — with the offered nodes as the candidates.
 * Answers list the passing nodes best first (the scheduler does not care
 * about order; it makes the ranking visible), then the failed ones.
 */
export class K8sExtender {
  constructor(
    private readonly core: Wattplace,
    readonly opts: K8sExtenderOptions = DEFAULT_K8S_OPTIONS,
    private readonly metrics?: Metrics,
  ) {}

  /** POST /k8s/filter. Never throws for bad input: it is answered with `Error` naming the field. */
  filter(body: unknown): ExtenderFilterResult {
    let args: Args;
    let out: Outcome;
    let outcome = 'ok';
    try {
      args = this.read(body);
      if (optedOut(args.pod, this.opts.optOutKey)) {
        outcome = 'opted_out';
        out = NO_OUTCOME;
      } else out = this.decide(args);
    } catch (e) {
      if (!(e instanceof ValidationError)) throw e;
      this.count('k8s_filter', 'invalid');
      return { Nodes: null, NodeNames: null, FailedNodes: {}, FailedAndUnresolvableNodes: {}, Error: e.message };
    }
    this.count('k8s_filter', outcome);
    // No prototype: a node named "__proto__" is a key like any other.
    const failedNodes = Object.create(null) as Record<string, string>;
    for (const r of out.failed) failedNodes[r.hostId] = r.reason;
    const optOut = outcome === 'opted_out';
    if (args.nodeList) {
      let items: unknown[];
      if (optOut) items = args.nodeItems;
      else {
        const byName = new Map<string, unknown>();
        for (let i = args.names.length - 1; i >= 0; i--) byName.set(args.names[i], args.nodeItems[i]);
        items = out.feasible.map((f) => byName.get(f.hostId));
      }
      return { Nodes: { ...args.nodeList, items }, NodeNames: null, FailedNodes: failedNodes, FailedAndUnresolvableNodes: {}, Error: '' };
    }
    const names = optOut ? args.names : out.feasible.map((f) => f.hostId);
    return { Nodes: null, NodeNames: names, FailedNodes: failedNodes, FailedAndUnresolvableNodes: {}, Error: '' };
  }

  /**
   * POST /k8s/prioritize: a score 0–10 for every node offered, the passing
   * ones best first, then those that would fail the filter, with 0. Throws
   * ValidationError for a bad request (HTTP 400 naming the field; the
   * scheduler ignores prioritize errors and scores without this extender).
   */
  prioritize(body: unknown): HostPriority[] {
    let args: Args;
    try {
      args = this.read(body);
    } catch (e) {
      if (e instanceof ValidationError) this.count('k8s_prioritize', 'invalid');
      throw e;
    }
    if (optedOut(args.pod, this.opts.optOutKey)) {
      this.count('k8s_prioritize', 'opted_out');
      const seen = new Set<string>();
      const out: HostPriority[] = [];
      for (const n of args.names) {
        if (seen.has(n)) continue;
        seen.add(n);
        out.push({ Host: n, Score: 0 });
      }
      return out;
    }
    const { feasible, failed } = this.decide(args);
    const out: HostPriority[] = new Array(feasible.length);
    const best = feasible.length ? feasible[0].score : 0;
    const worst = feasible.length ? feasible[feasible.length - 1].score : 0;
    for (let i = 0; i < feasible.length; i++) out[i] = { Host: feasible[i].hostId, Score: this.toPriority(feasible[i].score, best, worst) };
    const seen = new Set<string>();
    for (const r of failed) {
      if (seen.has(r.hostId)) continue;
      seen.add(r.hostId);
      out.push({ Host: r.hostId, Score: 0 });
    }
    this.count('k8s_prioritize', 'ok');
    return out;
  }

  /**
   * Engine score → 0..10. The engine's score is −(marginal watts), times the
   * site's carbon factor when carbon weighting is on, so the host with the
   * lowest (carbon-weighted) marginal watts gets 10.
   */
  private toPriority(score: number, best: number, worst: number): number {
    let p: number;
    if (this.opts.scoreMapping === 'absolute') p = MAX_EXTENDER_PRIORITY - Math.round((best - score) / this.opts.wattsPerPoint);
    else p = best - worst < 1e-9 ? MAX_EXTENDER_PRIORITY : Math.round((MAX_EXTENDER_PRIORITY * (score - worst)) / (best - worst));
    return p < 0 ? 0 : p > MAX_EXTENDER_PRIORITY ? MAX_EXTENDER_PRIORITY : p;
  }

  private read(body: unknown): Args {
    if (!isObj(body)) throw new ValidationError('ExtenderArgs', 'the body must be an ExtenderArgs object {"Pod", "Nodes" | "NodeNames"}');
    const pod = readPod(body.Pod, 'Pod');
    if (body.Nodes !== undefined && body.Nodes !== null) {
      const items = nodeItems(body.Nodes, 'Nodes');
      const views = items.map((n, i) => readNode(n, `Nodes.items[${i}]`));
      return { pod, nodeList: body.Nodes as Obj, nodeItems: items, names: views.map((v) => v.name), views };
    }
    if (body.NodeNames !== undefined && body.NodeNames !== null) {
      if (!Array.isArray(body.NodeNames)) throw new ValidationError('NodeNames', 'must be an array of node names');
      const names = body.NodeNames as unknown[];
      for (let i = 0; i < names.length; i++) {
        if (typeof names[i] !== 'string' || names[i] === '') throw new ValidationError(`NodeNames[${i}]`, 'must be a non-empty string');
      }
      return { pod, nodeList: null, nodeItems: [], names: names as string[], views: null };
    }
    throw new ValidationError('NodeNames', 'one of NodeNames (nodeCacheCapable: true) or Nodes (nodeCacheCapable: false) is required');
  }

  /** Runs the engine over the offered nodes. */
  private decide(args: Args): Outcome {
    if (args.names.length === 0) return NO_OUTCOME; // an empty candidate list would mean "every host"
    const failed: Rejection[] = [];
    let candidates: Candidate[];
    if (args.views) candidates = this.fullCandidates(args.views, failed);
    else {
      candidates = new Array(args.names.length);
      for (let i = 0; i < args.names.length; i++) candidates[i] = { hostId: args.names[i] };
    }
    if (candidates.length === 0) return { feasible: [], failed };
    let res;
    try {
      res = this.core.engine.evaluate({
        workload: { id: args.pod.id, demand: { cpuMillis: cpuMillis(args.pod.cpuMillis), memBytes: memBytes(args.pod.memBytes) }, selector: {} },
        candidates,
        allowStale: this.opts.allowStale,
      });
    } catch (e) {
      // The engine names its own field (candidates); the caller sent NodeNames or Nodes.
      if (e instanceof ValidationError && e.field === 'candidates') throw new ValidationError(args.views ? 'Nodes.items' : 'NodeNames', e.problem);
      throw e;
    }
    for (const e of res.pluginErrors) this.metrics?.pluginErrors.inc({ plugin: e.plugin });
    return { feasible: res.feasible, failed: failed.length ? failed.concat(res.rejected) : res.rejected };
  }

  /**
   * Full-Nodes mode: each Node's allocatable becomes the schedulable capacity
   * (the candidate's allocation ratios are allocatable / registered capacity).
   * A node the service does not know is registered from its Node object — capacity
   * = allocatable, labels = the node's labels, power model from the node's
   * power-model label or the configured default — or, with neither, fails.
   */
  private fullCandidates(views: readonly NodeView[], failed: Rejection[]): Candidate[] {
    const out: Candidate[] = [];
    const failedNames = new Set<string>();
    const fail = (hostId: string, reason: string) => {
      failedNames.add(hostId);
      failed.push({ hostId, reason });
    };
    let snap = this.core.engine.snapshot();
    const register: HostSpec[] = [];
    const regIdx = new Set<string>();
    for (const v of views) {
      if (v.problem) {
        fail(v.name, `node ${v.problem}`);
        continue;
      }
      if (snap.indexOf(v.name) >= 0 || regIdx.has(v.name)) continue;
      const label = v.labels[this.opts.powerModelLabel];
      const power = label ? catalogSpec(label) : this.opts.defaultPowerModel;
      if (!power) {
        fail(
          v.name,
          label
            ? `unknown node: not registered with wattplace, and its ${this.opts.powerModelLabel} label ${JSON.stringify(label)} names no catalog model`
            : 'unknown node: not registered with wattplace and no default power model configured (k8sDefaultPowerModel)',
        );
        continue;
      }
      regIdx.add(v.name);
      register.push({
        id: v.name,
        site: v.labels[this.opts.siteLabel] || DEFAULT_SITE,
        capacity: { cpuMillis: cpuMillis(v.allocCpuMillis ?? 0), memBytes: memBytes(v.allocMemBytes ?? 0) },
        power,
        state: PowerState.ON,
        labels: v.labels,
      });
    }
    if (register.length > 0) {
      this.core.registerHosts(register);
      snap = this.core.engine.snapshot();
    }
    for (const v of views) {
      if (failedNames.has(v.name)) continue;
      const h = snap.indexOf(v.name);
      if (h < 0) continue; // unreachable: registered above or failed
      out.push({
        hostId: v.name,
        cpuAllocationRatio: ratio(v.allocCpuMillis ?? 0, snap.capCpu[h]),
        memAllocationRatio: ratio(v.allocMemBytes ?? 0, snap.capMem[h]),
      });
    }
    return out;
  }

  private count(rpc: string, outcome: string): void {
    this.metrics?.decisions.inc({ rpc, outcome });
  }
}

/**
 * allocatable / capacity as an allocation ratio within the engine's 0–1000
 * range; 0 would mean "server default", so an allocatable of 0 becomes the
 * smallest positive ratio (nothing fits).
 */
function ratio(allocatable: number, capacity: number): number {
  if (!(capacity > 0)) return 1000;
  const r = allocatable / capacity;
  return r <= 0 ? Number.MIN_VALUE : r > 1000 ? 1000 : r;
}
