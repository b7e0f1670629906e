import { availableParallelism, totalmem } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { assignTypes, type Workloads } from './cluster';
import { simulate, type SimMetrics, type SimResult } from './engine';
import { fleetOf, makePolicy, policyName, type HostTypeEntry, type PolicyEntry, type Scenario } from './scenario';
import { readCsv, readPlanetLab, type TraceSet } from './traces';

/** One independent simulation: a scenario's trace and fleet with one policy. */
export interface SimJob {
  readonly scenario: Scenario;
  readonly policy: PolicyEntry;
  /** Replaces the scenario's fleet (what-if comparisons, capacity search). */
  readonly hostTypes?: readonly HostTypeEntry[];
  /** Forces real mode (capacity planning measures real overload). */
  readonly real?: boolean;
  readonly tag?: string;
}

export interface JobResult {
  readonly tag: string;
  readonly policy: string;
  readonly metrics: SimMetrics;
  readonly series: {
    watts: number[];
    activeHosts: number[];
    overloadedHosts: number[];
    migrations: number[];
    demandMips: number[];
  };
}

export async function loadTraces(s: Scenario): Promise<TraceSet> {
  const t = s.trace;
  const tr = 'planetlab' in t ? await readPlanetLab(t.planetlab, { limit: t.limit, steps: t.samples }) : await readCsv(t.csv, { steps: s.steps });
  if (s.steps !== undefined && s.steps < tr.steps) {
    const n = tr.ids.length;
    const util = new Float64Array(n * s.steps);
    for (let v = 0; v < n; v++) util.set(tr.util.subarray(v * tr.steps, v * tr.steps + s.steps), v * s.steps);
    const departure = Int32Array.from(tr.departure, (d) => Math.min(d, s.steps as number));
    return { ...tr, steps: s.steps, util, departure };
  }
  return tr;
}

export function workloadsOf(s: Scenario, tr: TraceSet): Workloads {
  return assignTypes(tr, s.workloadTypes);
}

/** Runs one job in this thread. */
export function runJob(job: SimJob, wl: Workloads, onStep?: (done: number, total: number) => void): JobResult {
  const s = job.scenario;
  const fleet = fleetOf(job.hostTypes ?? s.hostTypes, s.sites, s.interleaveHosts);
  const r: SimResult = simulate(fleet, wl, makePolicy(job.policy), {
    compat: job.real ? false : s.cloudsimCompat,
    stepSeconds: s.stepSeconds,
    onStep,
  });
  return {
    tag: job.tag ?? policyName(job.policy),
    policy: r.metrics.policy,
    metrics: r.metrics,
    series: {
      watts: Array.from(r.series.watts),
      activeHosts: Array.from(r.series.activeHosts),
      overloadedHosts: Array.from(r.series.overloadedHosts),
      migrations: Array.from(r.series.migrations),
      demandMips: Array.from(r.series.demandMips),
    },
  };
}

export interface RunOptions {
  /** Worker threads to use; 1 = run in this thread. Default: the machine's cores. */
  readonly parallel?: number;
  /** Progress: (job index, steps done, steps total). */
  readonly onProgress?: (job: number, done: number, total: number) => void;
}

const workerFile = join(__dirname, 'worker.js');

/**
 * Runs independent jobs, on worker threads when there are several jobs and
 * several cores (each worker reads the traces itself; nothing is shared).
 * In-thread when built sources are not available (running from TypeScript).
 */
export async function runJobs(jobs: readonly SimJob[], opts: RunOptions = {}): Promise<JobResult[]> {
  const par = Math.max(1, Math.min(opts.parallel ?? availableParallelism(), jobs.length));
  const fromTs = __filename.endsWith('.ts');
  if (par <= 1 || fromTs) {
    const cache = new Map<Scenario, Workloads>();
    const out: JobResult[] = [];
    for (let i = 0; i < jobs.length; i++) {
      const j = jobs[i];
      let wl = cache.get(j.scenario);
      if (!wl) {
        wl = workloadsOf(j.scenario, await loadTraces(j.scenario));
        cache.set(j.scenario, wl);
      }
      out.push(runJob(j, wl, opts.onProgress ? (d, t) => opts.onProgress?.(i, d, t) : undefined));
      await new Promise((r) => setImmediate(r));
    }
    return out;
  }
  const out: JobResult[] = new Array(jobs.length);
  let next = 0;
  const one = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const w = new Worker(workerFile);
      const pump = (): void => {
        if (next >= jobs.length) {
          void w.terminate();
          resolve();
          return;
        }
        const i = next++;
        w.postMessage({ i, job: jobs[i] });
      };
      w.on('message', (m: { i: number; progress?: [number, number]; result?: JobResult; error?: string }) => {
        if (m.progress) opts.onProgress?.(m.i, m.progress[0], m.progress[1]);
        else if (m.error !== undefined) {
          void w.terminate();
          reject(new Error(m.error));
        } else if (m.result) {
          out[m.i] = m.result;
          pump();
        }
      });
      w.on('error', reject);
      pump();
    });
  await Promise.all(Array.from({ length: par }, one));
  return out;
}

/**
 * Memory a simulation needs, estimated before anything is allocated. An
 * offline simulation has no batch limit (that belongs to the RPC API); it is
 * limited by memory only, and this says so before the process would run out.
 * Per-unit figures are about twice what was measured (benchmarks/RESULTS.md,
 * "Simulator at scale": ~1.9 KiB per host, ~6.3 KiB per 288-step VM), so a
 * scenario refused here would not have fitted.
 */
export const SIM_BYTES_PER_HOST = 4096;
export const SIM_BYTES_PER_VM = 4096;
/** Per VM and step: the trace (Float64) and the simulator's per-step demand. */
export const SIM_BYTES_PER_VM_STEP = 16;

export interface MemoryEstimate {
  readonly bytes: number;
  readonly available: number;
  readonly fits: boolean;
  readonly message: string;
}

const GIB = 1024 ** 3;
const fmt = (b: number): string => `${(b / GIB).toFixed(b < 10 * GIB ? 2 : 0)} GiB`;

/** Memory this process may use: the cgroup's limit when there is one, else the machine's memory. */
export function availableMemory(): number {
  const c = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() : 0;
  const total = totalmem();
  return c && c > 0 && c < total ? c : total;
}

export function estimateMemory(hosts: number, vms: number, steps: number, parallel: number, available = availableMemory()): MemoryEstimate {
  const one = hosts * SIM_BYTES_PER_HOST + vms * (SIM_BYTES_PER_VM + steps * SIM_BYTES_PER_VM_STEP);
  // Worker threads each hold their own copy of the fleet and the traces.
  const bytes = one * Math.max(1, parallel);
  const fits = bytes <= 0.9 * available;
  const message = fits
    ? `about ${fmt(bytes)} of ${fmt(available)}`
    : `${hosts} hosts and ${vms} workloads × ${steps} steps${parallel > 1 ? ` on ${parallel} worker threads` : ''} need about ${fmt(bytes)}, ` +
      `more than the ${fmt(0.9 * available)} this machine can give a simulation (90 % of ${fmt(available)}); ` +
      `simulate fewer hosts or workloads${parallel > 1 ? ', or use --parallel 1' : ''}`;
  return { bytes, available, fits, message };
}
