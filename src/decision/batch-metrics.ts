import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { BatchObserver } from './batch';

/**
 * Optimizer metrics on the service's registry:
 *   wattplace_solver_duration_seconds{rpc,method}   time per optimization, by the method that produced the answer
 *   wattplace_solver_gap_ratio{rpc}                 (objective − bound) / bound of each answer (histogram)
 *   wattplace_solver_gap{rpc}, wattplace_consolidation_watts_saved   the dashboard's gauges in
 *                                                   src/api/metrics.ts, set here when registered
 *   wattplace_solver_answers_total{rpc,method}      answers by method (heuristic, milp, lns, current)
 *   wattplace_solver_fallbacks_total{rpc,reason,backend}  exact answers not used (verify, timeout, error)
 *   wattplace_solver_verification_failures_total{rpc,method}  answers the independent verifier rejected
 */
export class SolverMetrics {
  readonly seconds: Histogram<'rpc' | 'method'>;
  readonly gap: Histogram<'rpc'>;
  readonly answers: Counter<'rpc' | 'method'>;
  readonly fallbacks: Counter<'rpc' | 'reason' | 'backend'>;
  readonly verificationFailures: Counter<'rpc' | 'method'>;

  constructor(private readonly registry: Registry) {
    const registers = [registry];
    this.seconds = new Histogram({
      name: 'wattplace_solver_duration_seconds',
      help: 'Batch optimizer wall time, by RPC and the method that produced the answer.',
      labelNames: ['rpc', 'method'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers,
    });
    this.gap = new Histogram({
      name: 'wattplace_solver_gap_ratio',
      help: 'Relative gap (objective − lower bound) / lower bound of each optimizer answer.',
      labelNames: ['rpc'] as const,
      buckets: [0, 0.001, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.5, 1],
      registers,
    });
    this.answers = new Counter({ name: 'wattplace_solver_answers_total', help: 'Optimizer answers by the method that produced them.', labelNames: ['rpc', 'method'] as const, registers });
    this.fallbacks = new Counter({
      name: 'wattplace_solver_fallbacks_total',
      help: 'Exact-solver answers not used (failed verification, timed out, backend error); the best verified answer stood.',
      labelNames: ['rpc', 'reason', 'backend'] as const,
      registers,
    });
    this.verificationFailures = new Counter({
      name: 'wattplace_solver_verification_failures_total',
      help: 'Solver answers rejected by the independent constraint verifier.',
      labelNames: ['rpc', 'method'] as const,
      registers,
    });
  }

  private gauge(name: string): Gauge | undefined {
    const m = this.registry.getSingleMetric(name);
    return m instanceof Gauge ? m : undefined;
  }

  observer(rpc: string): BatchObserver {
    return {
      solved: (s) => {
        this.seconds.observe({ rpc, method: s.method }, s.elapsedMs / 1000);
        if (Number.isFinite(s.gap)) {
          this.gap.observe({ rpc }, s.gap);
          this.gauge('wattplace_solver_gap')?.set({ rpc }, s.gap);
        }
        this.answers.inc({ rpc, method: s.method });
      },
      consolidated: (before, after) => this.gauge('wattplace_consolidation_watts_saved')?.set(before - after),
      fallback: (reason, backend) => this.fallbacks.inc({ rpc, reason, backend }),
      verificationFailed: (method) => this.verificationFailures.inc({ rpc, method }),
    };
  }
}
