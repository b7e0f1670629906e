import type { Logger } from 'pino';
import { epochMs, watts as asWatts, type HostSample } from '../../domain';
import type { Wattplace } from '../../decision';
import type { PowerModel } from '../../power';
import type { Metrics } from '../metrics';
import { readExposition, type Component, type PowerSeries } from './readings';

export interface KeplerTarget {
  readonly url: string;
  /** The wattplace host for this exporter; absent = from the series' node_name / instance label. */
  readonly host?: string;
}

export interface KeplerOptions {
  readonly targets: readonly KeplerTarget[];
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

/** What one scrape of one target produced. */
export interface ScrapeResult {
  readonly url: string;
  readonly samples: HostSample[];
  /** Nodes without a sample this round, and why (first scrape of a counter, missing series, …). */
  readonly skipped: { node: string; reason: string }[];
  /** Samples the store refused (e.g. unknown host), with the reason. */
  readonly rejected: { hostId: string; field: string; reason: string }[];
  /** Fetch or parse failure; nothing was reported. */
  readonly error?: string;
}

/**
 * Parses "node-a=http://10.0.0.5:28282/metrics, http://kepler-b:28282/metrics"
 * into targets. A URL must be http(s); the optional "node=" names the host.
 */
export function parseKeplerTargets(spec: string): KeplerTarget[] {
  const out: KeplerTarget[] = [];
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([^=\s]+)=(https?:\/\/.+)$/.exec(part);
    const url = m ? m[2] : part;
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new Error(`keplerUrls: ${JSON.stringify(part)} is not a URL`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`keplerUrls: ${JSON.stringify(part)} must be http or https`);
    out.push(m ? { url, host: m[1] } : { url });
  }
  return out;
}

interface Prev {
  value: number;
  tMs: number;
}

/**
 * Scrapes Kepler exporters on an interval and feeds host samples into the
 * telemetry store (Wattplace.report), as the gRPC Report call does.
 *
 * Watts: a watts gauge is used as is; a joules counter becomes
 *   W = (E_now − E_prev) / (t_now − t_prev)
 * between consecutive scrapes, and after a counter reset (E_now < E_prev, the
 * exporter restarted) W = E_now / (t_now − t_prev), as Prometheus' rate() does.
 * A node's power is its platform series when present, else package + dram,
 * summed over sockets and modes; a node is skipped for the round when one of
 * its series has no rate yet (first sight) — it is never reported with a part
 * missing. Series that disappear are forgotten; when they return they start
 * over.
 *
 * CPU utilization: kepler_node_cpu_usage_ratio when exported; otherwise it is
 * inferred from the host's own power model, u = P⁻¹(W) (an estimate, best with
 * platform power). Memory utilization is not exported by Kepler: the host's last
 * reported value is carried forward (0 when none).
 */
export class KeplerCollector {
  private readonly prev = new Map<string, Prev>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private stopped = false;

  constructor(
    private readonly core: Wattplace,
    readonly opts: KeplerOptions,
    private readonly log?: Logger,
    private readonly metrics?: Metrics,
  ) {}

  start(): void {
    if (this.timer || this.opts.targets.length === 0) return;
    this.stopped = false;
    this.timer = setInterval(() => void this.scrapeAll(), this.opts.intervalMs);
    this.timer.unref();
    void this.scrapeAll();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One round over every target (skipped while the previous round is still running). */
  async scrapeAll(): Promise<ScrapeResult[]> {
    if (this.running) return [];
    this.running = true;
    try {
      const out: ScrapeResult[] = [];
      for (const t of this.opts.targets) {
        if (this.stopped) break;
        out.push(await this.scrape(t));
      }
      return out;
    } finally {
      this.running = false;
    }
  }

  async scrape(target: KeplerTarget): Promise<ScrapeResult> {
    let text: string;
    try {
      const res = await fetch(target.url, {
        headers: { accept: 'text/plain;version=0.0.4;q=1, */*;q=0.1' },
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      text = await res.text();
    } catch (e) {
      return this.failed(target, `scrape failed: ${(e as Error).message}`);
    }
    return this.ingest(target, text, this.core.clock());
  }

  /** Turns one exposition text, read at `nowMs`, into samples and reports them. */
  ingest(target: KeplerTarget, text: string, nowMs: number): ScrapeResult {
    let readings;
    try {
      readings = readExposition(text, new URL(target.url).hostname, target.host);
    } catch (e) {
      return this.failed(target, `not Prometheus text format: ${(e as Error).message}`);
    }
    const byNode = new Map<string, PowerSeries[]>();
    for (const s of readings.series) {
      let l = byNode.get(s.node);
      if (!l) byNode.set(s.node, (l = []));
      l.push(s);
    }
    for (const n of readings.usage.keys()) if (!byNode.has(n)) byNode.set(n, []);
    const urlPrefix = `${target.url}\u0001`;
    const seen = new Set<string>();
    const samples: HostSample[] = [];
    const skipped: ScrapeResult['skipped'] = [];
    for (const [node, list] of byNode) {
      // Rates for every counter, whether or not it ends up used, so none loses its history.
      const power: Record<Component, { w: number; n: number; missing: number }> = {
        platform: { w: 0, n: 0, missing: 0 },
        package: { w: 0, n: 0, missing: 0 },
        dram: { w: 0, n: 0, missing: 0 },
      };
      const gauges = new Set<Component>();
      for (const s of list) if (s.kind === 'watts') gauges.add(s.component);
      for (const s of list) {
        const c = power[s.component];
        if (s.kind === 'watts') {
          c.w += s.value;
          c.n++;
          continue;
        }
        const key = urlPrefix + s.key;
        seen.add(key);
        const t = s.timestampMs ?? nowMs;
        const p = this.prev.get(key);
        this.prev.set(key, { value: s.value, tMs: t });
        if (gauges.has(s.component)) continue; // the gauge of this zone is used
        if (!p || t <= p.tMs) {
          c.missing++;
          continue;
        }
        const joules = s.value >= p.value ? s.value - p.value : s.value; // counter reset: counted from 0
        c.w += joules / ((t - p.tMs) / 1000);
        c.n++;
      }
      let w: number;
      let problem: string | undefined;
      if (power.platform.n + power.platform.missing > 0) {
        w = power.platform.w;
        if (power.platform.missing) problem = 'platform energy counter seen for the first time: no rate yet';
      } else if (power.package.n + power.package.missing > 0) {
        w = power.package.w + power.dram.w;
        if (power.package.missing || power.dram.missing) problem = 'energy counter seen for the first time: no rate yet';
      } else {
        problem = 'no node power series (kepler_node_cpu_watts / kepler_node_cpu_joules_total zone package or psys, or kepler_node_{package,dram,platform}_joules_total)';
        w = NaN;
      }
      if (problem) {
        skipped.push({ node, reason: problem });
        continue;
      }
      const h = this.core.store.hostIndex(node);
      const snap = this.core.collector.current();
      let cpu = readings.usage.get(node);
      if (cpu === undefined) {
        const model = h >= 0 && h < snap.size ? snap.models[h] : undefined;
        if (!model) {
          // Unknown host: report anyway so the store names the problem.
          cpu = 0;
        } else cpu = utilFromPower(model, w);
      }
      const mem = h >= 0 && h < snap.size && snap.memUtil[h] === snap.memUtil[h] ? snap.memUtil[h] : 0;
      samples.push({ hostId: node, time: epochMs(nowMs), watts: asWatts(w), cpuUtil: clamp01(cpu), memUtil: clamp01(mem) });
    }
    // Forget counters of this target that were not in this scrape: a returning series starts over.
    for (const k of this.prev.keys()) if (k.startsWith(urlPrefix) && !seen.has(k)) this.prev.delete(k);

    const rejected: ScrapeResult['rejected'] = [];
    if (samples.length > 0) {
      const r = this.core.report(samples);
      this.metrics?.samplesIngested.inc({ rpc: 'kepler' }, r.accepted);
      for (const e of r.errors) {
        const field = e.field.replace(/^samples\[\d+\]\./, '');
        rejected.push({ hostId: e.hostId, field, reason: e.reason });
        this.metrics?.samplesRejected.inc({ rpc: 'kepler', field });
      }
    }
    if (rejected.length || skipped.length) this.log?.debug({ url: target.url, rejected, skipped }, 'kepler scrape: some nodes not reported');
    return { url: target.url, samples, skipped, rejected };
  }

  private failed(target: KeplerTarget, error: string): ScrapeResult {
    this.log?.warn({ url: target.url, error }, 'kepler scrape failed');
    this.metrics?.samplesRejected.inc({ rpc: 'kepler', field: 'scrape' });
    return { url: target.url, samples: [], skipped: [], rejected: [], error };
  }
}

const clamp01 = (v: number): number => (v > 1 ? 1 : v > 0 ? v : 0);

/** u in [0, 1] with P(u) = w, by bisection (P is non-decreasing in u); 0 / 1 outside P's range. */
export function utilFromPower(model: PowerModel, w: number): number {
  if (w <= model.watts(0)) return 0;
  if (w >= model.watts(1)) return 1;
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 40; i++) {
    const mid = (lo + hi) / 2;
    if (model.watts(mid) < w) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}
