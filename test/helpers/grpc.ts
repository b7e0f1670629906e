import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { loadConfig, type ServiceConfig } from '../../src/config';
import * as pb from '../../src/gen/wattplace/v1/wattplace';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server';

/** Promisified unary call: resolves with the response or rejects with the grpc ServiceError. */
export function call<Req, Res>(
  client: grpc.Client,
  method: (req: Req, md: grpc.Metadata, opts: Partial<grpc.CallOptions>, cb: (e: grpc.ServiceError | null, r: Res) => void) => grpc.ClientUnaryCall,
  req: Req,
  md: grpc.Metadata = new grpc.Metadata(),
): Promise<Res> {
  return new Promise((resolve, reject) => method.call(client, req, md, {}, (e, r) => (e ? reject(e) : resolve(r))));
}

/** The error status of a call that must fail; throws when the call succeeds. */
export async function failure(p: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await p;
  } catch (e) {
    return e as grpc.ServiceError;
  }
  throw new Error('the call succeeded; expected an error status');
}

export interface TestServer {
  readonly server: RunningServer;
  readonly telemetry: pb.TelemetryServiceClient;
  readonly placement: pb.PlacementServiceClient;
  readonly rpc: {
    registerHosts(r: pb.DeepPartial<pb.RegisterHostsRequest>): Promise<pb.RegisterHostsResponse>;
    report(r: pb.DeepPartial<pb.ReportRequest>): Promise<pb.ReportResponse>;
    evaluate(r: pb.DeepPartial<pb.EvaluateRequest>): Promise<pb.EvaluateResponse>;
    place(r: pb.DeepPartial<pb.PlaceRequest>): Promise<pb.PlaceResponse>;
    release(r: pb.DeepPartial<pb.ReleaseRequest>): Promise<pb.ReleaseResponse>;
    placeBatch(r: pb.DeepPartial<pb.PlaceBatchRequest>): Promise<pb.PlaceBatchResponse>;
    planConsolidation(r: pb.DeepPartial<pb.PlanConsolidationRequest>): Promise<pb.PlanConsolidationResponse>;
  };
  close(): Promise<void>;
}

/**
 * Starts a real server on free loopback ports (gRPC and HTTP) with a fresh
 * metrics registry, and real gRPC clients for it.
 */
export async function startTestServer(overrides: Partial<ServiceConfig> = {}, opts: ServerOptions = {}): Promise<TestServer> {
  const cfg = { ...loadConfig({ flags: { grpc: '127.0.0.1:0', http: '127.0.0.1:0' } }), snapshotRefreshMs: 0, ...overrides };
  const server = await startServer(cfg, { log: pino({ level: 'silent' }), ...opts });
  const creds = grpc.credentials.createInsecure();
  const telemetry = new pb.TelemetryServiceClient(server.grpcAddress, creds);
  const placement = new pb.PlacementServiceClient(server.grpcAddress, creds);
  const t = telemetry;
  const p = placement;
  return {
    server,
    telemetry,
    placement,
    rpc: {
      registerHosts: (r) => call(t, t.registerHosts, pb.RegisterHostsRequest.fromPartial(r as never)),
      report: (r) => call(t, t.report, pb.ReportRequest.fromPartial(r as never)),
      evaluate: (r) => call(p, p.evaluate, pb.EvaluateRequest.fromPartial(r as never)),
      place: (r) => call(p, p.place, pb.PlaceRequest.fromPartial(r as never)),
      release: (r) => call(p, p.release, pb.ReleaseRequest.fromPartial(r as never)),
      placeBatch: (r) => call(p, p.placeBatch, pb.PlaceBatchRequest.fromPartial(r as never)),
      planConsolidation: (r) => call(p, p.planConsolidation, pb.PlanConsolidationRequest.fromPartial(r as never)),
    },
    async close() {
      telemetry.close();
      placement.close();
      await server.stop();
    },
  };
}
