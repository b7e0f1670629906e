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
parentPort.postMessage({ ready: true });
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
  /** Resolves when the current thread has loaded the solver. */
  private ready: Promise<void> | undefined;
  private seq = 0;
  private pending: { id: number; worker: Worker; resolve: (o: LpOutcome) => void; timer: NodeJS.Timeout; t0: number } | undefined;
  /** Workers started (first start and restarts after a kill), for tests and metrics. */
  spawned = 0;

  private spawn(): Worker {
    solverPath ??= require.resolve('javascript-lp-solver');
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { solverPath } });
    this.spawned++;
    let markReady!: () => void;
    this.ready = new Promise<void>((r) => (markReady = r));
    w.on('message', (m: { ready?: true; id: number; result?: Record<string, number | boolean>; error?: string; elapsedMs: number }) => {
      if (m.ready) {
        markReady();
        return;
      }
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

  /**
   * Solves `model`, giving up (and killing the thread) after `hardMs`. A thread
   * still starting up is waited for within the same deadline, and not killed
   * for being slow to start (it is kept for the next solve).
   */
  async solve(model: LpModel, hardMs: number): Promise<LpOutcome> {
    if (this.pending) throw new Error('LpWorker: one solve at a time');
    const t0 = Date.now();
    let w = (this.worker ??= this.spawn());
    const ready = this.ready as Promise<void>;
    let started: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([
      ready.then(() => true),
      new Promise<boolean>((r) => {
        started = setTimeout(() => r(false), Math.max(1, hardMs));
      }),
    ]);
    clearTimeout(started);
    if (!inTime) return { status: 'timeout', elapsedMs: Date.now() - t0 };
    if (this.worker !== w || this.pending) {
      if (!this.worker) return { status: 'error', error: 'worker exited while starting', elapsedMs: Date.now() - t0 };
      w = this.worker;
    }
    const id = ++this.seq;
    return new Promise<LpOutcome>((resolve) => {
      w.ref();
      // posting copies the model (structured clone): the deadline counts that time too
      w.postMessage({ id, model });
      const timer = setTimeout(
        () => {
          if (this.pending?.id !== id) return;
          this.pending = undefined;
          this.worker = undefined;
          void w.terminate();
          // start the next thread now, so that its start-up overlaps what the caller does next
          this.warm();
          resolve({ status: 'timeout', elapsedMs: Date.now() - t0 });
        },
        Math.max(1, hardMs - (Date.now() - t0)),
      );
      this.pending = { id, worker: w, resolve, timer, t0 };
    });
  }

  /** Stops the thread (a solve in flight resolves as an error). */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}
