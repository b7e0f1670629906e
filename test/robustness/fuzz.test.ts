/**
 * Property-based fuzzing (fast-check) of every RPC over real gRPC on loopback
 * and of every HTTP body (the Kubernetes extender endpoints), against one
 * running server with a small valid fleet so that requests reach deep paths.
 *
 * Properties, for every generated request:
 *   - it is answered (a deadline of 10 s per call: no hang);
 *   - the status is one the API documents (OK, INVALID_ARGUMENT, NOT_FOUND,
 *     RESOURCE_EXHAUSTED) — never INTERNAL/UNKNOWN/UNIMPLEMENTED (no crash,
 *     no unhandled error, every RPC served), HTTP never 5xx;
 *   - every INVALID_ARGUMENT / 400 / extender Error names the field
 *     ("field.path: problem", or JSON {"field": …});
 *   - afterwards the server still serves valid requests.
 * Runs per property: FUZZ_RUNS (default 40, kept modest for CI).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as pb from '../../src/gen/wattplace/v1/wattplace';
import { pbHost, pbLinear, sample, workload } from '../fixtures/clusters';
import { startTestServer, type TestServer } from '../helpers/grpc';
import { filterFormProblem, priorityFormProblem } from '../helpers/k8s-form';

const RUNS = Number(process.env.FUZZ_RUNS ?? 40);
const DEADLINE_MS = 10_000;
/** "hosts[3].power.table.watts: …", "workload.demand.cpu_millis: …", "Pod.metadata.labels[app]: …", "Pod.metadata.annotations["]"]: …" (keyField) */
const NAMES_FIELD = /^[A-Za-z_]\w*(?:\.[\w-]+|\[(?:"(?:[^"\\]|\\.)*"(?:… \(\d+ characters\))?|[^\]"]*)\])*: \S/s;
const HOSTS = ['fz-a', 'fz-b', 'fz-c', 'fz-d'];

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ maxBatch: 200 });
  await t.rpc.registerHosts({
    hosts: HOSTS.map((id, i) => pbHost(id, { cpu: 8000 * (i + 1), memGiB: 32, power: pbLinear(80 + 10 * i, 200 + 40 * i), site: i % 2 ? 'fra' : 'ber' })),
  });
  const now = new Date(Date.now() - 5_000);
  await t.rpc.report({ samples: HOSTS.map((id, i) => sample(id, now, 0.1 * i)) });
});
afterAll(() => t.close());

// ------------------------------------------------------------ arbitraries (wire form)
const int64 = fc.oneof(
  fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
  fc.constantFrom(0n, 1n, -1n, 1000n, 1n << 30n, 1n << 53n, (1n << 53n) + 1n, (1n << 63n) - 1n),
);
const dbl = fc.oneof(fc.double(), fc.constantFrom(0, 1, 0.5, -0, -1, 1.0000001, NaN, Infinity, -Infinity, 1e308), fc.double({ min: 0, max: 1, noNaN: true }));
const u32 = fc.oneof(fc.nat({ max: 2000 }), fc.constantFrom(0, 1, 4_294_967_295));
const str = fc.oneof(fc.constantFrom('', ...HOSTS, 'default', 'fra'), fc.string({ maxLength: 12 }), fc.string({ unit: 'grapheme', maxLength: 6 }));
const hostId = fc.oneof(fc.constantFrom(...HOSTS), str);
const labels = fc.dictionary(str, str, { maxKeys: 3 });
const resources = fc.record({ cpuMillis: int64, memBytes: int64 });
const date = fc.oneof(
  fc.date({ min: new Date(Date.now() - 600_000), max: new Date(Date.now() + 600_000), noInvalidDate: true }),
  fc.date({ min: new Date(0), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }),
);
const powerModel: fc.Arbitrary<pb.PowerModel> = fc.record({
  model: fc.oneof(
    fc.constant(undefined),
    fc.record({ $case: fc.constant('linear' as const), linear: fc.record({ idleWatts: dbl, maxWatts: dbl }) }),
    fc.record({ $case: fc.constant('table' as const), table: fc.record({ watts: fc.oneof(fc.array(dbl, { maxLength: 13 }), fc.array(fc.double({ min: 0, max: 400, noNaN: true }), { minLength: 11, maxLength: 11 }).map((a) => a.sort((x, y) => x - y))) }) }),
    fc.record({ $case: fc.constant('exponential' as const), exponential: fc.record({ k0: dbl, k1: dbl, k2: dbl }) }),
  ),
  standbyWatts: dbl,
});
const host: fc.Arbitrary<pb.Host> = fc.record({
  id: hostId,
  site: str,
  capacity: fc.option(resources, { nil: undefined }),
  power: fc.option(powerModel, { nil: undefined }),
  state: fc.integer({ min: -1, max: 6 }) as fc.Arbitrary<pb.PowerState>,
  labels,
});
const hostSample: fc.Arbitrary<pb.HostSample> = fc.record({
  hostId,
  time: fc.option(date, { nil: undefined }),
  watts: dbl,
  cpuUtil: dbl,
  memUtil: dbl,
  allocated: fc.option(resources, { nil: undefined }),
});
const siteCarbon: fc.Arbitrary<pb.SiteCarbon> = fc.record({ site: str, time: fc.option(date, { nil: undefined }), gramsCo2PerKwh: dbl });
const wl: fc.Arbitrary<pb.Workload> = fc.record({
  id: str,
  demand: fc.option(fc.oneof(resources, fc.record({ cpuMillis: fc.bigInt({ min: 0n, max: 20_000n }), memBytes: fc.bigInt({ min: 0n, max: 1n << 36n }) })), { nil: undefined }),
  selector: labels,
});
const candidate: fc.Arbitrary<pb.Candidate> = fc.record({
  hostId,
  allocated: fc.option(resources, { nil: undefined }),
  cpuAllocationRatio: dbl,
  memAllocationRatio: dbl,
});
const placeLike = fc.record({ workload: fc.option(wl, { nil: undefined }), candidates: fc.array(candidate, { maxLength: 6 }), allowStale: fc.boolean() });

// ------------------------------------------------------------ checks
const ALLOWED = new Set([grpc.status.OK, grpc.status.INVALID_ARGUMENT, grpc.status.NOT_FOUND, grpc.status.RESOURCE_EXHAUSTED]);

function unary<Req>(client: grpc.Client, method: string, encode: (r: Req) => Uint8Array, req: Req): Promise<{ code: grpc.status; details: string; bytes?: Buffer }> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      method,
      (r: Req) => Buffer.from(encode(r)),
      (b: Buffer) => b,
      req,
      new grpc.Metadata(),
      { deadline: Date.now() + DEADLINE_MS },
      (e, bytes) => resolve(e ? { code: e.code, details: e.details } : { code: grpc.status.OK, details: '', bytes }),
    );
  });
}

function checkStatus(rpc: string, r: { code: grpc.status; details: string }): void {
  if (!ALLOWED.has(r.code)) throw new Error(`${rpc}: unexpected ${grpc.status[r.code]}: ${r.details}`);
  if (r.code === grpc.status.INVALID_ARGUMENT && !NAMES_FIELD.test(r.details)) throw new Error(`${rpc}: INVALID_ARGUMENT does not name the field: ${r.details}`);
}

function checkReportErrors(rpc: string, res: pb.ReportResponse): void {
  for (const e of res.errors) {
    if (!NAMES_FIELD.test(`${e.field}: ${e.reason}`)) throw new Error(`${rpc}: per-sample error without a field: ${JSON.stringify(e)}`);
  }
}

describe('gRPC fuzzing (wattplace.v1, every RPC)', () => {
  const T = '/wattplace.v1.TelemetryService/';
  const P = '/wattplace.v1.PlacementService/';
  const client = () => t.telemetry as unknown as grpc.Client;

  it('RegisterHosts', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(host, { maxLength: 5 }), async (hosts) => {
        const r = await unary(client(), `${T}RegisterHosts`, (m: pb.RegisterHostsRequest) => pb.RegisterHostsRequest.encode(m).finish(), { hosts });
        checkStatus('RegisterHosts', r);
      }),
      { numRuns: RUNS },
    );
  });

  it('Report', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(hostSample, { maxLength: 8 }), fc.array(siteCarbon, { maxLength: 3 }), async (samples, sites) => {
        const r = await unary(client(), `${T}Report`, (m: pb.ReportRequest) => pb.ReportRequest.encode(m).finish(), { samples, sites });
        checkStatus('Report', r);
        if (r.bytes) {
          const res = pb.ReportResponse.decode(r.bytes);
          if (res.accepted + res.rejected !== samples.length) throw new Error(`Report: ${res.accepted} + ${res.rejected} ≠ ${samples.length} samples`);
          checkReportErrors('Report', res);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('StreamReport', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(hostSample, { maxLength: 8 }), async (samples) => {
        const res = await new Promise<{ code: grpc.status; details: string; res?: pb.ReportResponse }>((resolve) => {
          const call = t.telemetry.streamReport(new grpc.Metadata(), { deadline: Date.now() + DEADLINE_MS }, (e, r) =>
            resolve(e ? { code: e.code, details: e.details } : { code: grpc.status.OK, details: '', res: r }),
          );
          for (const s of samples) call.write(s);
          call.end();
        });
        checkStatus('StreamReport', res);
        if (res.res) {
          if (res.res.accepted + res.res.rejected !== samples.length) throw new Error('StreamReport: counts do not add up');
          checkReportErrors('StreamReport', res.res);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('Evaluate and Place', async () => {
    await fc.assert(
      fc.asyncProperty(placeLike, fc.boolean(), async (req, place) => {
        const method = place ? 'Place' : 'Evaluate';
        const r = await unary(client(), `${P}${method}`, (m: pb.PlaceRequest) => pb.PlaceRequest.encode(m).finish(), req);
        checkStatus(method, r);
        if (place && r.bytes) {
          // keep the fleet usable: release what was reserved
          const res = pb.PlaceResponse.decode(r.bytes);
          await t.rpc.release({ reservationId: res.reservationId });
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('Release', async () => {
    await fc.assert(
      fc.asyncProperty(str, async (reservationId) => {
        const r = await unary(client(), `${P}Release`, (m: pb.ReleaseRequest) => pb.ReleaseRequest.encode(m).finish(), { reservationId });
        checkStatus('Release', r);
      }),
      { numRuns: RUNS },
    );
  });

  it('GetPowerModel', async () => {
    await fc.assert(
      fc.asyncProperty(hostId, fc.boolean(), async (id, refit) => {
        const r = await unary(client(), `${T}GetPowerModel`, (m: pb.GetPowerModelRequest) => pb.GetPowerModelRequest.encode(m).finish(), { hostId: id, refit });
        checkStatus('GetPowerModel', r);
      }),
      { numRuns: RUNS },
    );
  });

  it('PlaceBatch', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(wl, { maxLength: 6 }), fc.oneof(fc.nat({ max: 200 }), fc.constant(0)), async (workloads, timeBudgetMs) => {
        const r = await unary(client(), `${P}PlaceBatch`, (m: pb.PlaceBatchRequest) => pb.PlaceBatchRequest.encode(m).finish(), { workloads, timeBudgetMs });
        checkStatus('PlaceBatch', r);
        if (r.bytes) for (const id of pb.PlaceBatchResponse.decode(r.bytes).reservationIds) await t.rpc.release({ reservationId: id });
      }),
      { numRuns: RUNS },
    );
  });

  it('PlanConsolidation', async () => {
    const running = fc.record({ workload: fc.option(wl, { nil: undefined }), hostId });
    await fc.assert(
      fc.asyncProperty(fc.array(running, { maxLength: 6 }), u32, fc.nat({ max: 200 }), fc.array(hostId, { maxLength: 4 }), async (run, maxMigrations, timeBudgetMs, hostIds) => {
        const r = await unary(client(), `${P}PlanConsolidation`, (m: pb.PlanConsolidationRequest) => pb.PlanConsolidationRequest.encode(m).finish(), {
          running: run,
          maxMigrations,
          timeBudgetMs,
          hostIds,
        });
        checkStatus('PlanConsolidation', r);
      }),
      { numRuns: RUNS },
    );
  });

  it('raw bytes that are not valid protobuf are answered, never crash the server', async () => {
    const methods = [`${T}RegisterHosts`, `${T}Report`, `${T}GetPowerModel`, `${P}Evaluate`, `${P}Place`, `${P}Release`, `${P}PlaceBatch`, `${P}PlanConsolidation`];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...methods), fc.uint8Array({ maxLength: 64 }), async (method, bytes) => {
        const r = await unary(client(), method, (b: Uint8Array) => b, bytes);
        // Undecodable bytes: grpc-js answers INTERNAL "Error deserializing request" itself, before any handler.
        if (r.code === grpc.status.INTERNAL && /deserializ/i.test(r.details)) return;
        checkStatus(method, r);
      }),
      { numRuns: RUNS },
    );
  });
});

// ------------------------------------------------------------ HTTP
interface HttpResult {
  status: number;
  body: string;
}
async function post(p: string, body: string): Promise<HttpResult> {
  const res = await fetch(`http://${t.server.httpAddress}${p}`, { method: 'POST', body, headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(DEADLINE_MS) });
  return { status: res.status, body: await res.text() };
}

function checkHttp(p: string, r: HttpResult): void {
  if (r.status >= 500) throw new Error(`${p}: HTTP ${r.status}: ${r.body}`);
  const j = JSON.parse(r.body) as unknown;
  if (r.status === 400 || r.status === 413) {
    const o = j as { error?: string; field?: string };
    if (!(typeof o.field === 'string' && o.field !== '') && !NAMES_FIELD.test(o.error ?? '')) throw new Error(`${p}: ${r.status} does not name the field: ${r.body}`);
    return;
  }
  if (r.status !== 200) throw new Error(`${p}: unexpected HTTP ${r.status}: ${r.body}`);
  if (p === '/k8s/filter') {
    const o = j as { Error?: string };
    if (typeof o.Error !== 'string') throw new Error(`${p}: no Error key: ${r.body}`);
    if (o.Error !== '' && !NAMES_FIELD.test(o.Error)) throw new Error(`${p}: Error does not name the field: ${o.Error}`);
    const bad = filterFormProblem(j);
    if (bad) throw new Error(`${p}: answer not in v1 form (${bad}): ${r.body.slice(0, 300)}`);
  }
  if (p === '/k8s/prioritize') {
    const bad = priorityFormProblem(j);
    if (bad) throw new Error(`${p}: answer not in v1 form (${bad}): ${r.body.slice(0, 300)}`);
  }
}

/** Replaces or deletes random sub-trees of a valid document. */
function mutated(seed: unknown): fc.Arbitrary<unknown> {
  const paths: (string | number)[][] = [];
  const walk = (v: unknown, at: (string | number)[]) => {
    paths.push(at);
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...at, i]));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...at, k]);
  };
  walk(seed, []);
  const edit = fc.record({ path: fc.constantFrom(...paths.filter((p) => p.length > 0)), value: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(undefined)) });
  return fc.array(edit, { minLength: 1, maxLength: 4 }).map((edits) => {
    const doc = structuredClone(seed) as Record<string | number, unknown>;
    for (const { path: p, value } of edits) {
      let o: Record<string | number, unknown> | undefined = doc;
      for (const k of p.slice(0, -1)) o = o && typeof o[k] === 'object' && o[k] !== null ? (o[k] as Record<string | number, unknown>) : undefined;
      if (!o) continue;
      const last = p[p.length - 1];
      if (value === undefined) delete o[last];
      else o[last] = value;
    }
    return doc;
  });
}

describe('HTTP body fuzzing (/k8s/filter, /k8s/prioritize, /v1/rebalance)', () => {
  const fixtures = path.resolve(__dirname, '../../src/api/k8s/fixtures');
  const pod = JSON.parse(fs.readFileSync(path.join(fixtures, 'pod-web.json'), 'utf8')) as Record<string, unknown>;
  const node = JSON.parse(fs.readFileSync(path.join(fixtures, 'node-worker.json'), 'utf8')) as { metadata: { name: string } };
  const byNames = { Pod: pod, NodeNames: [...HOSTS, 'unknown-node'] };
  const byNodes = { Pod: pod, Nodes: { kind: 'NodeList', apiVersion: 'v1', items: [node, { ...node, metadata: { ...node.metadata, name: HOSTS[0] } }] } };
  const endpoint = fc.constantFrom('/k8s/filter', '/k8s/prioritize');

  it('the seeds themselves are valid requests', async () => {
    for (const p of ['/k8s/filter', '/k8s/prioritize']) {
      for (const body of [byNames, byNodes]) {
        const r = await post(p, JSON.stringify(body));
        expect(r.status, `${p} ${r.body}`).toBe(200);
        if (p === '/k8s/filter') expect((JSON.parse(r.body) as { Error: string }).Error).toBe('');
      }
    }
  });

  it('mutated ExtenderArgs', async () => {
    await fc.assert(
      fc.asyncProperty(endpoint, fc.oneof(mutated(byNames), mutated(byNodes)), async (p, body) => {
        checkHttp(p, await post(p, JSON.stringify(body)));
      }),
      { numRuns: RUNS * 2 },
    );
  });

  const rebalanceSeed = {
    running: [
      { workloadId: 'r1', hostId: HOSTS[0], cpuHistory: [500, 600, 550, 700], cpuMillis: 1000, memBytes: 2 ** 30 },
      { workloadId: 'r2', hostId: HOSTS[1], cpuHistory: [1000, 900, 1100], vcpus: 2, memBytes: 2 ** 31, cost: 5 },
      { workloadId: 'r3', hostId: HOSTS[2], cpuHistory: [200], cpuMillis: 500, memBytes: 2 ** 29 },
    ],
    z: 1.5,
    maxMigrations: 2,
  };

  it('the /v1/rebalance seed is a valid request', async () => {
    const r = await post('/v1/rebalance', JSON.stringify(rebalanceSeed));
    expect(r.status, r.body).toBe(200);
  });

  it('mutated /v1/rebalance bodies', async () => {
    await fc.assert(
      fc.asyncProperty(mutated(rebalanceSeed), async (body) => {
        checkHttp('/v1/rebalance', await post('/v1/rebalance', JSON.stringify(body)));
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it('arbitrary JSON values', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('/k8s/filter', '/k8s/prioritize', '/v1/rebalance'), fc.jsonValue({ maxDepth: 3 }), async (p, body) => {
        checkHttp(p, await post(p, JSON.stringify(body)));
      }),
      { numRuns: RUNS },
    );
  });

  it('bodies that are not JSON', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('/k8s/filter', '/k8s/prioritize', '/v1/rebalance'), fc.string({ unit: 'binary', maxLength: 40 }), async (p, text) => {
        const r = await post(p, text);
        if (text.trim() !== '' && (() => { try { JSON.parse(text); return true; } catch { return false; } })()) return checkHttp(p, r);
        expect(r.status).toBe(400);
        expect(JSON.parse(r.body)).toMatchObject({ field: 'body' });
      }),
      { numRuns: RUNS },
    );
  });
});

describe('after the fuzzing', () => {
  it('the server still answers health checks and valid requests', async () => {
    const res = await fetch(`http://${t.server.httpAddress}/healthz`);
    expect(res.status).toBe(200);
    const r = await t.rpc.place({ workload: workload('fz-final', 500, 1), candidates: HOSTS.map((h) => ({ hostId: h })) });
    expect(HOSTS).toContain(r.hostId);
  });
});
