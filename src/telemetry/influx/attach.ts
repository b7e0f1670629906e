import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { HostSample } from '../../domain';
import type { IngestResult, TelemetryStore } from '../store';
import { InfluxPersistence, type InfluxStatus, type RestoreResult } from './persistence';
import { parseTelegrafConfig, TelegrafReader } from './telegraf';

/** The service configuration keys this module reads (src/config.ts). */
export interface InfluxServiceOptions {
  readonly store: 'memory' | 'influx';
  readonly influxUrl?: string;
  readonly influxBatchSize: number;
  readonly influxFlushMs: number;
  readonly influxBufferMaxPoints: number;
  readonly influxBufferMaxBytes: number;
  readonly influxRetryMaxMs: number;
  readonly influxTimeoutMs: number;
  readonly telegraf?: Record<string, unknown>;
}

/** Receives per-host (util, watts) history after a restore, e.g. learned power models. */
export interface HistorySink {
  /** How many recent pairs per host it wants. */
  readonly historyLimit: number;
  /** Newest first. */
  seed(hostId: string, util: Float64Array, watts: Float64Array, timesMs: Float64Array): void;
}

export interface InfluxDeps {
  readonly store: TelemetryStore;
  /** Rebuild the decision snapshot now (after a restore). */
  readonly refresh: () => void;
  /** Where Telegraf samples go (Wattplace.report). */
  readonly report: (samples: HostSample[]) => IngestResult;
  readonly history?: HistorySink;
  readonly log: Logger;
  readonly registry?: Registry;
  readonly clock?: () => number;
}

export interface Readiness {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/**
 * InfluxDB persistence and the Telegraf reader, as the server uses them.
 *
 * Readiness (`/readyz`), the contract for an operator's probe:
 *  - 503 {"status":"restoring"} until the inventory and latest state are
 *    restored from InfluxDB (retried until InfluxDB answers): decisions
 *    made before that would use an incomplete cluster, so do not route yet.
 *  - 200 {"status":"degraded", influx: {...}} while InfluxDB is unreachable
 *    after the restore: decisions continue from memory and samples queue in
 *    the bounded buffer, so the scheduler must stay in service — taking it
 *    out would turn a database outage into a scheduling outage. Alert on
 *    the body or on `wattplace_influx_up == 0` / `wattplace_influx_points_dropped_total`.
 *  - 200 {"status":"ready"} otherwise.
 * gRPC health stays SERVING throughout (the same reasoning).
 */
export class InfluxAttachment {
  readonly persistence?: InfluxPersistence;
  readonly telegraf?: TelegrafReader;
  private restoredPromise?: Promise<RestoreResult>;
  private restoreDone = false;

  constructor(
    readonly options: InfluxServiceOptions,
    private readonly deps: InfluxDeps,
  ) {
    if (options.store === 'influx') {
      this.persistence = new InfluxPersistence(
        deps.store,
        {
          url: options.influxUrl ?? '',
          batchSize: options.influxBatchSize,
          flushMs: options.influxFlushMs,
          maxPoints: options.influxBufferMaxPoints,
          maxBytes: options.influxBufferMaxBytes,
          retryMaxMs: options.influxRetryMaxMs,
          timeoutMs: options.influxTimeoutMs,
        },
        deps.log.child({ component: 'influx' }),
        deps.registry,
        deps.clock,
      );
      // From now on everything the store accepts is persisted (before any port opens).
      deps.store.addListener(this.persistence);
    }
    if (options.telegraf) {
      this.telegraf = new TelegrafReader(
        parseTelegrafConfig(options.telegraf),
        options.influxUrl,
        deps.report,
        deps.log.child({ component: 'telegraf' }),
        options.influxTimeoutMs,
      );
    }
  }

  /** Starts the restore in the background (and the Telegraf reader once restored). */
  start(): Promise<RestoreResult | undefined> {
    const p = this.persistence;
    if (!p) {
      this.restoreDone = true;
      this.telegraf?.start();
      return Promise.resolve(undefined);
    }
    this.restoredPromise = p.restore().then((r) => {
      this.restoreDone = true;
      this.deps.refresh();
      this.telegraf?.start();
      const h = this.deps.history;
      if (h) {
        const s = this.deps.store.snapshot();
        // In the background: the service is already ready; models improve when the history arrives.
        p.history(s.ids, h.historyLimit, (id, u, w, t) => h.seed(id, u, w, t)).catch((e) =>
          this.deps.log.warn({ err: (e as Error).message }, 'could not read power history from InfluxDB for learned models'),
        );
      }
      return r;
    });
    return this.restoredPromise;
  }

  /** Resolves when the restore is done (at once without the InfluxDB store). */
  whenRestored(): Promise<RestoreResult | undefined> {
    return this.restoredPromise ?? Promise.resolve(undefined);
  }

  readiness(): Readiness | null {
    const p = this.persistence;
    if (!p) return null;
    const s: InfluxStatus = p.status();
    if (!this.restoreDone) return { status: 503, body: { status: 'restoring', influx: s } };
    if (s.state === 'degraded') return { status: 200, body: { status: 'degraded', influx: s } };
    return { status: 200, body: { status: 'ready', influx: s } };
  }

  async close(graceMs: number): Promise<void> {
    await this.telegraf?.stop();
    await this.persistence?.close(graceMs);
  }
}
