import type { PowerModel } from '../power';
import type { ClusterSnapshot } from '../telemetry/snapshot';
import { capacityFilter } from './filters/capacity';
import { ceilingFilter } from './filters/ceiling';
import { drainingFilter } from './filters/draining';
import { labelsFilter } from './filters/labels';
import { powerStateFilter } from './filters/power-state';
import { stalenessFilter } from './filters/staleness';
import { carbonFactor } from './score/carbon';
import { marginalWatts } from './score/marginal-power';
import { freeCpuShareAfter } from './score/tight-fit';
import type { PruneOrder } from './prune';
import type { FilterPlugin, HostCursor, PreparedDemand } from './types';

/** Filters in the order they run; the first to reject gives the reason. */
export const DEFAULT_FILTERS: readonly FilterPlugin[] = [powerStateFilter, drainingFilter, labelsFilter, stalenessFilter, capacityFilter, ceilingFilter];

/** Per-candidate overrides from the caller (NaN = none), aligned with `hosts`. */
export interface CandidateOverrides {
  allocCpu: Float64Array;
  allocMem: Float64Array;
  cpuRatio: Float64Array;
  memRatio: Float64Array;
}

/** Live reservation totals per host index. */
export interface ReservedView {
  readonly cpu: Float64Array;
  readonly mem: Float64Array;
}

export interface RunInput {
  readonly demand: PreparedDemand;
  readonly snapshot: ClusterSnapshot;
  readonly reserved: ReservedView;
  /** Host indices to consider, or null for every host. */
  readonly hosts: Int32Array | null;
  readonly overrides?: CandidateOverrides;
  /** Keep only the best `topK` feasible hosts (Place); Infinity keeps all (Evaluate). */
  readonly topK: number;
  /**
   * Scan hosts in this order (instead of `hosts`) and stop once no host left
   * can enter the best `topK` (see prune.ts): the answer is the same as a full
   * scan's, but hosts never examined are not in `rejected`.
   */
  readonly prune?: PruneOrder;
  /**
   * With topK Infinity: leave the feasible hosts in scan order instead of
   * sorting them best first (callers that need a set or per-host scores).
   */
  readonly unordered?: boolean;
}

export interface RunRejection {
  readonly hostIndex: number;
  readonly plugin: string;
  readonly reason: string;
}

/**
 * The result, valid until the runner's next run: the arrays are the runner's
 * own scratch buffers. `order[0..count)` holds host indices best first, with
 * their marginal watts and scores at the same positions.
 */
export interface RunResult {
  readonly considered: number;
  readonly feasible: number;
  readonly count: number;
  readonly order: Int32Array;
  readonly marginal: Float64Array;
  readonly score: Float64Array;
  readonly rejected: RunRejection[];
  /** Plugins that threw (bugs, not rejections), with the host they threw on. */
  readonly pluginErrors: { plugin: string; hostIndex: number; error: string }[];
}

const EPS = 1e-9;

/**
 * The runner's one cursor. Labels are read through a getter from the
 * snapshot's spec, so the pass only touches a host's spec object when a
 * plugin asks for its labels (a selector is present): everything else lives
 * in flat arrays.
 */
class Cursor implements HostCursor {
  index = 0;
  capCpu = 0;
  capMem = 0;
  allocCpu = 0;
  allocMem = 0;
  resCpu = 0;
  resMem = 0;
  cpuRatio = 1;
  memRatio = 1;
  measCpu = NaN;
  lastMs = NaN;
  state = 0;
  draining = 0;
  model: PowerModel = undefined as never;
  carbon = NaN;
  specs: ClusterSnapshot['specs'] = [];
  get labels(): Readonly<Record<string, string>> {
    return this.specs[this.index].labels;
  }
}

/**
 * Runs filters and scores over hosts. One pass, no allocation per host: a
 * single cursor is refilled per host; per-host numbers go to flat scratch
 * arrays. Rejection reasons are only formatted after the pass, for the hosts
 * that were rejected. Pure with respect to its inputs: no I/O, no clock.
 */
export class PlacementRunner {
  private order = new Int32Array(0);
  private marginal = new Float64Array(0);
  private score = new Float64Array(0);
  private fit = new Float64Array(0);
  private rejIdx = new Int32Array(0);
  private rejPlugin = new Int16Array(0);
  private rejCode = new Int32Array(0);
  /** Candidate position of each rejection, so explaining it needs no search. */
  private rejPos = new Int32Array(0);
  private readonly cursor = new Cursor();
  /** One host's marginal watts, score and fit, from scoreHost. */
  private readonly tmp = new Float64Array(3);

  constructor(readonly filters: readonly FilterPlugin[] = DEFAULT_FILTERS) {}

  private ensure(n: number): void {
    if (this.order.length >= n + 1) return;
    const size = Math.max(n + 1, this.order.length * 2, 64);
    this.order = new Int32Array(size);
    this.marginal = new Float64Array(size);
    this.score = new Float64Array(size);
    this.fit = new Float64Array(size);
    this.rejIdx = new Int32Array(size);
    this.rejPlugin = new Int16Array(size);
    this.rejCode = new Int32Array(size);
    this.rejPos = new Int32Array(size);
  }

  /** Fills the cursor for host `h` at candidate position `k`. */
  private fill(inp: RunInput, h: number, k: number): Cursor {
    const s = inp.snapshot;
    const c = this.cursor;
    const cfg = inp.demand.config;
    const ov = inp.overrides;
    c.index = h;
    c.capCpu = s.capCpu[h];
    c.capMem = s.capMem[h];
    let v: number;
    c.allocCpu = ov && (v = ov.allocCpu[k]) === v ? v : s.allocCpu[h];
    c.allocMem = ov && (v = ov.allocMem[k]) === v ? v : s.allocMem[h];
    c.cpuRatio = ov && (v = ov.cpuRatio[k]) === v ? v : cfg.cpuAllocationRatio;
    c.memRatio = ov && (v = ov.memRatio[k]) === v ? v : cfg.memAllocationRatio;
    c.resCpu = h < inp.reserved.cpu.length ? inp.reserved.cpu[h] : 0;
    c.resMem = h < inp.reserved.mem.length ? inp.reserved.mem[h] : 0;
    c.measCpu = s.cpuUtil[h];
    c.lastMs = s.lastSampleMs[h];
    c.state = s.state[h];
    c.draining = s.draining[h];
    c.model = s.models[h];
    c.specs = s.specs;
    c.carbon = s.siteCarbon[s.siteIndex[h]];
    return c;
  }

  run(inp: RunInput): RunResult {
    const prune = inp.prune;
    if (prune && inp.overrides) throw new Error('a prune order scans every host: it cannot take candidate overrides');
    const hostList = prune ? prune.order : inp.hosts;
    const n = hostList ? hostList.length : inp.snapshot.size;
    this.ensure(n);
    const d = inp.demand;
    const filters = this.filters;
    const nf = filters.length;
    const [f0, f1, f2, f3, f4, f5] = filters;
    const { order, marginal, score, fit, rejIdx, rejPlugin, rejCode } = this;
    const topK = inp.topK;
    let count = 0;
    let feasible = 0;
    let nrej = 0;
    const pluginErrors: RunResult['pluginErrors'] = [];

    // With a prune order: a host at position k has weighted marginal watts of at
    // least d·key[k]; once that exceeds the topK-th best (by more than the tie
    // margin, with slack for rounding) no host from k on can enter the answer.
    const dcpu = d.cpu;
    let considered = n;
    for (let k = 0; k < n; k++) {
      if (prune && count >= topK && dcpu * prune.key[k] * (1 - 1e-9) - 1e-9 > -score[topK - 1] + EPS) {
        considered = k;
        break;
      }
      const h = hostList ? hostList[k] : k;
      const c = this.fill(inp, h, k);
      let failed = -1;
      let code = 0;
      // The first filters each get a call site of their own (monomorphic, so
      // the compiler inlines them); same order and semantics as the plain
      // loop that handles any further filters: the first non-zero code wins.
      let f = 0;
      try {
        if (nf > 0 && (code = f0.filter(d, c)) !== 0) failed = 0;
        else if (nf > 1 && ((f = 1), (code = f1.filter(d, c)) !== 0)) failed = 1;
        else if (nf > 2 && ((f = 2), (code = f2.filter(d, c)) !== 0)) failed = 2;
        else if (nf > 3 && ((f = 3), (code = f3.filter(d, c)) !== 0)) failed = 3;
        else if (nf > 4 && ((f = 4), (code = f4.filter(d, c)) !== 0)) failed = 4;
        else if (nf > 5 && ((f = 5), (code = f5.filter(d, c)) !== 0)) failed = 5;
        else {
          for (f = 6; f < nf; f++) {
            code = filters[f].filter(d, c);
            if (code !== 0) {
              failed = f;
              break;
            }
          }
        }
      } catch (e) {
        pluginErrors.push({ plugin: filters[f].name, hostIndex: h, error: e instanceof Error ? e.message : String(e) });
        code = -1;
        failed = f;
      }
      if (failed >= 0) {
        rejIdx[nrej] = h;
        rejPlugin[nrej] = failed;
        rejCode[nrej] = code;
        this.rejPos[nrej] = k;
        nrej++;
        continue;
      }
      const err = this.scoreHost(d, c);
      if (err !== null) {
        pluginErrors.push({ plugin: 'Score', hostIndex: h, error: err });
        rejIdx[nrej] = h;
        rejPlugin[nrej] = -1;
        rejCode[nrej] = -1;
        this.rejPos[nrej] = k;
        nrej++;
        continue;
      }
      const t = this.tmp;
      const mw = t[0];
      const sc = t[1];
      const ft = t[2];
      feasible++;
      // Insert into order[0..count) keeping best first; with a finite topK the
      // list is cut at topK, so Place keeps only what it returns.
      let pos = count;
      if (topK !== Infinity) {
        while (pos > 0 && better(sc, ft, h, score[pos - 1], fit[pos - 1], order[pos - 1])) pos--;
        if (pos >= topK) continue;
      } // else Evaluate keeps everything: append now, sort once after the pass.
      const end = count < topK ? count : topK - 1;
      for (let j = end; j > pos; j--) {
        order[j] = order[j - 1];
        marginal[j] = marginal[j - 1];
        score[j] = score[j - 1];
        fit[j] = fit[j - 1];
      }
      order[pos] = h;
      marginal[pos] = mw;
      score[pos] = sc;
      fit[pos] = ft;
      if (count < topK) count++;
    }

    if (topK === Infinity && count > 1 && !inp.unordered) this.sortAll(count);

    const rejected: RunRejection[] = new Array(nrej);
    for (let r = 0; r < nrej; r++) {
      const h = rejIdx[r];
      const k = this.rejPos[r];
      const p = rejPlugin[r];
      const code = rejCode[r];
      if (code === -1) {
        const err = pluginErrors.find((e) => e.hostIndex === h);
        const name = p >= 0 ? filters[p].name : 'Score';
        rejected[r] = { hostIndex: h, plugin: name, reason: `internal error in plugin ${name}: ${err?.error ?? 'unknown'}` };
        continue;
      }
      const c = this.fill(inp, h, k);
      rejected[r] = { hostIndex: h, plugin: filters[p].name, reason: filters[p].explain(code, d, c) };
    }
    return { considered, feasible, count, order, marginal, score, rejected, pluginErrors };
  }

  /**
   * Scores the cursor's host into tmp[0..2] (marginal watts, score, fit);
   * returns null, or the error message of a score plugin that threw. The
   * numbers travel through a typed array rather than return values or
   * variables live across a catch, which the compiler would box: one heap
   * allocation per number per host.
   */
  private scoreHost(d: PreparedDemand, c: HostCursor): string | null {
    try {
      const mw = marginalWatts(d, c);
      const sc = -mw * carbonFactor(d, c);
      const ft = freeCpuShareAfter(d, c);
      if (sc !== sc) throw new Error(`score is NaN (marginal watts ${mw})`);
      const t = this.tmp;
      t[0] = mw;
      t[1] = sc;
      t[2] = ft;
      return null;
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  }

  /**
   * Orders order[0..count) best first. One native numeric sort of a
   * Float64Array does the bulk: −score (≥ 0: power never falls with load) with
   * the position packed into the low mantissa bits, which perturbs it by far
   * less than the tie margin. Runs of scores within 1e-6 of each other are then
   * re-sorted with the exact comparator (score within EPS, tighter fit, index),
   * so the result is the comparator's order.
   */
  private sortAll(count: number): void {
    const { order, marginal, score, fit } = this;
    let ok = true;
    for (let i = 0; i < count; i++) if (!(score[i] <= 0)) ok = false;
    let perm: Int32Array;
    if (ok && count < 1 << 20) {
      const bits = 32 - Math.clz32(count);
      const mask = (1 << bits) - 1;
      const packed = new Float64Array(count);
      const words = new Uint32Array(packed.buffer);
      for (let i = 0; i < count; i++) {
        packed[i] = -score[i] + 0; // + 0 turns −0 into 0
        words[2 * i] = ((words[2 * i] & ~mask) | i) >>> 0;
      }
      packed.sort();
      perm = new Int32Array(count);
      for (let i = 0; i < count; i++) perm[i] = words[2 * i] & mask;
      // Re-sort runs of near-equal scores exactly.
      const cmp = (a: number, b: number) => (better(score[a], fit[a], order[a], score[b], fit[b], order[b]) ? -1 : 1);
      for (let i = 0; i < count; ) {
        let j = i + 1;
        while (j < count && Math.abs(score[perm[j]] - score[perm[j - 1]]) < 1e-6) j++;
        if (j - i > 1) perm.subarray(i, j).sort(cmp);
        i = j;
      }
    } else {
      perm = Int32Array.from({ length: count }, (_, i) => i);
      perm.sort((a, b) => (better(score[a], fit[a], order[a], score[b], fit[b], order[b]) ? -1 : 1));
    }
    const o = order.slice(0, count);
    const m = marginal.slice(0, count);
    const sc = score.slice(0, count);
    const f = fit.slice(0, count);
    for (let i = 0; i < count; i++) {
      const p = perm[i];
      order[i] = o[p];
      marginal[i] = m[p];
      score[i] = sc[p];
      fit[i] = f[p];
    }
  }

}

/** Strict order: higher score; within EPS the tighter fit; then the lower host index. */
function better(sa: number, fa: number, ha: number, sb: number, fb: number, hb: number): boolean {
  if (sa > sb + EPS) return true;
  if (sa < sb - EPS) return false;
  if (fa < fb - EPS) return true;
  if (fa > fb + EPS) return false;
  return ha < hb;
}

