/**
 * Hostile and careless gRPC input (issue: hostile input gets a clear error,
 * never a hang). Every case sends the input to a real server over loopback,
 * checks the status code and message, and then checks that the server still
 * answers /healthz and a correct Place.
 *
 * Raw cases go through a generic grpc-js client with identity serializers, so
 * the bytes on the wire are exactly the bytes written here.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as pb from '../../src/gen/wattplace/v1/wattplace';
import { pbHost, sample, workload } from '../fixtures/clusters';
import { failure, startTestServer, type TestServer } from '../helpers/grpc';

const KiB = 1024;
const MiB = 1024 * KiB;
const id = (b: Buffer): Buffer => b;

let t: TestServer;
let raw: grpc.Client;
beforeAll(async () => {
  t = await startTestServer();
  raw = new grpc.Client(t.server.grpcAddress, grpc.credentials.createInsecure());
  // Twenty ON hosts, 8 cores / 32 GiB each, zone=a.
  await t.rpc.registerHosts({ hosts: Array.from({ length: 20 }, (_, i) => pbHost(`h-${i}`, { cpu: 8000, memGiB: 32, labels: { zone: 'a' } })) });
});
afterAll(async () => {
  raw?.close();
  await t?.close();
});

function unaryRaw(path: string, body: Buffer, deadlineMs = 5_000): Promise<grpc.ServiceError | Buffer> {
  return new Promise((resolve) => {
    raw.makeUnaryRequest(path, id, id, body, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (e, r) => resolve(e ?? (r as Buffer)));
  });
}

/** The server still answers /healthz and places (and releases) a 1-core workload correctly. */
async function stillServes(): Promise<void> {
  const h = await fetch(`http://${t.server.httpAddress}/healthz`);
  expect(h.status).toBe(200);
  const r = await t.rpc.place({ workload: workload('after', 1000, 1) });
  expect(r.hostId).toMatch(/^h-\d+$/);
  await t.rpc.release({ reservationId: r.reservationId });
}

const P = '/wattplace.v1.PlacementService/';
const T = '/wattplace.v1.TelemetryService/';

describe('undecodable request bytes are INVALID_ARGUMENT naming the message', () => {
  // Each body, and why it is not a valid message:
  const cases: [string, string, Buffer, string][] = [
    // tag 0x0a = field 1, length-delimited; length 5 but no bytes follow
    ['Release, field 1 claims 5 bytes, none follow', `${P}Release`, Buffer.from([0x0a, 0x05]), 'wattplace.v1.ReleaseRequest'],
    // 0x0e = field 1 with wire type 6, which does not exist
    ['Place, wire type 6', `${P}Place`, Buffer.from([0x0e, 0x01]), 'wattplace.v1.PlaceRequest'],
    // 0x00 = field number 0, never valid
    ['Evaluate, field number 0', `${P}Evaluate`, Buffer.from([0x00, 0x01]), 'wattplace.v1.EvaluateRequest'],
    // 0x0c = end-group for field 1 with no group open
    ['RegisterHosts, stray end-group', `${T}RegisterHosts`, Buffer.from([0x0c]), 'wattplace.v1.RegisterHostsRequest'],
    // a varint of eleven 0xff bytes: longer than any 64-bit varint
    ['Report, overlong varint', `${T}Report`, Buffer.from([0x08, ...Array(11).fill(0xff)]), 'wattplace.v1.ReportRequest'],
    // field 9 start-group (0x4b) opened 10,000 times: nesting no decoder allows
    ['PlaceBatch, groups nested 10,000 deep', `${P}PlaceBatch`, Buffer.alloc(10_000, 0x4b), 'wattplace.v1.PlaceBatchRequest'],
    // field 1 (reservation_id, a string) holding the bytes ff fe: not UTF-8
    ['Release, string not UTF-8', `${P}Release`, Buffer.from([0x0a, 0x02, 0xff, 0xfe]), 'wattplace.v1.ReleaseRequest'],
    // a PlaceRequest cut in the middle of its workload message
    ['Place, truncated', `${P}Place`, Buffer.from(pb.PlaceRequest.encode(pb.PlaceRequest.fromPartial({ workload: workload('w', 1000) })).finish()).subarray(0, 6), 'wattplace.v1.PlaceRequest'],
  ];
  it.each(cases)('%s', async (_name, path, body, message) => {
    const e = (await unaryRaw(path, body)) as grpc.ServiceError;
    expect(e.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(e.details).toMatch(new RegExp(`^body: not a valid ${message.replace(/\./g, '\\.')} \\(`));
    await stillServes();
  });

  it('random bytes never get INTERNAL: each is either a valid request or INVALID_ARGUMENT', async () => {
    // A fixed LCG (Numerical Recipes constants) so the bodies are the same on every run.
    let x = 12345;
    const next = () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0);
    for (let i = 0; i < 200; i++) {
      const body = Buffer.alloc(1 + (next() % 64));
      for (let j = 0; j < body.length; j++) body[j] = next() & 0xff;
      const r = await unaryRaw(`${P}Release`, body);
      if (!(r instanceof Buffer)) expect([grpc.status.INVALID_ARGUMENT, grpc.status.NOT_FOUND]).toContain((r as grpc.ServiceError).code);
    }
    await stillServes();
  });

  it('StreamReport: a bad frame after good ones ends the stream and says how many were stored', async () => {
    const t0 = Date.now() - 60_000;
    const { err, trailers } = await new Promise<{ err: grpc.ServiceError; trailers: grpc.Metadata }>((resolve) => {
      let err: grpc.ServiceError | undefined;
      const s = raw.makeClientStreamRequest(`${T}StreamReport`, id, id, new grpc.Metadata(), {}, (e) => (err = e ?? undefined));
      s.on('status', (st: grpc.StatusObject) => setImmediate(() => resolve({ err: err!, trailers: st.metadata })));
      // three good samples, one for an unknown host (rejected, not stored), then two bytes that are no HostSample
      for (let i = 0; i < 3; i++) s.write(Buffer.from(pb.HostSample.encode(sample('h-1', new Date(t0 + i * 1000), 0.3)).finish()));
      s.write(Buffer.from(pb.HostSample.encode(sample('no-such-host', new Date(t0), 0.3)).finish()));
      s.write(Buffer.from([0x0a, 0x05]));
      s.end();
    });
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/^samples\[4\]: not a valid wattplace\.v1\.HostSample \(.*\); the stream ends here: 3 samples before it were stored, 1 rejected$/);
    expect(trailers.get('wattplace-samples-accepted')).toEqual(['3']);
    expect(trailers.get('wattplace-samples-rejected')).toEqual(['1']);
    // the three are stored
    const snap = t.server.core.collector.refresh();
    expect(snap.lastSampleMs[snap.indexOf('h-1')]).toBe(t0 + 2000);
    await stillServes();
  });
});

describe('long strings are refused where they enter, and never echoed whole', () => {
  const long = (n: number) => 'x'.repeat(n);
  // [case, call, expected message]
  const cases: [string, () => Promise<unknown>, string][] = [
    ['Release with a 256 KiB reservation id', () => t.rpc.release({ reservationId: long(256 * KiB) }), `reservation_id: at most 253 characters, got ${256 * KiB}`],
    ['GetPowerModel with a 1 MiB host id', () => new Promise((res, rej) => t.telemetry.getPowerModel(pb.GetPowerModelRequest.fromPartial({ hostId: long(MiB) }), (e, r) => (e ? rej(e) : res(r)))), `host_id: at most 253 characters, got ${MiB}`],
    ['Report with a 1 MiB host id', () => t.rpc.report({ samples: [sample(long(MiB), new Date(), 0.5)] }), `samples[0].host_id: at most 253 characters, got ${MiB}`],
    ['RegisterHosts with a 300-character site', () => t.rpc.registerHosts({ hosts: [pbHost('s', { cpu: 1000, memGiB: 1, site: long(300) })] }), 'hosts[0].site: at most 253 characters, got 300'],
    ['a label value of 64 characters', () => t.rpc.registerHosts({ hosts: [pbHost('s', { cpu: 1000, memGiB: 1, labels: { zone: long(64) } })] }), 'hosts[0].labels[zone]: value at most 63 characters, got 64'],
    // the key is echoed at most 64 characters, with its length
    ['a label key of 1 MiB', () => t.rpc.registerHosts({ hosts: [pbHost('s', { cpu: 1000, memGiB: 1, labels: { [long(MiB)]: 'v' } })] }),
      `hosts[0].labels: key "${long(64)}"… (${MiB} characters) is not a valid label key: the name must be at most 63 characters, got ${MiB}`],
    ['a selector value of 1 MiB', () => t.rpc.evaluate({ workload: workload('w', 1000, 1, { zone: long(MiB) }) }), `workload.selector[zone]: value at most 63 characters, got ${MiB}`],
    ['a Place candidate id of 254 characters', () => t.rpc.place({ workload: workload('w', 1000), candidates: [{ hostId: long(254) }] }), 'candidates[0].host_id: at most 253 characters, got 254'],
  ];
  it.each(cases)('%s', async (_name, fn, message) => {
    const e = await failure(fn());
    expect(e.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(e.details).toBe(message);
    await stillServes();
  });

  it('a NOT_FOUND repeats at most 64 characters of the id', async () => {
    // 200 characters: within the 253 bound, so it is looked up and not found
    const e = await failure(t.rpc.release({ reservationId: 'r'.repeat(200) }));
    expect(e.code).toBe(grpc.status.NOT_FOUND);
    expect(e.details).toBe(`reservation "${'r'.repeat(64)}"… (200 characters) not found`);
    await stillServes();
  });
});

describe('rejection reasons name the key, and every answer fits the message size', () => {
  it('a selector that no host meets: each reason names the key, not the value', async () => {
    const value = 'v'.repeat(63);
    const r = await t.rpc.evaluate({ workload: workload('w', 1000, 1, { zone: value }) });
    expect(r.feasible).toHaveLength(0);
    expect(r.rejected).toHaveLength(20);
    for (const x of r.rejected) {
      expect(x.reason).toContain('zone');
      expect(x.reason).not.toContain(value);
    }
    await stillServes();
  });

  it('an answer that would exceed maxMessageBytes is cut, with a last entry counting what was left out', async () => {
    // 4 KiB messages and 300 hosts with 40-character ids: 300 rejections × (40 + ~30 B reason) ≈ 21 KB would not fit.
    const small = await startTestServer({ maxMessageBytes: 4 * KiB });
    try {
      const hostId = (i: number) => `host-${String(i).padStart(35, '0')}`;
      // registered 25 at a time: each request must fit 4 KiB too
      for (let b = 0; b < 300; b += 25) {
        await small.rpc.registerHosts({ hosts: Array.from({ length: 25 }, (_, i) => pbHost(hostId(b + i), { cpu: 8000, memGiB: 32, labels: { zone: 'a' } })) });
      }
      const r = await small.rpc.evaluate({ workload: workload('w', 1000, 1, { zone: 'b' }) });
      const last = r.rejected[r.rejected.length - 1];
      expect(last.hostId).toBe('');
      const listed = r.rejected.length - 1;
      expect(listed).toBeGreaterThan(10);
      expect(last.reason).toBe(`${300 - listed} rejected hosts not listed: the answer is limited to 4096 bytes (maxMessageBytes)`);
      expect(pb.EvaluateResponse.encode(r).finish().length).toBeLessThanOrEqual(4 * KiB);
      // Place without a fit is RESOURCE_EXHAUSTED with a bounded message; with a fit, the alternatives are cut the same way.
      const p = await small.rpc.place({ workload: workload('w', 1000, 1, { zone: 'a' }) });
      expect(p.hostId).toMatch(/^host-/);
      expect(pb.PlaceResponse.encode(p).finish().length).toBeLessThanOrEqual(4 * KiB);
    } finally {
      await small.close();
    }
  });
});
