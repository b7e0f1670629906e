import { Worker } from 'node:worker_threads';
import type { LpModel } from './milp';

/**
 * The worker's whole program. It is plain CommonJS evaluated from a string, so it
 * loads the same way from compiled dist/ and from TypeScript sources under vitest
 * (no .ts worker file, no loader); the solver library is passed by resolved path.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const solver = require(workerData.solverPath);
parentPort.on('message', (m) => {
  const t0 = Date.now();
  let result, error;
  try { result = solver.Solve(m.model); } catch (e) { error = String((e && e.message) || e); }
  if (result && typeof result === 'object') {
    const plain = {};
    for (const k of Object.keys(result)) { const v = result[k]; if (typeof v === 'number' || typeof v === 'boolean') plain[k] = v; }
    result = plain;
  }
  parentPort.postMessage({ id: m.id, result, error, elapsedMs: Date.now() - t0 });
});
`;

export interface LpOutcome {
  /** solved: the library returned (its answer still has to pass the verifier); timeout: the worker was killed at the deadline. */
  readonly status: 'solved' | 'timeout' | 'error';
  readonly result?: Record<string, number | boolean>;
  readonly error?: string;
  /** Time inside the solver (solved) or until the kill (timeout). */
  readonly elapsedMs: number;
}

let solverPath: string | undefined;

/**
 * javascript-lp-solver in a worker thread with a hard deadline: the library's own
 * `timeout` does not cover the initial LP, so a solve that overruns is stopped
 * with worker.terminate() and reported as a timeout. One solve at a time; the
 * thread is reused between solves and respawned after a kill. Idle, it does not
 * keep the process alive.
 */
export class LpWorker {
  private worker: Worker | undefined;
  private seq = 0;
  private pending: { id: number; worker: Worker; resolve: (o: LpOutcome) => void; timer: NodeJS.Timeout; t0: number } | undefined;
  /** Workers started (first start and restarts after a kill), for tests and metrics. */
  spawned = 0;

  private spawn(): Worker {
    solverPath ??= require.resolve('javascript-lp-solver');
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { solverPath } });
    this.spawned++;
    w.on('message', (m: { id: number; result?: Record<string, number | boolean>; error?: string; elapsedMs: number }) => {
      const p = this.pending;
      if (!p || p.id !== m.id || p.worker !== w) return;
      clearTimeout(p.timer);
      this.pending = undefined;
      w.unref();
      p.resolve(m.error !== undefined ? { status: 'error', error: m.error, elapsedMs: m.elapsedMs } : { status: 'solved', result: m.result, elapsedMs: m.elapsedMs });
    });
    const fail = (why: string) => {
      if (this.worker === w) this.worker = undefined;
      const p = this.pending;
      if (!p || p.worker !== w) return;
      clearTimeout(p.timer);
      this.pending = undefined;
      p.resolve({ status: 'error', error: why, elapsedMs: Date.now() - p.t0 });
    };
    w.on('error', (e) => fail(`worker error: ${e.message}`));
    w.on('exit', (code) => fail(`worker exited with code ${code}`));
    w.unref();
    return w;
  }

  /** Starts the thread ahead of the first solve, so its start-up overlaps other work. */
  warm(): void {
    this.worker ??= this.spawn();
  }

  /** Solves `model`, giving up (and killing the thread) after `hardMs`. */
  solve(model: LpModel, hardMs: number): Promise<LpOutcome> {
    if (this.pending) return Promise.reject(new Error('LpWorker: one solve at a time'));
    const w = (this.worker ??= this.spawn());
    const id = ++this.seq;
    const t0 = Date.now();
    return new Promise<LpOutcome>((resolve) => {
      const timer = setTimeout(() => {
        if (this.pending?.id !== id) return;
        this.pending = undefined;
        this.worker = undefined;
        void w.terminate();
        resolve({ status: 'timeout', elapsedMs: Date.now() - t0 });
      }, Math.max(1, hardMs));
      this.pending = { id, worker: w, resolve, timer, t0 };
      w.ref();
      w.postMessage({ id, model });
    });
  }

  /** Stops the thread (a solve in flight resolves as an error). */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}
