import { Counter, Gauge, type Registry } from 'prom-client';
import type { ApplierObserver, HostPhase } from './applier';

/**
 * The applier's Prometheus metrics (README "Closing the loop"):
 *   wattplace_applier_actions_total{action,outcome}   journalled actions: disable, enable, migrate,
 *                                                     power-off, power-on, standby; ok | failed | dry-run
 *   wattplace_applier_hosts{state}                    managed hosts: on, draining, standby, waking
 *   wattplace_applier_migrations_in_flight            live migrations the applier is following
 *   wattplace_applier_leader                          1 while this replica holds the lease
 *   wattplace_applier_saved_watts                     estimate: idle minus standby watts of the hosts in standby
 */
export class ApplierMetrics implements ApplierObserver {
  private readonly actions: Counter<'action' | 'outcome'>;
  private readonly hostsGauge: Gauge<'state'>;
  private readonly inFlight: Gauge;
  private readonly leaderGauge: Gauge;
  private readonly saved: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.actions = new Counter({ name: 'wattplace_applier_actions_total', help: 'Applier actions by action and outcome (ok, failed, dry-run).', labelNames: ['action', 'outcome'] as const, registers });
    this.hostsGauge = new Gauge({ name: 'wattplace_applier_hosts', help: 'Managed hosts by applier state (on, draining, standby, waking).', labelNames: ['state'] as const, registers });
    this.inFlight = new Gauge({ name: 'wattplace_applier_migrations_in_flight', help: 'Live migrations the applier started and is following.', registers });
    this.leaderGauge = new Gauge({ name: 'wattplace_applier_leader', help: '1 while this replica leads the applier, else 0.', registers });
    this.saved = new Gauge({ name: 'wattplace_applier_saved_watts', help: 'Estimated watts saved: idle minus standby watts of the hosts the applier keeps in standby.', registers });
    for (const s of ['on', 'draining', 'standby', 'waking']) this.hostsGauge.set({ state: s }, 0);
    this.inFlight.set(0);
    this.leaderGauge.set(0);
    this.saved.set(0);
  }

  action(action: string, outcome: 'ok' | 'failed' | 'dry-run'): void {
    this.actions.inc({ action, outcome });
  }

  hosts(counts: Record<'on' | HostPhase, number>): void {
    for (const [state, n] of Object.entries(counts)) this.hostsGauge.set({ state }, n);
  }

  migrationsInFlight(n: number): void {
    this.inFlight.set(n);
  }

  leader(leading: boolean): void {
    this.leaderGauge.set(leading ? 1 : 0);
  }

  savedWatts(w: number): void {
    this.saved.set(w);
  }
}
