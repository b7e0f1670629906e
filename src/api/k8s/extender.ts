import {
  DEFAULT_SITE,
  MAX_NAME_CHARS,
  PowerState,
  ValidationError,
  cpuMillis,
  memBytes,
  type Candidate,
  type HostSpec,
  type PowerModelSpec,
  type Rejection,
} from '../../domain';
import { UNKNOWN_HOST, type Wattplace } from '../../decision';
import { catalogSpec } from '../../power';
import { isWellFormedId } from '../../telemetry';
import { parseJsonBody } from '../http';
import { LBRACE, LBRACKET, QUOTE, decodeString, parseSpan, scanJson, type Selection, type Span } from '../json-scan';
import { JsonWriter } from '../json-writer';
import type { Metrics } from '../metrics';
import { readNode, type NodeView } from './node';
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

/**
 * What the extender reads of an ExtenderArgs body; everything else is only
 * validated (and, for Node objects, echoed byte for byte).
 */
const ARGS: Selection = {
  Pod: true,
  NodeNames: { '*': true },
  Nodes: { items: { '*': { metadata: { name: true, labels: true }, status: { allocatable: true } } } },
};

const NULL = 0x6e; // a span starting with 'n' is null

/** The request, read: the pod, and the nodes in the form they came. */
type Args = NamesArgs | NodesArgs;

interface NamesArgs {
  readonly mode: 'names';
  readonly pod: PodView;
  readonly raw: Buffer;
  /** The NodeNames array as sent. */
  readonly list: Span;
  /** Its strings, in request order. */
  readonly names: readonly Span[];
}

interface NodesArgs {
  readonly mode: 'nodes';
  readonly pod: PodView;
  readonly raw: Buffer;
  /** The NodeList as sent, and its items array (absent or null: no items). */
  readonly list: Span;
  readonly items: Span | undefined;
  /** What each item says (request order). */
  readonly views: readonly NodeView[];
}

/** The engine's answer for the offered nodes (DecisionEngine.screen), plus the nodes failed before it. */
interface Outcome {
  /** Passing nodes k < count: name ids[hosts[k]], engine score score[k] (higher is better), in the order offered. */
  readonly count: number;
  readonly hosts: Int32Array;
  readonly score: Float64Array;
  readonly ids: readonly string[];
  /** Names that fail, with the reason (a name offered twice may appear twice unless `unique`). */
  readonly failed: readonly Rejection[];
  readonly unique: boolean;
}

const NO_OUTCOME: Outcome = { count: 0, hosts: new Int32Array(0), score: new Float64Array(0), ids: [], failed: [], unique: true };

/**
 * kube-scheduler HTTP extender (k8s.io/kube-scheduler/extender/v1): filter and
 * prioritize. Both run the pod through the decision engine's `screen` — the
 * same filters and scores as gRPC Evaluate, without its best-first sort —
 * with the offered nodes as the candidates. Answers list the passing nodes in
 * the order they were offered, then (prioritize) the failed ones; the
 * scheduler does not read any order into them.
 *
 * Both verbs take the request's bytes: one validating scan (json-scan.ts)
 * finds the pod, the node names and the few fields of each Node that matter,
 * and only those are parsed. Names are looked up by their bytes. Answers are
 * written as JSON text (the wire form exactly: Go field names, every key
 * present); in full-Nodes mode the passing Node objects are the request's own
 * bytes, copied.
 */
export class K8sExtender {
  constructor(
    private readonly core: Wattplace,
    readonly opts: K8sExtenderOptions = DEFAULT_K8S_OPTIONS,
    private readonly metrics?: Metrics,
  ) {}

  /**
   * POST /k8s/filter: the ExtenderFilterResult as JSON text. A body that is
   * not JSON throws ValidationError naming `body` (HTTP 400); any other
   * defect is answered with `Error` naming the field.
   */
  filter(raw: Buffer): Buffer {
    let args: Args;
    let out: Outcome;
    let outcome = 'ok';
    try {
      args = this.read(raw);
      if (optedOut(args.pod, this.opts.optOutKey)) {
        outcome = 'opted_out';
        out = NO_OUTCOME;
      } else out = this.decide(args);
    } catch (e) {
      if (!(e instanceof ValidationError)) throw e;
      this.count('k8s_filter', 'invalid');
      if (e.field === 'body') throw e;
      const answer: ExtenderFilterResult = { Nodes: null, NodeNames: null, FailedNodes: {}, FailedAndUnresolvableNodes: {}, Error: e.message };
      return Buffer.from(JSON.stringify(answer));
    }
    this.count('k8s_filter', outcome);
    const optOut = outcome === 'opted_out';
    const src = args.raw;
    const w = new JsonWriter(args.mode === 'nodes' ? args.list.end - args.list.start + 4096 : 64 + 32 * args.names.length + 96 * out.failed.length);
    if (args.mode === 'nodes') {
      w.raw('{"Nodes":');
      if (optOut || !args.items || args.items.kind !== LBRACKET) w.bytes(src, args.list.start, args.list.end);
      else {
        // The NodeList as sent, with only the passing items in its items array.
        const byName = new Map<string, number>();
        for (let i = args.views.length - 1; i >= 0; i--) byName.set(args.views[i].name, i);
        const items = args.items.elements!;
        w.bytes(src, args.list.start, args.items.start).raw('[');
        for (let k = 0; k < out.count; k++) {
          const it = items[byName.get(out.ids[out.hosts[k]])!];
          (k ? w.raw(',') : w).bytes(src, it.start, it.end);
        }
        w.raw(']').bytes(src, args.items.end, args.list.end);
      }
      w.raw(',"NodeNames":null');
    } else {
      w.raw('{"Nodes":null,"NodeNames":');
      if (optOut) w.bytes(src, args.list.start, args.list.end);
      else {
        w.raw('[');
        for (let k = 0; k < out.count; k++) (k ? w.raw(',') : w).str(out.ids[out.hosts[k]]);
        w.raw(']');
      }
    }
    // A name offered twice appears once, with its last reason (as a Go map would keep it).
    // The engine's rejections name each host once; only names failed before it can repeat.
    w.raw(',"FailedNodes":{');
    let first = true;
    const put = (name: string, reason: string) => {
      (first ? w : w.raw(',')).str(name).raw(':').str(reason);
      first = false;
    };
    if (out.unique) for (const r of out.failed) put(r.hostId, r.reason);
    else {
      const byName = new Map<string, string>();
      for (const r of out.failed) byName.set(r.hostId, r.reason);
      for (const [name, reason] of byName) put(name, reason);
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
  prioritize(raw: Buffer): Buffer {
    let args: Args;
    try {
      args = this.read(raw);
    } catch (e) {
      if (e instanceof ValidationError) this.count('k8s_prioritize', 'invalid');
      throw e;
    }
    const n = args.mode === 'names' ? args.names.length : args.views.length;
    const w = new JsonWriter(64 + 48 * n);
    w.raw('[');
    if (optedOut(args.pod, this.opts.optOutKey)) {
      this.count('k8s_prioritize', 'opted_out');
      const all = args.mode === 'names' ? args.names.map((s) => decodeString(args.raw, s)) : args.views.map((v) => v.name);
      writeZeroScores(w, all, false);
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

  /** Reads ExtenderArgs from the body's bytes; ValidationError naming the field. */
  private read(raw: Buffer): Args {
    let top = scanJson(raw, ARGS);
    if (!top) {
      // Not JSON: JSON.parse names the problem. Should it accept what the scan did
      // not, its canonical form is read instead: the answer never depends on the scan.
      const parsed = parseJsonBody(raw);
      raw = Buffer.from(JSON.stringify(parsed));
      top = scanJson(raw, ARGS);
      if (!top) throw new Error('json-scan refused the canonical JSON of a body JSON.parse accepted');
    }
    if (top.kind !== LBRACE) throw new ValidationError('ExtenderArgs', 'the body must be an ExtenderArgs object {"Pod", "Nodes" | "NodeNames"}');
    const m = top.members!;
    const podSpan = m.get('Pod');
    const pod = readPod(podSpan && parseSpan(raw, podSpan), 'Pod');
    const nodes = m.get('Nodes');
    if (nodes && nodes.kind !== NULL) {
      if (nodes.kind !== LBRACE) throw new ValidationError('Nodes', 'must be a v1.NodeList object');
      const items = nodes.members!.get('items');
      let spans: readonly Span[] = [];
      if (items && items.kind !== NULL) {
        if (items.kind !== LBRACKET) throw new ValidationError('Nodes.items', 'must be an array');
        spans = items.elements!;
      }
      const views = spans.map((it, i) => readNode(nodeParts(raw, it), `Nodes.items[${i}]`));
      return { mode: 'nodes', pod, raw, list: nodes, items, views };
    }
    const list = m.get('NodeNames');
    if (list && list.kind !== NULL) {
      if (list.kind !== LBRACKET) throw new ValidationError('NodeNames', 'must be an array of node names');
      const names = list.elements!;
      for (let i = 0; i < names.length; i++) {
        if (names[i].kind !== QUOTE || names[i].end - names[i].start === 2) throw new ValidationError(`NodeNames[${i}]`, 'must be a non-empty string');
        // a node name is a DNS subdomain: at most 253 characters (escapes only make the raw text longer)
        if (names[i].end - names[i].start - 2 > MAX_NAME_CHARS) {
          const len = decodeString(raw, names[i]).length;
          if (len > MAX_NAME_CHARS) throw new ValidationError(`NodeNames[${i}]`, `at most ${MAX_NAME_CHARS} characters, got ${len}`);
        }
      }
      return { mode: 'names', pod, raw, list, names };
    }
    throw new ValidationError('NodeNames', 'one of NodeNames (nodeCacheCapable: true) or Nodes (nodeCacheCapable: false) is required');
  }

  /** Runs the engine over the offered nodes. */
  private decide(args: Args): Outcome {
    const failed: Rejection[] = [];
    let candidates: Candidate[] | undefined;
    let hosts: Int32Array | undefined;
    if (args.mode === 'nodes') {
      if (args.views.length === 0) return NO_OUTCOME; // an empty candidate list would mean "every host"
      candidates = this.fullCandidates(args.views, failed);
      if (candidates.length === 0) return { ...NO_OUTCOME, failed, unique: false };
    } else {
      if (args.names.length === 0) return NO_OUTCOME;
      hosts = this.resolve(args, failed);
      if (hosts.length === 0) return { ...NO_OUTCOME, failed, unique: false };
    }
    let res;
    try {
      res = this.core.engine.screen({
        workload: { id: args.pod.id, demand: { cpuMillis: cpuMillis(args.pod.cpuMillis), memBytes: memBytes(args.pod.memBytes) }, selector: {} },
        ...(candidates ? { candidates } : { candidateHosts: hosts }),
        allowStale: this.opts.allowStale,
      });
    } catch (e) {
      // The engine names its own field (candidates); the caller sent NodeNames or Nodes.
      if (e instanceof ValidationError && e.field === 'candidates') throw new ValidationError(args.mode === 'nodes' ? 'Nodes.items' : 'NodeNames', e.problem);
      throw e;
    }
    for (const e of res.pluginErrors) this.metrics?.pluginErrors.inc({ plugin: e.plugin });
    const unique = failed.length === 0;
    return { count: res.count, hosts: res.hosts, score: res.score, ids: res.ids, failed: unique ? res.rejected : failed.concat(res.rejected), unique };
  }

  /**
   * Names mode: each name's host, looked up by its bytes (a name written with
   * escapes is decoded first); unknown names go to `failed`. The engine's
   * limit on candidates counts every name offered.
   */
  private resolve(args: NamesArgs, failed: Rejection[]): Int32Array {
    const max = this.core.engine.config.maxCandidates;
    if (args.names.length > max) throw new ValidationError('NodeNames', `at most ${max} candidates per request, got ${args.names.length}`);
    const snap = this.core.engine.snapshot();
    const ids = snap.ids;
    const b = args.raw;
    const out = new Int32Array(args.names.length);
    let k = 0;
    for (const s of args.names) {
      // Inside a JSON string a backslash always starts an escape: raw bytes equal to an
      // id without one are that id's text. Anything else is decoded and looked up by text.
      let h = snap.indexOfUtf8(b, s.start + 1, s.end - 1);
      if (h < 0 || ids[h].includes('\\')) {
        const name = decodeString(b, s);
        h = snap.indexOf(name);
        if (h < 0) {
          failed.push({ hostId: name, reason: UNKNOWN_HOST });
          continue;
        }
      }
      out[k++] = h;
    }
    return out.subarray(0, k);
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
      if (!isWellFormedId(v.name)) {
        fail(v.name, 'unknown node: its name is not valid Unicode text (an unpaired surrogate), so it cannot be registered');
        continue;
      }
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
 * The parts of a Node item readNode looks at, parsed from their spans
 * (an item that is not an object is parsed whole, for readNode to refuse).
 */
function nodeParts(raw: Buffer, item: Span): unknown {
  if (item.kind !== LBRACE) return parseSpan(raw, item);
  const part = (span: Span | undefined, keys: readonly string[]): unknown => {
    if (!span) return undefined;
    if (span.kind !== LBRACE) return parseSpan(raw, span);
    const o: Record<string, unknown> = {};
    for (const k of keys) {
      const v = span.members!.get(k);
      if (v) o[k] = parseSpan(raw, v);
    }
    return o;
  };
  const m = item.members!;
  return { metadata: part(m.get('metadata'), ['name', 'labels']), status: part(m.get('status'), ['allocatable']) };
}
