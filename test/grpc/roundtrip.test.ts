/**
 * A round trip over loopback gRPC for every issue-2 RPC, against a real server
 * (startTestServer), with real clients: TelemetryService, PlacementService,
 * grpc.health.v1 and server reflection.
 */
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { service as healthService } from 'grpc-health-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as pb from '../../src/gen/wattplace/v1/wattplace';
import { GiB, pbHost, pbLinear, pbTable, sample, workload } from '../fixtures/clusters';
import { G4_WATTS } from '../fixtures/power';
import { startTestServer, type TestServer } from '../helpers/grpc';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(() => t.close());

const ago = (ms: number) => new Date(Date.now() - ms);

describe('TelemetryService', () => {
  it('RegisterHosts registers new hosts and updates existing ones', async () => {
    const r1 = await t.rpc.registerHosts({
      hosts: [pbHost('rt-a', { cpu: 8000, memGiB: 32 }), pbHost('rt-b', { cpu: 8000, memGiB: 32, site: 'fra', labels: { zone: 'z1' } })],
    });
    expect(r1).toEqual({ registered: 2, updated: 0 });
    // re-register rt-a with half the CPU: an update, not a new host
    const r2 = await t.rpc.registerHosts({ hosts: [pbHost('rt-a', { cpu: 4000, memGiB: 32 })] });
    expect(r2).toEqual({ registered: 0, updated: 1 });
    const e = await t.rpc.evaluate({ workload: workload('probe', 5000), candidates: [{ hostId: 'rt-a' }] });
    expect(e.rejected).toEqual([{ hostId: 'rt-a', reason: 'insufficient cpu: requested 5000m, free 4000m of 4000m (allocated 0m, reserved 0m)' }]);
    const snap = t.server.core.collector.current();
    expect(snap.sites[snap.siteIndex[snap.indexOf('rt-a')]]).toBe('default'); // site optional → "default"
    expect(snap.sites[snap.siteIndex[snap.indexOf('rt-b')]]).toBe('fra');
  });

  it('Report keeps the good samples, rejects the bad ones with reasons, and returns the counts', async () => {
    await t.rpc.registerHosts({ hosts: [pbHost('rp-a', { cpu: 8000, memGiB: 32 })] });
    const r = await t.rpc.report({
      samples: [
        sample('rp-a', ago(2000), 0.4),
        sample('rp-a', ago(1000), 1.5), // util outside 0–1
        sample('rp-zz', ago(1000), 0.1), // unknown host
        sample('rp-a', ago(500), 0.45, { watts: NaN }),
      ],
      sites: [{ site: 'fra', time: ago(1000), gramsCo2PerKwh: 320 }],
    });
    expect([r.accepted, r.rejected, r.sitesAccepted, r.sitesRejected]).toEqual([1, 3, 1, 0]);
    expect(r.errors.map((e) => [e.index, e.hostId, e.field])).toEqual([
      [1, 'rp-a', 'samples[1].cpu_util'],
      [2, 'rp-zz', 'samples[2].host_id'],
      [3, 'rp-a', 'samples[3].watts'],
    ]);
    expect(r.errors[0].reason).toBe('must be within 0–1, got 1.5');
    const snap = t.server.core.collector.current();
    expect(snap.cpuUtil[snap.indexOf('rp-a')]).toBe(0.4);
  });

  it('StreamReport over a real client stream: one summary at the end, and the samples drive the next decision', async () => {
    // st-a: hp-ml110-g4, 10 000 m. The stream's last good sample leaves it at u = 0.3.
    await t.rpc.registerHosts({ hosts: [pbHost('st-a', { cpu: 10_000, memGiB: 32, power: pbTable(G4_WATTS) })] });
    const base = Date.now() - 10_000;
    const res = await new Promise<pb.ReportResponse>((resolve, reject) => {
      const stream = t.telemetry.streamReport((e, r) => (e ? reject(e) : resolve(r)));
      for (let i = 0; i < 200; i++) stream.write(sample('st-a', new Date(base + i * 10), 0.1 + (i % 10) / 100)); // 200 good
      stream.write(sample('st-a', new Date(base), 0.5)); //                        #200 out of order
      stream.write(sample('st-a', new Date(base + 5_000), 0.5, { watts: -1 })); // #201 negative watts
      stream.write(sample('nobody', new Date(base + 5_000), 0.5)); //             #202 unknown host
      stream.write(sample('st-a', new Date(base + 6_000), 0.3)); //               #203 good: the latest
      stream.end();
    });
    expect([res.accepted, res.rejected]).toEqual([201, 3]);
    expect(res.errors.map((e) => e.field)).toEqual(['samples[200].time', 'samples[201].watts', 'samples[202].host_id']);
    // 2 000 m on 10 000 m at u = 0.3: P(0.5) − P(0.3) = 102 − 96 = 6 W
    const e = await t.rpc.evaluate({ workload: workload('w', 2000), candidates: [{ hostId: 'st-a' }] });
    expect(e.feasible[0].marginalWatts).toBeCloseTo(6, 9);
  });
});

describe('PlacementService', () => {
  // pl-cheap: linear 100–200 W, pl-dear: linear 50–300 W, both 8 000 m and never reported.
  // A 2 000 m workload (Δu = 0.25): cheap 100·0.25 = 25 W, dear 250·0.25 = 62.5 W. pl-maint is in MAINTENANCE.
  const cands = [{ hostId: 'pl-cheap' }, { hostId: 'pl-dear' }, { hostId: 'pl-maint' }];
  beforeAll(async () => {
    await t.rpc.registerHosts({
      hosts: [
        pbHost('pl-cheap', { cpu: 8000, memGiB: 32, power: pbLinear(100, 200) }),
        pbHost('pl-dear', { cpu: 8000, memGiB: 32, power: pbLinear(50, 300) }),
        pbHost('pl-maint', { cpu: 8000, memGiB: 32, state: pb.PowerState.POWER_STATE_MAINTENANCE }),
      ],
    });
  });

  it('Evaluate scores every feasible host best first, gives each rejected host a reason, and reserves nothing', async () => {
    const e = await t.rpc.evaluate({ workload: workload('w', 2000), candidates: cands });
    expect(e.feasible.map((f) => f.hostId)).toEqual(['pl-cheap', 'pl-dear']);
    expect(e.feasible[0].marginalWatts).toBeCloseTo(25, 9);
    expect(e.feasible[0].score).toBeCloseTo(-25, 9);
    expect(e.feasible[1].marginalWatts).toBeCloseTo(62.5, 9);
    expect(e.rejected).toEqual([{ hostId: 'pl-maint', reason: 'host is in MAINTENANCE' }]);
    expect(t.server.core.reservations.size).toBe(0);
  });

  it('Place chooses the best host, reserves on it and names the runner-up; Release drops the reservation', async () => {
    const p = await t.rpc.place({ workload: workload('w-place', 2000, 2), candidates: cands });
    expect(p.hostId).toBe('pl-cheap');
    expect(p.marginalWatts).toBeCloseTo(25, 9);
    expect(p.reservationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(p.alternatives.map((a) => [a.hostId, Math.round(a.marginalWatts * 10) / 10])).toEqual([['pl-dear', 62.5]]);
    expect(p.rejected).toEqual([{ hostId: 'pl-maint', reason: 'host is in MAINTENANCE' }]);
    const book = t.server.core.reservations;
    const h = t.server.core.collector.current().indexOf('pl-cheap');
    expect([book.cpu[h], book.mem[h]]).toEqual([2000, 2 * Number(GiB)]);

    // With the reservation, pl-cheap is at u = 0.25: still 25 W on a linear model, but tighter.
    const e = await t.rpc.evaluate({ workload: workload('w2', 6000), candidates: cands });
    // 6 000 m more: cheap (0 + 2000 + 6000)/8000 = 1.0 > 0.8 ceiling → rejected
    expect(e.rejected.find((r) => r.hostId === 'pl-cheap')?.reason).toBe('cpu utilization after placement 1.000 would exceed the ceiling 0.8');

    const rel = await t.rpc.release({ reservationId: p.reservationId });
    expect(rel).toEqual({ hostId: 'pl-cheap' });
    expect([book.cpu[h], book.mem[h]]).toEqual([0, 0]);
  });
});

describe('grpc.health.v1 and server reflection', () => {
  it('Health/Check answers SERVING for the server and for each wattplace.v1 service', async () => {
    const Health = grpc.makeGenericClientConstructor(healthService, 'Health');
    const client = new Health(t.server.grpcAddress, grpc.credentials.createInsecure());
    const check = (svc: string) =>
      new Promise<{ status: string }>((resolve, reject) =>
        (client as unknown as { check: (r: object, cb: (e: grpc.ServiceError | null, r: { status: string }) => void) => void }).check({ service: svc }, (e, r) =>
          e ? reject(e) : resolve(r),
        ),
      );
    try {
      expect((await check('')).status).toBe('SERVING');
      expect((await check('wattplace.v1.PlacementService')).status).toBe('SERVING');
      expect((await check('wattplace.v1.TelemetryService')).status).toBe('SERVING');
      await expect(check('no.such.Service')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    } finally {
      client.close();
    }
  });

  it.each(['v1', 'v1alpha'])('reflection (%s) lists the wattplace.v1 services and serves their descriptors, as grpcurl needs', async (version) => {
    const protoFile = path.join(path.dirname(require.resolve('@grpc/reflection/package.json')), 'build/proto/grpc/reflection', version, 'reflection.proto');
    const def = grpc.loadPackageDefinition(protoLoader.loadSync(protoFile, { keepCase: true }));
    const Ctor = (def.grpc as never as Record<string, Record<string, Record<string, grpc.ServiceClientConstructor>>>).reflection[version].ServerReflection;
    const client = new Ctor(t.server.grpcAddress, grpc.credentials.createInsecure());
    type Resp = {
      list_services_response?: { service: { name: string }[] };
      file_descriptor_response?: { file_descriptor_proto: Buffer[] };
      error_response?: { error_code: number };
    };
    const ask = (req: object) =>
      new Promise<Resp>((resolve, reject) => {
        const call = (client as unknown as { ServerReflectionInfo: () => grpc.ClientDuplexStream<object, Resp> }).ServerReflectionInfo();
        call.on('data', (r: Resp) => {
          resolve(r);
          call.end();
        });
        call.on('error', reject);
        call.write(req);
      });
    try {
      const list = await ask({ list_services: '' });
      const names = list.list_services_response!.service.map((s) => s.name);
      expect(names).toEqual(expect.arrayContaining(['wattplace.v1.TelemetryService', 'wattplace.v1.PlacementService']));
      const fd = await ask({ file_containing_symbol: 'wattplace.v1.PlacementService' });
      const files = fd.file_descriptor_response!.file_descriptor_proto.map((b) => Buffer.from(b).toString('latin1'));
      const own = files.find((f) => f.includes('wattplace.v1'));
      expect(own).toBeDefined();
      for (const name of ['PlacementService', 'TelemetryService', 'PlaceRequest', 'HostSample', 'StreamReport']) expect(own).toContain(name);
    } finally {
      client.close();
    }
  });
});
