import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { powerStateName, PowerState } from '../domain';
import type { Wattplace } from '../decision';

/**
 * The service's Prometheus metrics, on a registry of its own (never prom-client's
 * global one), so several servers — and every test — get independent counts.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly decisionSeconds = new Histogram({
    name: 'wattplace_decision_duration_seconds',
    help: 'Time to serve a decision request, by RPC or endpoint.',
    labelNames: ['rpc'] as const,
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly decisions = new Counter({
    name: 'wattplace_decisions_total',
    help: 'Decision requests by RPC and outcome.',
    labelNames: ['rpc', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly decisionWatts = new Histogram({
    name: 'wattplace_decision_marginal_watts',
    help: 'Estimated marginal watts of each placement decision.',
    buckets: [0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
    registers: [this.registry],
  });
  readonly samplesIngested = new Counter({
    name: 'wattplace_samples_ingested_total',
    help: 'Host samples accepted.',
    labelNames: ['rpc'] as const,
    registers: [this.registry],
  });
  readonly samplesRejected = new Counter({
    name: 'wattplace_samples_rejected_total',
    help: 'Host samples rejected, by the field that was wrong.',
    labelNames: ['rpc', 'field'] as const,
    registers: [this.registry],
  });
  readonly pluginErrors = new Counter({
    name: 'wattplace_plugin_errors_total',
    help: 'Placement plugins that threw (a bug): the host was rejected with an internal-error reason.',
    labelNames: ['plugin'] as const,
    registers: [this.registry],
  });
  /** Per Place decision: the runner-up's marginal watts minus the chosen host's (0 without a runner-up). */
  readonly wattsAvoided = new Counter({
    name: 'wattplace_decision_watts_avoided_total',
    help: 'Estimated power avoided by placement decisions: sum over Place decisions of (runner-up marginal watts − chosen marginal watts).',
    registers: [this.registry],
  });
  /** Last PlaceBatch / PlanConsolidation solve: relative optimality gap and, for plans, watts before − after. */
  readonly solverGap = new Gauge({
    name: 'wattplace_solver_gap',
    help: 'Relative optimality gap of the last solve, by RPC (0 = proven optimal).',
    labelNames: ['rpc'] as const,
    registers: [this.registry],
  });
  readonly consolidationWattsSaved = new Gauge({
    name: 'wattplace_consolidation_watts_saved',
    help: 'Estimated watts saved by the last consolidation plan (watts_before − watts_after).',
    registers: [this.registry],
  });

  /** Cached label prefixes for hostWattsText, per inventory. */
  private hostLabels?: { ids: readonly string[]; sites: readonly string[]; prefix: string[] };

  constructor(
    private readonly core: Wattplace,
    opts: { defaultMetrics?: boolean } = {},
  ) {
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'wattplace_' });
    const cfg = core.config;
    new Gauge({
      name: 'wattplace_hosts',
      help: 'Registered hosts by power state, and how many have stale telemetry.',
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        const s = core.collector.current();
        const now = core.clock();
        const counts: Record<string, number> = { ON: 0, STANDBY: 0, MAINTENANCE: 0, stale: 0 };
        for (let h = 0; h < s.size; h++) {
          counts[powerStateName(s.state[h] as PowerState)]++;
          if (now - s.lastSampleMs[h] > cfg.staleAfterMs) counts.stale++;
        }
        for (const [k, v] of Object.entries(counts)) this.set({ state: k }, v);
      },
    });
    // Measured power per host: rendered by hostWattsText(), not through a
    // prom-client gauge, whose per-label work blocked the event loop for tens of
    // milliseconds per scrape at a few thousand hosts.
    new Gauge({
      name: 'wattplace_site_watts',
      help: 'Latest measured watts summed per site.',
      labelNames: ['site'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        const s = core.collector.current();
        const sum = new Float64Array(s.sites.length);
        for (let h = 0; h < s.size; h++) if (Number.isFinite(s.watts[h])) sum[s.siteIndex[h]] += s.watts[h];
        for (let i = 0; i < s.sites.length; i++) this.set({ site: s.sites[i] }, sum[i]);
      },
    });
    new Gauge({
      name: 'wattplace_reservations_open',
      help: 'Reservations not yet released, confirmed or expired.',
      registers: [this.registry],
      collect() {
        // Expired reservations end when read: a scrape sees the truth, not the count of the last decision.
        core.reservations.expire(core.clock());
        this.set(core.reservations.size);
      },
    });
    // Capacity misses are counted by the engine (no metrics on the hot path); a scrape adds the new ones.
    const misses = core.engine.capacityMisses;
    let missesSeen = misses.total;
    new Counter({
      name: 'wattplace_capacity_misses_total',
      help: 'Decisions that found no feasible host: Place without a host, or Evaluate / the Kubernetes extender with none of the examined hosts feasible.',
      registers: [this.registry],
      collect() {
        const n = misses.total;
        if (n > missesSeen) this.inc(n - missesSeen);
        missesSeen = n;
      },
    });
    const ended = new Counter({
      name: 'wattplace_reservations_ended_total',
      help: 'Reservations that ended, by how.',
      labelNames: ['how'] as const,
      registers: [this.registry],
    });
    const prev = core.reservations.onEnd;
    core.reservations.onEnd = (r, how) => {
      prev?.(r, how);
      ended.inc({ how });
    };
  }

  /** Records a Place decision's avoided watts against its runner-up. */
  countAvoided(chosenWatts: number, alternatives: readonly { marginalWatts: number }[]): void {
    const next = alternatives[0]?.marginalWatts;
    if (next !== undefined && next > chosenWatts && Number.isFinite(next)) this.wattsAvoided.inc(next - chosenWatts);
  }

  /**
   * `wattplace_host_watts{host,site}`: the latest measured watts per host (hosts
   * without a sample are left out), in Prometheus text format. The escaped label
   * part of each line is built once per inventory (snapshot.ids changes only
   * when hosts are registered); a scrape only appends the values.
   */
  hostWattsText(): string {
    const s = this.core.collector.current();
    if (this.hostLabels?.ids !== s.ids || this.hostLabels.sites !== s.sites) {
      const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
      const prefix = new Array<string>(s.size);
      for (let h = 0; h < s.size; h++) prefix[h] = `wattplace_host_watts{host="${esc(s.ids[h])}",site="${esc(s.sites[s.siteIndex[h]] ?? '')}"} `;
      this.hostLabels = { ids: s.ids, sites: s.sites, prefix };
    }
    const { prefix } = this.hostLabels;
    const parts = ['# HELP wattplace_host_watts Latest measured watts per host (hosts without a sample are left out).\n# TYPE wattplace_host_watts gauge\n'];
    for (let h = 0; h < s.size && h < prefix.length; h++) {
      const w = s.watts[h];
      if (Number.isFinite(w)) parts.push(prefix[h] + w + '\n');
    }
    return parts.join('');
  }

  /** The whole exposition: the registry's metrics and the per-host watts. */
  async text(): Promise<string> {
    return (await this.registry.metrics()) + this.hostWattsText();
  }

  /** Counts a run's plugin errors (bugs), if any. */
  countPluginErrors(errs: readonly { plugin: string }[]): void {
    for (const e of errs) this.pluginErrors.inc({ plugin: e.plugin });
  }
}
