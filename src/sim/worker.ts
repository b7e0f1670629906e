import { parentPort } from 'node:worker_threads';
import type { Workloads } from './cluster';
import { loadTraces, runJob, workloadsOf, type SimJob } from './run';

/** Worker thread: runs simulation jobs sent by runJobs, reporting progress every few steps. */
const cache = new Map<string, Workloads>();
parentPort?.on('message', (m: { i: number; job: SimJob }) => {
  void (async () => {
    try {
      const key = JSON.stringify(m.job.scenario.trace) + ':' + String(m.job.scenario.steps);
      let wl = cache.get(key);
      if (!wl) {
        wl = workloadsOf(m.job.scenario, await loadTraces(m.job.scenario));
        cache.set(key, wl);
      }
      let last = 0;
      const result = runJob(m.job, wl, (done, total) => {
        if (done - last >= 8 || done === total) {
          last = done;
          parentPort?.postMessage({ i: m.i, progress: [done, total] });
        }
      });
      parentPort?.postMessage({ i: m.i, result });
    } catch (e) {
      parentPort?.postMessage({ i: m.i, error: e instanceof Error ? e.message : String(e) });
    }
  })();
});
