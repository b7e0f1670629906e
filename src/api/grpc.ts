import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from 'pino';
import type { Wattplace } from '../decision';
import { ValidationError, echo } from '../domain';
import * as pb from '../gen/wattplace/v1/wattplace';
import {
  candidatesFromPb,
  carbonFromPb,
  hostFromPb,
  sampleFromPb,
  workloadFromPb,
} from './convert';
import { classify, UnimplementedError } from './errors';
import { BadRequest, withStrictRequests } from './grpc-decode';
import { placementServiceWire } from './wire';
import { getPowerModel } from './learned';
import type { Metrics } from './metrics';

/** Where the .proto files live, for server reflection (same relative path from src/ and dist/; two more levels from dist/bench/src/). */
export const PROTO_DIR = [path.resolve(__dirname, '../../proto'), path.resolve(__dirname, '../../../../proto')].find((d) => fs.existsSync(d)) ?? path.resolve(__dirname, '../../proto');

/** Most per-sample errors one Report / StreamReport answer lists (counts stay exact). */
export const MAX_LISTED_ERRORS = 1000;

export interface GrpcDeps {
  readonly core: Wattplace;
  readonly metrics: Metrics;
  readonly log: Logger;
}

/** Optional handlers a later module (batch optimizer) plugs into PlacementService. */
export interface ExtraPlacementHandlers {
  placeBatch?: (req: pb.PlaceBatchRequest) => Promise<pb.PlaceBatchResponse> | pb.PlaceBatchResponse;
  planConsolidation?: (req: pb.PlanConsolidationRequest) => Promise<pb.PlanConsolidationResponse> | pb.PlanConsolidationResponse;
}

type Handler<Req, Res> = (req: Req, call: grpc.ServerUnaryCall<Req, Res>) => Res | Promise<Res>;

/** Wraps a handler: latency and outcome metrics, and errors mapped to status codes naming the field. */
export function unary<Req, Res>(rpc: string, deps: GrpcDeps, fn: Handler<Req, Res>): grpc.handleUnaryCall<Req, Res> {
  const { metrics, log } = deps;
  // Labelled children resolved once: a label lookup per call costs more than the decision.
  const timer = metrics.decisionSeconds.labels({ rpc });
  const ok = metrics.decisions.labels({ rpc, outcome: 'ok' });
  return (call, callback) => {
    const end = timer.startTimer();
    const fail = (e: unknown) => {
      const seconds = end();
      const c = classify(e);
      metrics.decisions.inc({ rpc, outcome: c.outcome });
      if (!c.expected) log.error({ err: e, rpc, peer: call.getPeer() }, 'request failed');
      else if (log.isLevelEnabled('debug')) log.debug({ rpc, outcome: c.outcome, seconds, details: c.message }, 'request refused');
      callback({ code: c.grpc, details: c.message } as grpc.ServiceError);
    };
    const done = (res: Res) => {
      const seconds = end();
      if (log.isLevelEnabled('debug')) log.debug({ rpc, outcome: 'ok', seconds }, 'request');
      ok.inc();
      callback(null, res);
    };
    let out: Res | Promise<Res>;
    // Not a valid request message, or a string beyond its bound (grpc-decode.ts).
    if ((call.request as unknown) instanceof BadRequest) {
      fail((call.request as unknown as BadRequest).error);
      return;
    }
    try {
      out = fn(call.request, call);
    } catch (e) {
      fail(e);
      return;
    }
    // Decisions answer synchronously; only the batch solver returns a promise.
    if (out instanceof Promise) out.then(done, fail);
    else done(out);
  };
}

function reportResponse(r: {
  accepted: number;
  rejected: number;
  sitesAccepted: number;
  sitesRejected: number;
  errors: { index: number; hostId: string; field: string; reason: string }[];
}): pb.ReportResponse {
  return {
    accepted: r.accepted,
    rejected: r.rejected,
    sitesAccepted: r.sitesAccepted,
    sitesRejected: r.sitesRejected,
    errors: r.errors.slice(0, MAX_LISTED_ERRORS).map((e) => ({ index: e.index, hostId: e.hostId, field: e.field, reason: e.reason })),
  };
}

export function telemetryService(deps: GrpcDeps): pb.TelemetryServiceServer {
  const { core, metrics } = deps;
  const countRejected = (rpc: string, errors: { field: string }[]) => {
    for (const e of errors) metrics.samplesRejected.inc({ rpc, field: e.field.replace(/^\w+\[\d+\]\./, '') });
  };
  return {
    registerHosts: unary('RegisterHosts', deps, (req: pb.RegisterHostsRequest) => {
      if (req.hosts.length === 0) throw new ValidationError('hosts', 'at least one host is required');
      const specs = req.hosts.map((h, i) => hostFromPb(h, `hosts[${i}]`));
      const seen = new Set<string>();
      specs.forEach((s, i) => {
        if (seen.has(s.id)) throw new ValidationError(`hosts[${i}].id`, `duplicate host id ${echo(s.id)} in one request`);
        seen.add(s.id);
      });
      return core.registerHosts(specs);
    }),
    report: unary('Report', deps, (req: pb.ReportRequest) => {
      const r = core.report(req.samples.map(sampleFromPb), req.sites.map(carbonFromPb));
      metrics.samplesIngested.inc({ rpc: 'Report' }, r.accepted);
      countRejected('Report', r.errors);
      return reportResponse(r);
    }),
    getPowerModel: unary('GetPowerModel', deps, (req: pb.GetPowerModelRequest) => getPowerModel(core, req)),
    streamReport(call, callback) {
      const end = metrics.decisionSeconds.labels({ rpc: 'StreamReport' }).startTimer();
      const r = { accepted: 0, rejected: 0, sitesAccepted: 0, sitesRejected: 0, errors: [] as { index: number; hostId: string; field: string; reason: string }[] };
      let index = 0;
      let sinceFlush = 0;
      let finished = false;
      const finish = () => {
        finished = true;
        if (sinceFlush > 0) core.collector.changed();
        metrics.samplesIngested.inc({ rpc: 'StreamReport' }, r.accepted);
        end();
      };
      call.on('data', (msg: pb.HostSample | BadRequest) => {
        if (finished) return;
        if (msg instanceof BadRequest) {
          // The stream ends at a frame that is not a valid HostSample; what came before it
          // stays stored, and the status (message and trailers) says how much that was.
          finish();
          metrics.decisions.inc({ rpc: 'StreamReport', outcome: 'invalid' });
          const e = msg.error;
          const field = e.field === 'body' ? `samples[${index}]` : `samples[${index}].${e.field}`;
          const trailers = new grpc.Metadata();
          trailers.set('wattplace-samples-accepted', String(r.accepted));
          trailers.set('wattplace-samples-rejected', String(r.rejected));
          const details = new ValidationError(field, `${e.problem}; the stream ends here: ${r.accepted} samples before it were stored, ${r.rejected} rejected`).message;
          callback({ code: grpc.status.INVALID_ARGUMENT, details, metadata: trailers } as grpc.ServiceError);
          return;
        }
        const p = core.reportOne(sampleFromPb(msg));
        if (p === null) {
          r.accepted++;
          if (++sinceFlush >= 1024) {
            core.collector.changed();
            sinceFlush = 0;
          }
        } else {
          r.rejected++;
          metrics.samplesRejected.inc({ rpc: 'StreamReport', field: p.field });
          if (r.errors.length < MAX_LISTED_ERRORS) r.errors.push({ index, hostId: msg.hostId, field: `samples[${index}].${p.field}`, reason: p.reason });
        }
        index++;
      });
      call.on('end', () => {
        if (finished) return;
        finish();
        metrics.decisions.inc({ rpc: 'StreamReport', outcome: 'ok' });
        callback(null, reportResponse(r));
      });
      call.on('error', () => {
        if (!finished) finish();
      });
    },
  };
}

export function placementService(deps: GrpcDeps, extra: ExtraPlacementHandlers = {}): pb.PlacementServiceServer {
  const { core, metrics } = deps;
  const engine = core.engine;
  const unimplemented = (name: string) => () => {
    throw new UnimplementedError(`${name} is not enabled on this server`);
  };
  return {
    evaluate: unary('Evaluate', deps, (req: pb.EvaluateRequest) => {
      const r = engine.evaluate({ workload: workloadFromPb(req.workload, 'workload'), candidates: candidatesFromPb(req.candidates), allowStale: req.allowStale });
      metrics.countPluginErrors(r.pluginErrors);
      // Domain HostScore / Rejection objects are already shaped as the wire messages: no copies.
      return { feasible: r.feasible, rejected: r.rejected };
    }),
    place: unary('Place', deps, (req: pb.PlaceRequest) => {
      const r = engine.place({ workload: workloadFromPb(req.workload, 'workload'), candidates: candidatesFromPb(req.candidates), allowStale: req.allowStale });
      metrics.countPluginErrors(r.pluginErrors);
      metrics.decisionWatts.observe(r.marginalWatts);
      metrics.countAvoided(r.marginalWatts, r.alternatives);
      return {
        hostId: r.hostId,
        marginalWatts: r.marginalWatts,
        score: r.score,
        reservationId: r.reservationId,
        wake: r.wake,
        alternatives: r.alternatives,
        rejected: r.rejected,
      };
    }),
    release: unary('Release', deps, (req: pb.ReleaseRequest) => engine.release(req.reservationId)),
    placeBatch: unary('PlaceBatch', deps, (req: pb.PlaceBatchRequest) => {
      if (!extra.placeBatch) return unimplemented('PlaceBatch')();
      return Promise.resolve(extra.placeBatch(req)).then((res) => {
        if (res.stats && Number.isFinite(res.stats.gap)) metrics.solverGap.set({ rpc: 'PlaceBatch' }, res.stats.gap);
        return res;
      });
    }),
    planConsolidation: unary('PlanConsolidation', deps, (req: pb.PlanConsolidationRequest) => {
      if (!extra.planConsolidation) return unimplemented('PlanConsolidation')();
      return Promise.resolve(extra.planConsolidation(req)).then((res) => {
        if (res.stats && Number.isFinite(res.stats.gap)) metrics.solverGap.set({ rpc: 'PlanConsolidation' }, res.stats.gap);
        if (Number.isFinite(res.wattsBefore - res.wattsAfter)) metrics.consolidationWattsSaved.set(res.wattsBefore - res.wattsAfter);
        return res;
      });
    }),
  };
}

export interface GrpcServerOptions {
  readonly maxMessageBytes: number;
  readonly extra?: ExtraPlacementHandlers;
  /** Server interceptors, e.g. the bearer-token check of auth.ts. */
  readonly interceptors?: grpc.ServerInterceptor[];
}

/** Builds the gRPC server with wattplace.v1, grpc.health.v1 and server reflection. */
export function buildGrpcServer(deps: GrpcDeps, opts: GrpcServerOptions): { server: grpc.Server; health: HealthImplementation } {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': opts.maxMessageBytes,
    'grpc.max_send_message_length': opts.maxMessageBytes,
    interceptors: opts.interceptors ?? [],
  });
  server.addService(withStrictRequests(pb.TelemetryServiceService), telemetryService(deps) as unknown as grpc.UntypedServiceImplementation);
  // Generated definition, with fast encoders for the Place / Evaluate answers (wire.ts).
  server.addService(withStrictRequests(placementServiceWire(opts.maxMessageBytes)), placementService(deps, opts.extra) as unknown as grpc.UntypedServiceImplementation);
  const health = new HealthImplementation({
    '': 'SERVING',
    'wattplace.v1.TelemetryService': 'SERVING',
    'wattplace.v1.PlacementService': 'SERVING',
  });
  health.addToServer(server);
  const pkg = protoLoader.loadSync(path.join(PROTO_DIR, 'wattplace/v1/wattplace.proto'), { includeDirs: [PROTO_DIR] });
  new ReflectionService(pkg).addToServer(server);
  return { server, health };
}
