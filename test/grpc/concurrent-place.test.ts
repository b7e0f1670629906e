/**
 * 64 Place calls in flight at once over loopback gRPC against a nearly full
 * cluster (fixture NEARLY_FULL): exactly as many succeed as fit, and no host is
 * ever promised more than capacity × ratio − allocated.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as pb from '../../src/gen/wattplace/v1/wattplace';
import { GiB, NEARLY_FULL, sample, workload } from '../fixtures/clusters';
import { startTestServer, type TestServer } from '../helpers/grpc';

let t: TestServer;
let placedIds: string[] = [];
beforeAll(async () => {
  t = await startTestServer(NEARLY_FULL.config);
  await t.rpc.registerHosts({ hosts: NEARLY_FULL.hosts.map((h) => h.host) });
  const now = Date.now() - 1000;
  const r = await t.rpc.report({
    samples: NEARLY_FULL.hosts.map((h) =>
      sample(h.host.id, new Date(now), 0.1, { allocated: { cpuMillis: BigInt(h.allocCpu), memBytes: BigInt(h.allocMemGiB) * GiB } }),
    ),
  });
  expect(r.accepted).toBe(NEARLY_FULL.hosts.length);
});
afterAll(() => t.close());

describe('64 concurrent Place calls on a nearly full cluster', () => {
  it('place exactly the 12 workloads that fit (3 + 5 + 2 + 0 + 2) and never over-commit a host', async () => {
    const N = 64;
    const { cpuMillis, memGiB } = NEARLY_FULL.demand;
    // all 64 calls are started before any answer is awaited
    const calls = Array.from({ length: N }, (_, i) => t.rpc.place({ workload: workload(`burst-${i}`, cpuMillis, memGiB) }));
    const results = await Promise.allSettled(calls);

    const ok = results.filter((r): r is PromiseFulfilledResult<pb.PlaceResponse> => r.status === 'fulfilled').map((r) => r.value);
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as grpc.ServiceError);
    expect(ok.length).toBe(NEARLY_FULL.expectedPlaced); // 12, worked out in the fixture's table
    expect(failed.length).toBe(N - NEARLY_FULL.expectedPlaced); // 52
    for (const e of failed) {
      expect(e.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(e.details).toMatch(/^no feasible host for workload "burst-\d+"/);
    }
    expect(new Set(ok.map((p) => p.reservationId)).size).toBe(ok.length);

    const core = t.server.core;
    const snap = core.collector.current();
    const cfg = NEARLY_FULL.config;
    for (const h of NEARLY_FULL.hosts) {
      const id = h.host.id;
      const placed = ok.filter((p) => p.hostId === id).length;
      expect({ id, placed }).toEqual({ id, placed: h.fits });
      // per host: reserved ≤ capacity × ratio − allocated, for CPU and memory,
      // both as summed from the answers and as the server's reservation book holds it
      const capCpu = Number(h.host.capacity!.cpuMillis);
      const capMem = Number(h.host.capacity!.memBytes);
      const freeCpu = capCpu * cfg.cpuAllocationRatio - h.allocCpu;
      const freeMem = capMem * cfg.memAllocationRatio - h.allocMemGiB * Number(GiB);
      const i = snap.indexOf(id);
      expect(placed * cpuMillis).toBeLessThanOrEqual(freeCpu);
      expect(placed * memGiB * Number(GiB)).toBeLessThanOrEqual(freeMem);
      expect(core.reservations.cpu[i]).toBe(placed * cpuMillis);
      expect(core.reservations.cpu[i]).toBeLessThanOrEqual(freeCpu);
      expect(core.reservations.mem[i]).toBeLessThanOrEqual(freeMem);
    }
    expect(core.reservations.size).toBe(NEARLY_FULL.expectedPlaced);
    placedIds = ok.map((p) => p.reservationId);
  });

  it('after the burst, Evaluate rejects every host with its capacity reason', async () => {
    const { cpuMillis, memGiB } = NEARLY_FULL.demand;
    const e = await t.rpc.evaluate({ workload: workload('after', cpuMillis, memGiB) });
    expect(e.feasible).toEqual([]);
    const reasons = Object.fromEntries(e.rejected.map((r) => [r.hostId, r.reason]));
    // nf-a: 16000 − 13000 − 3·1000 = 0 free
    expect(reasons['nf-a']).toBe('insufficient cpu: requested 1000m, free 0m of 16000m (allocated 13000m, reserved 3000m)');
    // nf-c: 8000 − 5500 − 2·1000 = 500 free
    expect(reasons['nf-c']).toBe('insufficient cpu: requested 1000m, free 500m of 8000m (allocated 5500m, reserved 2000m)');
    // nf-e: memory 16 − 11 − 2·2 = 1 GiB free < 2 GiB
    expect(reasons['nf-e']).toBe(
      'insufficient memory: requested 2147483648 B, free 1073741824 B of 17179869184 B (allocated 11811160064 B, reserved 4294967296 B)',
    );
  });

  it('after releasing all 12 concurrently, a second burst of 64 again places exactly 12', async () => {
    const rel = await Promise.all(placedIds.map((reservationId) => t.rpc.release({ reservationId })));
    expect(rel).toHaveLength(NEARLY_FULL.expectedPlaced);
    expect(t.server.core.reservations.size).toBe(0);
    const { cpuMillis, memGiB } = NEARLY_FULL.demand;
    const results = await Promise.allSettled(Array.from({ length: 64 }, (_, i) => t.rpc.place({ workload: workload(`again-${i}`, cpuMillis, memGiB) })));
    const ok = results.filter((r) => r.status === 'fulfilled') as PromiseFulfilledResult<pb.PlaceResponse>[];
    expect(ok.length).toBe(NEARLY_FULL.expectedPlaced);
    const perHost = Object.fromEntries(NEARLY_FULL.hosts.map((h) => [h.host.id, ok.filter((r) => r.value.hostId === h.host.id).length]));
    expect(perHost).toEqual(Object.fromEntries(NEARLY_FULL.hosts.map((h) => [h.host.id, h.fits])));
  });
});
