import type { HostSample, HostSpec, SiteCarbon } from '../domain';
import { LimitError } from '../domain';
import { DEFAULT_PLACEMENT_CONFIG } from '../placement';
import { MemoryStore, ReservationBook, SnapshotCollector, type IngestResult, type RegisterResult, type SampleProblem } from '../telemetry';
import { DEFAULT_LEARNED_CONFIG, LearnedPowerModels, type LearnedConfig } from '../telemetry/learned';
import { DecisionEngine, type DecisionConfig } from './engine';

export interface CoreConfig extends DecisionConfig {
  /** Open reservations expire after this long unless released or confirmed. */
  readonly reservationTtlMs: number;
  /** The hot path's snapshot is rebuilt at most this often while samples arrive. */
  readonly snapshotRefreshMs: number;
  /** Samples stamped further than this in the future are rejected. */
  readonly maxClockSkewMs: number;
  /** Most samples (and hosts) one Report / RegisterHosts call may carry. */
  readonly maxBatch: number;
  /** Learned power models (src/telemetry/learned); off when absent. */
  readonly learned?: LearnedConfig;
}

export const DEFAULT_CORE_CONFIG: CoreConfig = {
  ...DEFAULT_PLACEMENT_CONFIG,
  alternatives: 3,
  maxCandidates: 20_000,
  reservationTtlMs: 120_000,
  snapshotRefreshMs: 50,
  maxClockSkewMs: 5_000,
  maxBatch: 50_000,
};

/**
 * The core: telemetry store, snapshot collector, reservations and the decision
 * engine, wired together. Every adapter (gRPC, Kubernetes, Nova, simulator)
 * holds one of these and calls it; none keeps state of its own.
 */
export class Wattplace {
  readonly store: MemoryStore;
  readonly collector: SnapshotCollector;
  readonly reservations: ReservationBook;
  readonly engine: DecisionEngine;
  /** Per-host power curves fitted from the samples (GetPowerModel); off unless configured. */
  readonly learned: LearnedPowerModels;

  constructor(
    readonly config: CoreConfig = DEFAULT_CORE_CONFIG,
    readonly clock: () => number = Date.now,
  ) {
    this.store = new MemoryStore({ maxClockSkewMs: config.maxClockSkewMs });
    this.collector = new SnapshotCollector(this.store, config.snapshotRefreshMs, clock);
    this.reservations = new ReservationBook(config.reservationTtlMs);
    this.engine = new DecisionEngine({ store: this.store, collector: this.collector, reservations: this.reservations, clock, config });
    this.learned = new LearnedPowerModels(config.learned ?? DEFAULT_LEARNED_CONFIG, this.store, () => this.collector.refresh(), clock);
    if (this.learned.enabled) {
      this.store.addListener(this.learned);
      this.learned.start();
    }
  }

  registerHosts(hosts: readonly HostSpec[]): RegisterResult {
    if (hosts.length > this.config.maxBatch) throw new LimitError('hosts', `at most ${this.config.maxBatch} hosts per call, got ${hosts.length}`);
    const r = this.store.registerHosts(hosts);
    this.collector.refresh();
    return r;
  }

  /**
   * Marks a host as being drained for STANDBY (or no longer): from the very
   * next decision on it takes nothing new (Place, Evaluate, the Kubernetes
   * extender, PlaceBatch, PlanConsolidation targets). In memory only: the
   * applier sets it again after a restart. False when the host is unknown.
   */
  setDraining(hostId: string, draining: boolean): boolean {
    if (!this.store.setDraining(hostId, draining)) return false;
    this.collector.refresh();
    return true;
  }

  report(samples: readonly HostSample[], sites: readonly SiteCarbon[] = []): IngestResult {
    if (samples.length > this.config.maxBatch) {
      throw new LimitError('samples', `at most ${this.config.maxBatch} samples per Report, got ${samples.length}; split the batch`);
    }
    if (sites.length > this.config.maxBatch) throw new LimitError('sites', `at most ${this.config.maxBatch} entries, got ${sites.length}`);
    const r = this.store.report(samples, sites, this.clock());
    if (r.accepted + r.sitesAccepted > 0) this.collector.changed();
    return r;
  }

  /** One streamed sample; the caller calls `collector.changed()` (or `flush`) when convenient. */
  reportOne(sample: HostSample): SampleProblem | null {
    return this.store.reportOne(sample, this.clock());
  }

  close(): void {
    this.learned.close();
    this.collector.close();
  }
}
