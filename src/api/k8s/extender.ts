import {
  DEFAULT_SITE,
  PowerState,
  ValidationError,
  cpuMillis,
  memBytes,
  type Candidate,
  type HostSpec,
  type PowerModelSpec,
  type Rejection,
} from '../../domain';
import type { Wattplace } from '../../decision';
import { catalogSpec } from '../../power';
import type { Metrics } from '../metrics';
import { arrayElementSpans } from '../json-spans';
import { JsonWriter } from '../json-writer';
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

/** The engine's answer for the offered nodes (DecisionEngine.screen), plus the nodes failed before it. */
interface Outcome {
  /** Passing nodes k < count: name ids[hosts[k]], engine score score[k] (higher is better), in the order offered. */
  readonly count: number;
  readonly hosts: Int32Array;
  readonly score: Float64Array;
  readonly ids: readonly string[];
  /** Names that fail, with the reason (a name offered twice may appear twice). */
  readonly failed: readonly Rejection[];
}

const NO_OUTCOME: Outcome = { count: 0, hosts: new Int32Array(0), score: new Float64Array(0), ids: [], failed: [] };

/**
 * kube-scheduler HTTP extender (k8s.io/kube-scheduler/extender/v1): filter and
 * prioritize. Both run the pod through the decision engine's `screen` — the
 * same filters and scores as gRPC Evaluate, without its best-first sort —
 * with the offered nodes as the candidates. Answers list the passing nodes in
 * the order they were offered, then (prioritize) the failed ones; the
 * scheduler does not read any order into them.
 *
 * Answers are written as JSON text here (the wire form, exactly: Go field
 * names, every key present), and in full-Nodes mode the passing Node objects
 * are the request's own bytes, copied: a 500-Node answer is ~1.4 MB that
 * would otherwise be serialized again.
 */
export class K8sExtender {
  constructor(
    private readonly core: Wattplace,
    readonly opts: K8sExtenderOptions = DEFAULT_K8S_OPTIONS,
    private readonly metrics?: Metrics,
  ) {}

  /**
   * POST /k8s/filter: the ExtenderFilterResult as JSON text. `raw` is the
   * request body's bytes, when the caller has them (Node objects are then
   * echoed from it). Never throws for bad input: it is answered with `Error`
   * naming the field.
   */
  filter(body: unknown, raw?: Buffer): Buffer {
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
      const answer: ExtenderFilterResult = { Nodes: null, NodeNames: null, FailedNodes: {}, FailedAndUnresolvableNodes: {}, Error: e.message };
      return Buffer.from(JSON.stringify(answer));
    }
    this.count('k8s_filter', outcome);
    const optOut = outcome === 'opted_out';
    const w = new JsonWriter(args.nodeList ? (raw?.length ?? 0) + 4096 : 64 + 32 * args.names.length + 96 * out.failed.length);
    if (args.nodeList) {
      let pass: number[]; // indices into nodeItems
      if (optOut) pass = args.nodeItems.map((_, i) => i);
      else {
        const byName = new Map<string, number>();
        for (let i = args.names.length - 1; i >= 0; i--) byName.set(args.names[i], i);
        pass = new Array(out.count);
        for (let k = 0; k < out.count; k++) pass[k] = byName.get(out.ids[out.hosts[k]])!;
      }
      w.raw('{"Nodes":');
      writeNodeList(w, args.nodeList, args.nodeItems, pass, raw);
      w.raw(',"NodeNames":null');
    } else {
      w.raw('{"Nodes":null,"NodeNames":[');
      if (optOut) for (let i = 0; i < args.names.length; i++) (i ? w.raw(',') : w).str(args.names[i]);
      else for (let k = 0; k < out.count; k++) (k ? w.raw(',') : w).str(out.ids[out.hosts[k]]);
      w.raw(']');
    }
    // A name offered twice appears once, with its last reason (as a Go map would keep it).
    const failed = new Map<string, string>();
    for (const r of out.failed) failed.set(r.hostId, r.reason);
    w.raw(',"FailedNodes":{');
    let first = true;
    for (const [name, reason] of failed) {
      (first ? w : w.raw(',')).str(name).raw(':').str(reason);
      first = false;
    }
    return w.raw('},"FailedAndUnresolvableNodes":{},"Error":""}').done();
  }

  /**
   * POST /k8s/prioritize: the HostPriorityList as JSON text, a score 0–10
   * for every node offered: the passing ones in the order offered, then those
   * that would fail the filter, with 0. Throws ValidationError for a bad
   * request (HTTP 400 naming the field; the scheduler ignores prioritize
   * errors and scores without this extender).
   */
  prioritize(body: unknown): Buffer {
    let args: Args;
    try {
      args = this.read(body);
    } catch (e) {
      if (e instanceof ValidationError) this.count('k8s_prioritize', 'invalid');
      throw e;
    }
    const w = new JsonWriter(64 + 48 * args.names.length);
    w.raw('[');
    if (optedOut(args.pod, this.opts.optOutKey)) {
      this.count('k8s_prioritize', 'opted_out');
      writeZeroScores(w, args.names, false);
      return w.raw(']').done();
    }
    const { count, hosts, score, ids, failed } = this.decide(args);
    let best = -Infinity;
    let worst = Infinity;
    for (let k = 0; k < count; k++) {
      if (score[k] > best) best = score[k];
      if (score[k] < worst) worst = score[k];
    }
    for (let k = 0; k < count; k++) {
      (k ? w.raw(',{"Host":') : w.raw('{"Host":')).str(ids[hosts[k]]).raw(',"Score":').num(this.toPriority(score[k], best, worst)).raw('}');
    }
    // A node is feasible or failed, never both (the engine decides each host once; a
    // full-Nodes node failed before the engine is not offered to it).
    writeZeroScores(
      w,
      failed.map((r) => r.hostId),
      count > 0,
    );
    this.count('k8s_prioritize', 'ok');
    return w.raw(']').done();
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
    let candidates: Candidate[] | undefined;
    if (args.views) {
      candidates = this.fullCandidates(args.views, failed);
      if (candidates.length === 0) return { ...NO_OUTCOME, failed };
    }
    let res;
    try {
      res = this.core.engine.screen({
        workload: { id: args.pod.id, demand: { cpuMillis: cpuMillis(args.pod.cpuMillis), memBytes: memBytes(args.pod.memBytes) }, selector: {} },
        ...(candidates ? { candidates } : { candidateIds: args.names }),
        allowStale: this.opts.allowStale,
      });
    } catch (e) {
      // The engine names its own field (candidates); the caller sent NodeNames or Nodes.
      if (e instanceof ValidationError && e.field === 'candidates') throw new ValidationError(args.views ? 'Nodes.items' : 'NodeNames', e.problem);
      throw e;
    }
    for (const e of res.pluginErrors) this.metrics?.pluginErrors.inc({ plugin: e.plugin });
    return { count: res.count, hosts: res.hosts, score: res.score, ids: res.ids, failed: failed.length ? failed.concat(res.rejected) : res.rejected };
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

/** `{"Host": name, "Score": 0}` for each of `names` once, in order; `more`: entries precede them. */
function writeZeroScores(w: JsonWriter, names: readonly string[], more: boolean): void {
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) continue;
    seen.add(n);
    w.raw(more ? ',{"Host":' : '{"Host":').str(n).raw(',"Score":0}');
    more = true;
  }
}

/**
 * The NodeList as sent, with `items` replaced by the items at `pass`. With
 * the request's bytes the items are copied from them; without (or should the
 * scan ever disagree with the parsed list) they are serialized.
 */
function writeNodeList(w: JsonWriter, list: Obj, items: readonly unknown[], pass: readonly number[], raw: Buffer | undefined): void {
  w.raw('{');
  for (const k of Object.keys(list)) if (k !== 'items') w.str(k).raw(':').value(list[k]).raw(',');
  w.raw('"items":[');
  const spans = raw && pass.length > 0 ? arrayElementSpans(raw, ['Nodes', 'items']) : null;
  const copy = raw && spans && spans.length === 2 * items.length;
  for (let k = 0; k < pass.length; k++) {
    if (k) w.raw(',');
    if (copy) w.bytes(raw, spans[2 * pass[k]], spans[2 * pass[k] + 1]);
    else w.value(items[pass[k]]);
  }
  w.raw(']}');
}
