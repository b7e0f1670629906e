import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { batchScenario } from '../solver/fixtures';
import { optimize } from '../solver/optimize';
import { corruptingBackend } from '../../test/fixtures/solver';
import { verify } from '../solver/verify';
import { SolverMetrics } from './batch-metrics';

const value = async (reg: Registry, name: string, labels: Record<string, string>, series = name) => {
  const m = reg.getSingleMetric(name);
  const v = (await m!.get()).values.filter((x) => ((x as { metricName?: string }).metricName ?? name) === series && Object.entries(labels).every(([k, l]) => x.labels[k] === l));
  return v.reduce((s, x) => s + x.value, 0);
};

describe('solver metrics', () => {
  // needs a few neighbourhood solves to finish in the budget: retried on a loaded machine
  it('count answers by method, verification failures and fallbacks', { retry: 2 }, async () => {
    const reg = new Registry();
    const m = new SolverMetrics(reg);
    const p = batchScenario(20, 40);
    const r = await optimize(p, { budgetMs: 1500, backend: corruptingBackend, observer: m.observer('PlaceBatch') });
    expect(verify(p, r.assignment)).toEqual([]);
    expect(await value(reg, 'wattplace_solver_answers_total', { rpc: 'PlaceBatch', method: 'heuristic' })).toBe(1);
    const failures = await value(reg, 'wattplace_solver_verification_failures_total', { rpc: 'PlaceBatch' });
    expect(failures).toBeGreaterThan(0);
    expect(await value(reg, 'wattplace_solver_fallbacks_total', { rpc: 'PlaceBatch', reason: 'verify', backend: 'corrupt' })).toBe(failures);
    expect(await value(reg, 'wattplace_solver_duration_seconds', { rpc: 'PlaceBatch' }, 'wattplace_solver_duration_seconds_count')).toBe(1);
    expect(await value(reg, 'wattplace_solver_gap_ratio', { rpc: 'PlaceBatch' }, 'wattplace_solver_gap_ratio_count')).toBe(1);
  });
});
