import * as grpc from '@grpc/grpc-js';
import pino, { type Logger } from 'pino';
import { Wattplace, type CoreConfig } from './decision';
import { buildGrpcServer, type ExtraPlacementHandlers } from './api/grpc';
import { HttpApi } from './api/http';
import { Metrics } from './api/metrics';
import { SolverMetrics } from './decision/batch-metrics';
import { batchHandlers } from './api/batch';
import { rebalancePlugin } from './api/rebalance';
import { k8sPlugin } from './api/k8s';
import { keplerFromConfig } from './api/kepler';
import { LOG_REDACT, loadSecurity } from './api/auth';
import { splitHostPort, type ServiceConfig } from './config';
import { InfluxAttachment } from './telemetry/influx';
import { createApplier, type Applier } from './applier';
import type { ComputeCloud } from './applier/ports';

export interface RunningServer {
  readonly core: Wattplace;
  readonly metrics: Metrics;
  readonly http: HttpApi;
  readonly grpcServer: grpc.Server;
  /** Bound addresses (ports resolved when 0 was asked for). */
  readonly grpcAddress: string;
  readonly httpAddress: string;
  /** InfluxDB persistence / Telegraf reader, when configured (`store: influx`, `telegraf`). */
  readonly influx?: InfluxAttachment;
  /** The applier, unless `applier.mode` is off. */
  readonly applier: Applier | null;
  /** Stops accepting, finishes in-flight calls (up to the grace period), closes. */
  stop(): Promise<void>;
}

export interface ServerOptions {
  readonly log?: Logger;
  readonly clock?: () => number;
  readonly extra?: ExtraPlacementHandlers;
  /** Lets modules add HTTP routes and gRPC handlers before the ports open. */
  readonly plugins?: ((s: { core: Wattplace; http: HttpApi; metrics: Metrics; log: Logger }) => void)[];
  /** Wraps the applier's Nova client (tests count its calls through it). */
  readonly applierCloud?: (c: ComputeCloud) => ComputeCloud;
}

export function coreConfig(c: ServiceConfig): CoreConfig {
  return {
    cpuCeiling: c.cpuCeiling,
    cpuAllocationRatio: c.cpuAllocationRatio,
    memAllocationRatio: c.memAllocationRatio,
    staleAfterMs: c.staleAfterMs,
    carbonWeighting: c.carbonWeighting,
    defaultCarbonIntensity: c.defaultCarbonIntensity,
    alternatives: c.alternatives,
    maxCandidates: c.maxCandidates,
    reservationTtlMs: c.reservationTtlMs,
    snapshotRefreshMs: c.snapshotRefreshMs,
    maxClockSkewMs: c.maxClockSkewMs,
    maxBatch: c.maxBatch,
    learned: {
      mode: c.learnedModels,
      form: c.learnedForm,
      window: c.learnedWindow,
      minSamples: c.learnedMinSamples,
      minR2: c.learnedMinR2,
      maxRmse: c.learnedMaxRmse,
      minUtilSpan: c.learnedMinUtilSpan,
      refitMs: c.learnedRefitMs,
    },
  };
}

/** Starts the service: gRPC and HTTP ports, in-memory telemetry (persisted to InfluxDB with `store: influx`). */
export async function startServer(cfg: ServiceConfig, opts: ServerOptions = {}): Promise<RunningServer> {
  const log = opts.log ?? pino({ level: cfg.logLevel, redact: LOG_REDACT });
  const security = loadSecurity(cfg, log); // reads cert/key/token files; enforces the loopback rule
  const core = new Wattplace(coreConfig(cfg), opts.clock);
  const metrics = new Metrics(core);
  security.attachMetrics(metrics.registry);
  const httpApi = new HttpApi(
    {
      maxBodyBytes: cfg.maxMessageBytes,
      headersTimeoutMs: cfg.httpHeadersTimeoutMs,
      bodyTimeoutMs: cfg.httpBodyTimeoutMs,
      maxBufferedBytes: cfg.httpMaxBufferedBytes,
      maxJsonDepth: cfg.httpMaxJsonDepth,
      tls: security.httpTls,
    },
    metrics,
    log,
  );
  if (security.httpGuard) httpApi.setGuard(security.httpGuard);
  const influx =
    cfg.store === 'influx' || cfg.telegraf
      ? new InfluxAttachment(cfg, { store: core.store, refresh: () => core.collector.refresh(), report: (s) => core.report(s), history: core.learned.enabled ? core.learned : undefined, log, registry: metrics.registry, clock: core.clock })
      : undefined;
  let ready = false;
  httpApi.route('GET', '/healthz', () => ({ status: 200, body: { status: 'ok' } }), { open: true });
  // With InfluxDB: 503 "restoring" until restored, 200 "degraded" during an outage (see src/telemetry/influx/attach.ts).
  httpApi.route('GET', '/readyz', () => (ready ? (influx?.readiness() ?? { status: 200, body: { status: 'ready' } }) : { status: 503, body: { status: 'starting' } }), { open: true });
  httpApi.route('GET', '/metrics', async () => ({
    status: 200,
    body: null,
    text: await metrics.text(),
    contentType: metrics.registry.contentType,
  }));
  // the applier (off by default): GET /v1/applier answers in every mode
  const applierLog = log.child({ component: 'applier' });
  const applier = createApplier(cfg.applier, { core, registry: metrics.registry, log: (event, fields) => applierLog.info(fields, event), cloud: opts.applierCloud });
  httpApi.route('GET', '/v1/applier', () => ({ status: 200, body: applier ? applier.status() : { mode: 'off' } }));
  const deps = { core, metrics, log };
  for (const p of [k8sPlugin(cfg), rebalancePlugin(cfg.overloadTarget), ...(opts.plugins ?? [])]) p({ core, http: httpApi, metrics, log });
  const kepler = keplerFromConfig(cfg, { core, log, metrics });
  // PlaceBatch and PlanConsolidation (src/decision/batch*.ts), on by default; opts.extra overrides
  const solverMetrics = new SolverMetrics(metrics.registry);
  const { server, health } = buildGrpcServer(deps, { maxMessageBytes: cfg.maxMessageBytes, extra: { ...batchHandlers({ core, migrationWatts: cfg.consolidationMigrationWatts, observer: (rpc) => solverMetrics.observer(rpc) }), ...opts.extra }, interceptors: security.grpcInterceptors });

  const g = splitHostPort(cfg.grpc);
  const grpcPort = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${g.host.includes(':') ? `[${g.host}]` : g.host}:${g.port}`, security.grpcCredentials, (err, port) =>
      err ? reject(new Error(`cannot bind gRPC to ${cfg.grpc}: ${err.message}`)) : resolve(port),
    ),
  );
  const h = splitHostPort(cfg.http);
  let httpPort: number;
  try {
    httpPort = await httpApi.listen(h.host, h.port);
  } catch (e) {
    server.forceShutdown();
    throw new Error(`cannot bind HTTP to ${cfg.http}: ${(e as Error).message}`);
  }
  ready = true;
  kepler?.start();
  applier?.start().catch((e) => log.error({ err: (e as Error).message }, 'applier did not start'));
  influx?.start().catch((e) => log.warn({ err: (e as Error).message }, 'InfluxDB restore abandoned'));
  const fmt = (host: string, port: number) => `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const grpcAddress = fmt(g.host, grpcPort);
  const httpAddress = fmt(h.host, httpPort);
  log.info({ grpc: grpcAddress, http: httpAddress, security: security.summary }, 'wattplace serving');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      ready = false;
      health.setStatus('', 'NOT_SERVING');
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, cfg.shutdownGraceMs);
        t.unref();
        server.tryShutdown(() => {
          clearTimeout(t);
          resolve();
        });
      });
      kepler?.stop();
      await applier?.stop();
      await httpApi.close();
      await influx?.close(cfg.shutdownGraceMs);
      core.close();
      log.info('wattplace stopped');
    })());
  return { core, metrics, http: httpApi, grpcServer: server, grpcAddress, httpAddress, influx, applier, stop };
}
