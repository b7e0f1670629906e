import type { InfluxDB } from 'influx';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { epochMs, gramsPerKwh, watts, cpuMillis, memBytes, type HostSample, type HostSpec, type SiteCarbon } from '../../domain';
import { createPowerModel } from '../../power';
import type { TelemetryListener, TelemetryStore } from '../store';
import { ensureDatabase, ident, influxClient, LineWriter, literal, parseInfluxUrl, stringField, tagValue, type InfluxTarget, type WriteFailure } from './connection';
import { Kind, WriteQueue, type Payload } from './queue';

/** Measurement names wattplace writes (tag `host` or `site`). */
export const MEASUREMENT = {
  samples: 'wattplace_samples',
  hosts: 'wattplace_hosts',
  carbon: 'wattplace_carbon',
} as const;

export interface InfluxStoreConfig {
  /** http://host:port/database */
  readonly url: string;
  /** Most points per write request. */
  readonly batchSize: number;
  /** How long a partial batch may wait before it is written, ms. */
  readonly flushMs: number;
  /** Outage buffer bounds (points, estimated line-protocol bytes). */
  readonly maxPoints: number;
  readonly maxBytes: number;
  /** Longest back-off between retries, ms. */
  readonly retryMaxMs: number;
  readonly timeoutMs: number;
}

export type InfluxState = 'restoring' | 'ok' | 'degraded';

export interface InfluxStatus {
  readonly state: InfluxState;
  /** Restore finished (the service may report ready). */
  readonly restored: boolean;
  readonly queuedPoints: number;
  readonly queuedBytes: number;
  readonly written: number;
  readonly dropped: number;
  readonly rejected: number;
  readonly lastError?: string;
  readonly lastErrorAt?: string;
}

export interface RestoreResult {
  hosts: number;
  samples: number;
  sites: number;
  skipped: number;
  /** Whole restore, and of it the InfluxDB queries (the rest is parsing and applying). */
  ms: number;
  queryMs: number;
}

/** Estimated line-protocol size: measurement, tag, 3–5 float fields of up to ~20 characters, timestamp. */
const sampleBytes = (s: HostSample): number => 110 + s.hostId.length + (s.allocated ? 60 : 0);

/**
 * InfluxDB 1.x persistence behind the memory store. It is a TelemetryListener:
 * everything the store accepts is pushed onto a bounded write-behind queue
 * (no I/O, no waiting on the ingest path) and written in batches, one request
 * in flight, oldest first. When InfluxDB is unreachable the batch is retried
 * with exponential back-off (100 ms doubling up to `retryMaxMs`) while new
 * points queue; when the queue is full the oldest queued points are dropped
 * and counted (metric `wattplace_influx_points_dropped_total`, and a warning
 * log at most every 10 s). A batch InfluxDB refuses as malformed (HTTP 400)
 * is not retried: its points are counted as rejected and logged.
 *
 * On start, `restore()` reads the host inventory, each host's latest sample
 * and each site's latest carbon intensity back into the store, retrying until
 * InfluxDB answers; `status().restored` turns true when done.
 */
export class InfluxPersistence implements TelemetryListener {
  readonly target: InfluxTarget;
  readonly client: InfluxDB;
  private readonly writer: LineWriter;
  readonly queue: WriteQueue;
  private state: InfluxState = 'restoring';
  private restoredFlag = false;
  private writing = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private timerImmediate = false;
  private lastHostTime = -Infinity;
  private backoffMs = 0;
  private applying = false;
  private written = 0;
  private rejected = 0;
  private lastError?: string;
  private lastErrorAt?: number;
  private lastDropLog = 0;
  private droppedSinceLog = 0;
  private readonly droppedCounted = [0, 0, 0];
  private dbEnsured = false;
  private idle: (() => void)[] = [];
  private readonly metrics?: { written: Counter; dropped: Counter; rejected: Counter; errors: Counter };

  constructor(
    private readonly store: TelemetryStore,
    readonly config: InfluxStoreConfig,
    private readonly log: Logger,
    registry?: Registry,
    private readonly clock: () => number = Date.now,
  ) {
    this.target = parseInfluxUrl(config.url, 'influxUrl');
    this.client = influxClient(this.target, config.timeoutMs);
    this.writer = new LineWriter(this.target, config.timeoutMs);
    this.queue = new WriteQueue({ maxPoints: config.maxPoints, maxBytes: config.maxBytes });
    if (registry) {
      const self = this;
      this.metrics = {
        written: new Counter({ name: 'wattplace_influx_points_written_total', help: 'Points written to InfluxDB.', registers: [registry] }),
        dropped: new Counter({
          name: 'wattplace_influx_points_dropped_total',
          help: 'Points dropped because the InfluxDB outage buffer was full (oldest first), by measurement.',
          labelNames: ['measurement'] as const,
          registers: [registry],
        }),
        rejected: new Counter({ name: 'wattplace_influx_points_rejected_total', help: 'Points InfluxDB refused as malformed (HTTP 400); not retried.', registers: [registry] }),
        errors: new Counter({ name: 'wattplace_influx_write_errors_total', help: 'Failed InfluxDB write attempts (each is retried).', registers: [registry] }),
      };
      new Gauge({
        name: 'wattplace_influx_queue_points',
        help: 'Points waiting to be written to InfluxDB (queued and in flight).',
        registers: [registry],
        collect() {
          this.set(self.queue.points);
        },
      });
      new Gauge({
        name: 'wattplace_influx_queue_bytes',
        help: 'Estimated line-protocol bytes waiting to be written to InfluxDB.',
        registers: [registry],
        collect() {
          this.set(self.queue.bytes);
        },
      });
      new Gauge({
        name: 'wattplace_influx_up',
        help: '1 when the last InfluxDB request succeeded, 0 while degraded or restoring.',
        registers: [registry],
        collect() {
          this.set(self.state === 'ok' ? 1 : 0);
        },
      });
    }
  }

  // ------------------------------------------------------------ listener (hot path: no I/O)

  hostsRegistered(specs: readonly HostSpec[]): void {
    if (this.applying || this.closed) return;
    // Strictly increasing: a later registration never gets an earlier (or the same) timestamp,
    // so `last(spec)` on restore is the newest one even if the clock steps back.
    const t = (this.lastHostTime = Math.max(this.clock(), this.lastHostTime + 1));
    for (const spec of specs) {
      const json = JSON.stringify(spec);
      this.enqueue(Kind.Host, { spec, json, time: t }, 60 + spec.id.length + json.length);
    }
  }

  sampleAccepted(sample: HostSample): void {
    if (this.applying || this.closed) return;
    this.enqueue(Kind.Sample, sample, sampleBytes(sample));
  }

  carbonAccepted(c: SiteCarbon): void {
    if (this.applying || this.closed) return;
    this.enqueue(Kind.Carbon, c, 70 + c.site.length);
  }

  private enqueue(kind: Kind, v: Payload, bytes: number): void {
    const dropped = this.queue.push(kind, v, bytes);
    if (dropped > 0) this.noteDropped(dropped);
    if (this.writing || this.timer) {
      // A full batch waiting behind the flush timer: write now (once; not again per sample).
      if (!this.writing && !this.timerImmediate && this.state === 'ok' && this.queue.queued >= this.config.batchSize) this.schedule(0);
      return;
    }
    this.schedule(this.queue.queued >= this.config.batchSize ? 0 : this.config.flushMs);
  }

  private noteDropped(n: number): void {
    this.droppedSinceLog += n;
    if (this.metrics) {
      const d = this.queue.dropped;
      const names = [MEASUREMENT.samples, MEASUREMENT.hosts, MEASUREMENT.carbon];
      for (let k = 0; k < 3; k++) {
        if (d[k] > this.droppedCounted[k]) this.metrics.dropped.inc({ measurement: names[k] }, d[k] - this.droppedCounted[k]);
        this.droppedCounted[k] = d[k];
      }
    }
    const now = Date.now();
    if (now - this.lastDropLog >= 10_000) {
      this.log.warn(
        { dropped: this.droppedSinceLog, droppedTotal: this.queue.droppedTotal, maxPoints: this.config.maxPoints, maxBytes: this.config.maxBytes },
        'InfluxDB outage buffer full: dropped the oldest queued points',
      );
      this.lastDropLog = now;
      this.droppedSinceLog = 0;
    }
  }

  // ------------------------------------------------------------ write-behind loop

  private schedule(delayMs: number, then: () => Promise<void> = () => this.pump()): void {
    if (this.closed && delayMs > 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerImmediate = delayMs === 0;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerImmediate = false;
      void then();
    }, delayMs);
    this.timer.unref();
  }

  /**
   * One point in line protocol, precision ms:
   *   wattplace_samples,host=<id> cpu_util=<u>,mem_util=<m>,watts=<w>[,alloc_cpu_millis=<c>,alloc_mem_bytes=<b>] <ms>
   *   wattplace_hosts,host=<id> spec="<HostSpec JSON>" <ms>
   *   wattplace_carbon,site=<site> g_co2_per_kwh=<g> <ms>
   * Numbers are floats (no `i` suffix), so every field keeps one type.
   */
  private toLine(kind: Kind, v: Payload): string {
    if (kind === Kind.Sample) {
      const s = v as HostSample;
      const a = s.allocated ? `,alloc_cpu_millis=${s.allocated.cpuMillis},alloc_mem_bytes=${s.allocated.memBytes}` : '';
      return `${MEASUREMENT.samples},host=${tagValue(s.hostId)} cpu_util=${s.cpuUtil},mem_util=${s.memUtil},watts=${s.watts}${a} ${s.time}`;
    }
    if (kind === Kind.Host) {
      const h = v as { spec: HostSpec; json: string; time: number };
      return `${MEASUREMENT.hosts},host=${tagValue(h.spec.id)} spec=${stringField(h.json)} ${h.time}`;
    }
    const c = v as SiteCarbon;
    return `${MEASUREMENT.carbon},site=${tagValue(c.site)} g_co2_per_kwh=${c.gramsCo2PerKwh} ${c.time}`;
  }

  private fail(e: unknown, what: string): void {
    const msg = (e as Error).message ?? String(e);
    this.lastError = `${what}: ${msg}`;
    this.lastErrorAt = Date.now();
    if (this.state === 'ok') this.log.warn({ err: msg, queued: this.queue.points }, `InfluxDB unreachable (${what}); buffering, decisions continue from memory`);
    if (this.state !== 'restoring') this.state = 'degraded';
  }

  private nextBackoff(): number {
    this.backoffMs = this.backoffMs === 0 ? 100 : Math.min(this.backoffMs * 2, this.config.retryMaxMs);
    return this.backoffMs;
  }

  /**
   * Writes a batch, returning how many points were refused as too large; when InfluxDB answers 413 (body larger than its
   * max-body-size) the batch is written in halves, recursively. Lines never
   * contain a raw newline (tags are escaped, the spec JSON has none), so
   * splitting at newlines is safe; a retry after a partial success rewrites
   * points with the same series and time, which InfluxDB treats as one.
   */
  private async writeSplitting(body: string): Promise<number> {
    try {
      await this.writer.write(body);
      return 0;
    } catch (e) {
      if ((e as WriteFailure).status !== 413) throw e;
      const mid = body.indexOf('\n', body.length >> 1);
      const cut = mid >= 0 ? mid : body.lastIndexOf('\n');
      if (cut < 0) {
        // One point alone is too large: refused, not retried.
        this.log.error({ bytes: body.length, point: body.slice(0, 200) }, 'InfluxDB refused a point larger than its max-body-size');
        return 1;
      }
      return (await this.writeSplitting(body.slice(0, cut))) + (await this.writeSplitting(body.slice(cut + 1)));
    }
  }

  /** Writes batches until the queue is empty or a write fails. */
  private async pump(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.queue.points > 0) {
        let body = '';
        const n = this.queue.take(this.config.batchSize, (k, v) => {
          body += body.length ? `\n${this.toLine(k, v)}` : this.toLine(k, v);
        });
        let tooLarge = 0;
        try {
          tooLarge = await this.writeSplitting(body);
        } catch (e) {
          const status = (e as WriteFailure).status;
          const text = (e as WriteFailure).body ?? '';
          if (status === 404 && /database not found/i.test(text)) {
            // Created on start; dropped or wiped since (e.g. a fresh InfluxDB): create it again and retry.
            try {
              await ensureDatabase(this.client, this.target.database);
              this.log.warn({ database: this.target.database }, 'InfluxDB database was missing: created it again');
              continue;
            } catch (e2) {
              this.fail(e2, 'create database');
            }
          } else if (status === 400) {
            const m = /dropped=(\d+)/.exec(text);
            const refused = m ? Number(m[1]) : n;
            this.rejected += refused;
            this.written += n - refused;
            this.metrics?.rejected.inc(refused);
            this.metrics?.written.inc(n - refused);
            this.log.error({ err: text.slice(0, 500), points: n, refused }, 'InfluxDB refused points as malformed; they are not retried');
            this.queue.commit();
            continue;
          } else {
            this.metrics?.errors.inc();
            this.fail(e, 'write');
          }
          this.schedule(this.nextBackoff());
          return;
        }
        this.queue.commit();
        this.written += n - tooLarge;
        this.metrics?.written.inc(n - tooLarge);
        if (tooLarge > 0) {
          this.rejected += tooLarge;
          this.metrics?.rejected.inc(tooLarge);
        }
        this.backoffMs = 0;
        if (this.state === 'degraded') {
          this.log.info({ queued: this.queue.points, dropped: this.queue.droppedTotal }, 'InfluxDB reachable again; draining the buffer');
          this.state = 'ok';
        }
        // Let a partial batch fill up unless we are draining a backlog or closing.
        if (this.queue.queued < this.config.batchSize && !this.closed && n < this.config.batchSize) break;
      }
      if (this.queue.points > 0) this.schedule(this.config.flushMs);
      else if (this.state === 'degraded') this.schedule(this.nextBackoff(), () => this.probe()); // until it answers
    } finally {
      this.writing = false;
      if (this.queue.points === 0) for (const f of this.idle.splice(0)) f();
    }
  }

  /** While degraded with nothing to write: ping, so readiness recovers without traffic. */
  private async probe(): Promise<void> {
    if (this.queue.points > 0) return this.pump();
    try {
      await this.client.ping(this.config.timeoutMs).then((r) => {
        if (!r.some((h) => h.online)) throw new Error('ping: offline');
      });
      this.state = 'ok';
      this.backoffMs = 0;
      this.log.info('InfluxDB reachable again');
    } catch (e) {
      this.fail(e, 'ping');
      if (this.queue.points > 0) this.schedule(this.nextBackoff());
      else this.schedule(this.nextBackoff(), () => this.probe());
    }
  }

  // ------------------------------------------------------------ restore

  /**
   * Ensures the database, then restores inventory, latest samples and carbon
   * into the store. Retries (back-off) until InfluxDB answers or `close()`.
   */
  async restore(): Promise<RestoreResult> {
    for (;;) {
      if (this.closed) throw new Error('closed before the restore finished');
      try {
        const r = await this.restoreOnce();
        this.restoredFlag = true;
        if (this.state === 'restoring') this.state = 'ok';
        this.backoffMs = 0;
        this.log.info(r, 'restored telemetry from InfluxDB');
        return r;
      } catch (e) {
        const msg = (e as Error).message;
        this.lastError = `restore: ${msg}`;
        this.lastErrorAt = Date.now();
        const wait = this.nextBackoff();
        this.log.warn({ err: msg, retryInMs: wait }, 'cannot restore from InfluxDB yet; not ready');
        await new Promise((r) => setTimeout(r, wait).unref());
      }
    }
  }

  private async restoreOnce(): Promise<RestoreResult> {
    const t0 = performance.now();
    if (!this.dbEnsured) {
      const created = await ensureDatabase(this.client, this.target.database);
      if (created) this.log.info({ database: this.target.database }, 'created InfluxDB database');
      this.dbEnsured = true;
    }
    // Four queries in parallel (InfluxDB runs the statements of one request one after another).
    const q = (text: string) => this.client.query(text, { precision: 'ms' }) as unknown as Promise<Record<string, unknown>[]>;
    const [hosts, latest, alloc, carbon] = await Promise.all([
      q(`SELECT last("spec") AS "spec" FROM ${ident(MEASUREMENT.hosts)} GROUP BY "host"`),
      q(`SELECT * FROM ${ident(MEASUREMENT.samples)} GROUP BY "host" ORDER BY time DESC LIMIT 1`),
      q(`SELECT last("alloc_cpu_millis") AS "cpu", "alloc_mem_bytes" AS "mem" FROM ${ident(MEASUREMENT.samples)} GROUP BY "host"`),
      q(`SELECT last("g_co2_per_kwh") AS "g" FROM ${ident(MEASUREMENT.carbon)} GROUP BY "site"`),
    ]);
    const res: RestoreResult = { hosts: 0, samples: 0, sites: 0, skipped: 0, ms: 0, queryMs: Math.round(performance.now() - t0) };
    const specs: HostSpec[] = [];
    for (const row of hosts) {
      const id = String(row.host);
      if (this.store.hostIndex(id) >= 0) continue; // registered live while we were reading: that one is newer
      try {
        const spec = JSON.parse(String(row.spec)) as HostSpec;
        if (spec.id !== id) throw new Error(`id ${JSON.stringify(spec.id)} does not match the tag`);
        createPowerModel(spec.power, `hosts[${JSON.stringify(id)}].power`);
        specs.push(spec);
      } catch (e) {
        res.skipped++;
        this.log.error({ host: id, err: (e as Error).message }, 'stored host inventory is unreadable; skipped');
      }
    }
    const allocBy = new Map<string, { cpu: number; mem: number }>();
    for (const row of alloc) {
      if (typeof row.cpu === 'number' && typeof row.mem === 'number') allocBy.set(String(row.host), { cpu: row.cpu, mem: row.mem });
    }
    this.applying = true;
    try {
      if (specs.length) res.hosts = this.store.registerHosts(specs).registered;
      for (const row of latest) {
        const id = String(row.host);
        const a = allocBy.get(id);
        const sample: HostSample = {
          hostId: id,
          time: epochMs(timeMs(row.time)),
          watts: watts(Number(row.watts)),
          cpuUtil: Number(row.cpu_util),
          memUtil: Number(row.mem_util),
          allocated: a ? { cpuMillis: cpuMillis(Math.round(a.cpu)), memBytes: memBytes(Math.round(a.mem)) } : undefined,
        };
        // Infinity as "now": a stored sample is never "in the future"; one older than a live sample is refused (out of order).
        if (this.store.reportOne(sample, Infinity) === null) res.samples++;
      }
      const sites: SiteCarbon[] = carbon.map((row) => ({ site: String(row.site), time: epochMs(timeMs(row.time)), gramsCo2PerKwh: gramsPerKwh(Number(row.g)) }));
      if (sites.length) res.sites = this.store.report([], sites, Infinity).sitesAccepted;
    } finally {
      this.applying = false;
    }
    res.ms = Math.round(performance.now() - t0);
    return res;
  }

  /**
   * Reads the most recent `limit` (cpu_util, watts) pairs of each given host
   * (newest first), e.g. to seed learned power models. Chunks of 100 hosts per query.
   */
  async history(hostIds: readonly string[], limit: number, onHost: (hostId: string, util: Float64Array, watts: Float64Array, timesMs: Float64Array) => void): Promise<number> {
    let total = 0;
    for (let i = 0; i < hostIds.length; i += 100) {
      const chunk = hostIds.slice(i, i + 100);
      const where = chunk.map((id) => `"host" = ${literal(id)}`).join(' OR ');
      const rows = (await this.client.query(
        `SELECT "cpu_util", "watts" FROM ${ident(MEASUREMENT.samples)} WHERE ${where} GROUP BY "host" ORDER BY time DESC LIMIT ${Math.max(1, Math.floor(limit))}`,
        { precision: 'ms' },
      )) as unknown as Record<string, unknown>[];
      const by = new Map<string, { u: number[]; w: number[]; t: number[] }>();
      for (const r of rows) {
        const id = String(r.host);
        let e = by.get(id);
        if (!e) by.set(id, (e = { u: [], w: [], t: [] }));
        e.u.push(Number(r.cpu_util));
        e.w.push(Number(r.watts));
        e.t.push(timeMs(r.time));
      }
      for (const [id, e] of by) {
        onHost(id, Float64Array.from(e.u), Float64Array.from(e.w), Float64Array.from(e.t));
        total += e.u.length;
      }
    }
    return total;
  }

  // ------------------------------------------------------------ status and shutdown

  status(): InfluxStatus {
    return {
      state: this.state,
      restored: this.restoredFlag,
      queuedPoints: this.queue.points,
      queuedBytes: this.queue.bytes,
      written: this.written,
      dropped: this.queue.droppedTotal,
      rejected: this.rejected,
      lastError: this.lastError,
      lastErrorAt: this.lastErrorAt ? new Date(this.lastErrorAt).toISOString() : undefined,
    };
  }

  /** Resolves when everything queued so far is written (or `timeoutMs` passed: false). */
  async flush(timeoutMs = 30_000): Promise<boolean> {
    if (this.queue.points === 0 && !this.writing) return true;
    if (!this.writing && this.state !== 'degraded') this.schedule(0);
    return new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      t.unref();
      this.idle.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  /** Stops queueing; tries to drain what is queued within `graceMs`. */
  async close(graceMs: number): Promise<InfluxStatus> {
    const ok = graceMs > 0 ? await this.flush(graceMs) : this.queue.points === 0;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.writer.close();
    const s = this.status();
    if (!ok) this.log.error({ unwritten: s.queuedPoints }, 'stopping with points not yet written to InfluxDB');
    return s;
  }
}

function timeMs(t: unknown): number {
  if (t instanceof Date) return t.getTime();
  return Number(t);
}
