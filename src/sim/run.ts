import { availableParallelism } from 'node:os';
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
