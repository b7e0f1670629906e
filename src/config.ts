import * as fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/**
 * Service configuration. Precedence: defaults < config file (YAML or JSON,
 * `--config FILE`) < environment (WATTPLACE_<UPPER_SNAKE_KEY>, e.g.
 * WATTPLACE_STALE_AFTER_MS) < command-line flags. Invalid values stop start-up
 * with a message naming the key.
 */
export const ConfigSchema = z
  .object({
    grpc: z.string().regex(/^.+:\d{1,5}$/, 'host:port, e.g. 127.0.0.1:50051').default('127.0.0.1:50051'),
    http: z.string().regex(/^.+:\d{1,5}$/, 'host:port, e.g. 127.0.0.1:8080').default('127.0.0.1:8080'),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    cpuCeiling: z.number().gt(0).lte(1).default(0.8),
    cpuAllocationRatio: z.number().gt(0).lte(1000).default(1),
    memAllocationRatio: z.number().gt(0).lte(1000).default(1),
    staleAfterMs: z.number().int().positive().default(60_000),
    carbonWeighting: z.boolean().default(false),
    defaultCarbonIntensity: z.number().nonnegative().default(400),
    alternatives: z.number().int().min(0).max(100).default(3),
    maxCandidates: z.number().int().positive().default(20_000),
    reservationTtlMs: z.number().int().positive().default(120_000),
    snapshotRefreshMs: z.number().int().min(0).default(50),
    maxClockSkewMs: z.number().int().min(0).default(5_000),
    maxBatch: z.number().int().positive().default(50_000),
    maxMessageBytes: z.number().int().positive().default(16 * 1024 * 1024),
    shutdownGraceMs: z.number().int().min(0).default(10_000),
    // HTTP request bounds (src/api/http.ts, README "Limits").
    httpHeadersTimeoutMs: z.number().int().min(100).default(5_000).describe('HTTP: a request\'s headers must arrive within this, ms (else 408)'),
    httpBodyTimeoutMs: z.number().int().min(100).default(10_000).describe('HTTP: a request\'s body must arrive within this after its headers, ms (else 408)'),
    httpMaxBufferedBytes: z.number().int().positive().default(64 * 1024 * 1024).describe('HTTP: most request-body bytes held across all requests at once (else 413 with Retry-After)'),
    httpMaxJsonDepth: z.number().int().min(8).max(10_000).default(100).describe('HTTP: deepest JSON nesting of a request body (else 400)'),
    // Persistence and telemetry history (src/telemetry/influx, docs in README "InfluxDB").
    store: z.enum(['memory', 'influx']).default('memory').describe('telemetry store: memory (default) or influx (InfluxDB 1.x persistence)'),
    influxUrl: z.string().url().optional().describe('InfluxDB 1.x URL with the database as path, e.g. http://127.0.0.1:8086/wattplace (created if missing)'),
    influxBatchSize: z.number().int().min(1).max(100_000).default(5_000).describe('most points per InfluxDB write'),
    influxFlushMs: z.number().int().min(1).default(200).describe('write-behind flush interval, ms'),
    influxBufferMaxPoints: z.number().int().positive().default(2_000_000).describe('outage buffer bound: points; the oldest are dropped (and counted) beyond it'),
    influxBufferMaxBytes: z.number().int().positive().default(256 * 1024 * 1024).describe('outage buffer bound: line-protocol bytes'),
    influxRetryMaxMs: z.number().int().positive().default(5_000).describe('longest back-off between write retries while InfluxDB is down, ms'),
    influxTimeoutMs: z.number().int().positive().default(10_000).describe('InfluxDB request timeout, ms'),
    telegraf: z
      .preprocess((v) => (typeof v === 'string' ? JSON.parse(v) : v), z.record(z.string(), z.unknown()))
      .optional()
      .describe('Telegraf reader mapping (JSON/YAML object; see src/telemetry/influx/telegraf.ts)'),
    learnedModels: z.enum(['off', 'report', 'use']).default('use').describe('learned power models: off, report (fit and expose only) or use (replace the declared model once good enough)'),
    learnedForm: z.enum(['table', 'exponential']).default('table').describe('learned model form: 11-point monotone table or k0 + k1·e^(k2·u)'),
    learnedWindow: z.number().int().min(16).max(65_536).default(512).describe('per-host (util, watts) ring buffer length for fitting'),
    learnedMinSamples: z.number().int().min(8).default(200).describe('fewest inlier samples before a learned model may be used'),
    learnedMinR2: z.number().min(0).max(1).default(0.9).describe('least R² before a learned model may be used'),
    learnedMaxRmse: z.number().gt(0).default(0.05).describe('largest RMSE, as a fraction of the fitted P(1), before a learned model may be used'),
    learnedMinUtilSpan: z.number().min(0).max(1).default(0.5).describe('least spread of observed CPU utilization (5th to 95th percentile)'),
    learnedRefitMs: z.number().int().min(0).default(60_000).describe('how often learned models are refitted, ms (0 = only on request)'),
    // Security (src/api/auth.ts). Secrets are read from these files, never from flags or env values.
    tlsCert: z.string().min(1).optional().describe('gRPC server certificate chain, PEM file'),
    tlsKey: z.string().min(1).optional().describe('gRPC server private key, PEM file'),
    tlsClientCa: z.string().min(1).optional().describe('CA bundle (PEM file) that client certificates must chain to: mutual TLS'),
    authTokenFile: z.string().min(1).optional().describe('file holding the bearer token required on gRPC and HTTP (except /healthz, /readyz)'),
    httpTlsCert: z.string().min(1).optional().describe('HTTP server certificate chain, PEM file (HTTP is plain without it)'),
    httpTlsKey: z.string().min(1).optional().describe('HTTP server private key, PEM file'),
    insecure: z.boolean().default(false).describe('allow binding non-loopback addresses without TLS and authentication'),
    // Kubernetes scheduler extender (src/api/k8s) and Kepler telemetry (src/api/kepler).
    k8sExtender: z.boolean().default(true).describe('serve the kube-scheduler extender at POST /k8s/filter and /k8s/prioritize'),
    k8sOptOutKey: z.string().default('wattplace.scs.community/opt-out').describe('pod label or annotation key; value "true" opts the pod out'),
    k8sDefaultPowerModel: z
      .union([z.string(), z.record(z.string(), z.unknown())])
      .optional()
      .describe('power model for nodes sent in full and not registered: catalog name or JSON, e.g. {"linear":{"idleWatts":90,"maxWatts":250}}'),
    k8sScoreMapping: z.enum(['linear', 'absolute']).default('linear').describe('marginal watts to 0–10: linear (best 10, worst 0) or absolute (k8sWattsPerPoint)'),
    k8sWattsPerPoint: z.number().gt(0).default(10).describe('absolute score mapping: one point per this many watts above the best node'),
    k8sAllowStale: z.boolean().default(false).describe('let nodes with stale telemetry pass the extender filter'),
    keplerUrls: z.string().default('').describe('Kepler exporter metrics URLs, comma-separated; "node=URL" names the host (empty = off)'),
    keplerIntervalMs: z.number().int().min(1000).default(15_000).describe('Kepler scrape interval'),
    keplerTimeoutMs: z.number().int().positive().default(5_000).describe('Kepler scrape timeout'),
    overloadTarget: z
      .number()
      .gt(0)
      .lt(0.5)
      .default(0.005)
      .describe('share of active host time with demand above capacity that POST /v1/rebalance may spend (0.005 = 0.5 %); sets its margins each call'),
    // The applier (src/applier, README "Closing the loop"): a section of the config file, validated
    // by src/applier/config.ts; only its mode has a flag (--applier-mode) and an env variable.
    applier: z.preprocess((v) => (v === null ? {} : v), z.record(z.string(), z.unknown())).default({}).describe('applier section (config file): mode, hosts, nova, power, etcd, …'),
    consolidationMigrationWatts: z.number().nonnegative().default(2).describe('watts each migration of a consolidation plan must save (priced into the plan: a host is freed only when it saves more than its migrations cost)'),
  })
  .strict();

export type ServiceConfig = z.infer<typeof ConfigSchema>;

export class ConfigError extends Error {}

/** Keys set from env and flags; `applier` is a section of the file (its mode: APPLIER_MODE_ENV, --applier-mode). */
const keys = (Object.keys(ConfigSchema.shape) as (keyof ServiceConfig)[]).filter((k) => k !== 'applier');
export const APPLIER_MODE_ENV = 'WATTPLACE_APPLIER_MODE';
export const envName = (k: string): string => `WATTPLACE_${k.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
export const flagName = (k: string): string => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Strings (env, flags) to the type the schema wants for `key`. */
function coerce(key: keyof ServiceConfig, v: string): unknown {
  const def = ConfigSchema.shape[key];
  const inner = (def as unknown as { def: { innerType?: unknown } }).def.innerType ?? def;
  if (inner instanceof z.ZodNumber) return v.trim() === '' ? NaN : Number(v);
  if (inner instanceof z.ZodBoolean) {
    if (/^(1|true|yes|on)$/i.test(v)) return true;
    if (/^(0|false|no|off)$/i.test(v)) return false;
    return v;
  }
  return v;
}

export function loadConfig(opts: { file?: string; env?: NodeJS.ProcessEnv; flags?: Partial<Record<string, string | boolean | number>> }): ServiceConfig {
  let raw: Record<string, unknown> = {};
  if (opts.file) {
    let text: string;
    try {
      text = fs.readFileSync(opts.file, 'utf8');
    } catch (e) {
      throw new ConfigError(`config file ${opts.file}: ${(e as Error).message}`);
    }
    try {
      const parsed = parseYaml(text) as unknown;
      if (parsed !== null && parsed !== undefined && (typeof parsed !== 'object' || Array.isArray(parsed))) throw new Error('must be a mapping of keys to values');
      raw = (parsed ?? {}) as Record<string, unknown>;
    } catch (e) {
      throw new ConfigError(`config file ${opts.file}: ${(e as Error).message}`);
    }
  }
  const env = opts.env ?? {};
  for (const k of keys) {
    const v = env[envName(k)];
    if (v !== undefined) raw[k] = coerce(k, v);
  }
  for (const k of keys) {
    const v = opts.flags?.[k];
    if (v !== undefined) raw[k] = typeof v === 'string' ? coerce(k, v) : v;
  }
  const mode = opts.flags?.applierMode ?? env[APPLIER_MODE_ENV];
  if (mode !== undefined) {
    const a = raw.applier;
    if (a !== undefined && (a === null || typeof a !== 'object' || Array.isArray(a))) throw new ConfigError('invalid configuration: applier: must be a mapping of keys to values');
    raw.applier = { ...((a as Record<string, unknown> | undefined) ?? {}), mode };
  }
  const r = ConfigSchema.safeParse(raw);
  if (!r.success) {
    const msgs = r.error.issues.map((i) => {
      const key = i.path.join('.') || (i.code === 'unrecognized_keys' ? (i as { keys?: string[] }).keys?.join(', ') : '') || '(config)';
      return `${key}: ${i.message}`;
    });
    throw new ConfigError(`invalid configuration: ${msgs.join('; ')}`);
  }
  return r.data;
}

/** Splits "host:port" (IPv6 in brackets allowed). */
export function splitHostPort(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  const host = addr.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(addr.slice(i + 1)) };
}
