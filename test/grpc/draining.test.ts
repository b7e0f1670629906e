/**
 * Draining for STANDBY over loopback gRPC: a host the applier marks draining
 * (core.setDraining) takes nothing new from Place, Evaluate, PlaceBatch or as a
 * PlanConsolidation target; Place's `wake` says when the chosen host is in
 * STANDBY, checked in the raw bytes of the answer too.
 *
 * Fleet: three 10 000 m, 64 GiB hosts, never reported, nothing allocated. A
 * 1 000 m workload adds Δu = 0.1:
 *   dr-cheap  ON       x3470 table:  P(0.1) − P(0) = 46.7 − 41.6         =   5.1 W
 *   dr-on     ON       linear 100 → 200:  100 · 0.1                      =  10.0 W
 *   dr-sb     STANDBY  linear 100 → 200, 0 W standby:  P(0.1) − 0 = 110.0 W (waking it)
 */
import * as grpc from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as pb from '../../src/gen/wattplace/v1/wattplace';
import { failure, startTestServer, type TestServer } from '../helpers/grpc';
import { pbHost, pbLinear, pbTable, workload } from '../fixtures/clusters';
import { X3470_WATTS } from '../fixtures/power';

const DRAINING = 'host is draining for standby';

let t: TestServer;
beforeEach(async () => {
  t = await startTestServer();
  await t.rpc.registerHosts({
    hosts: [
      pbHost('dr-cheap', { cpu: 10_000, memGiB: 64, power: pbTable(X3470_WATTS) }),
      pbHost('dr-on', { cpu: 10_000, memGiB: 64, power: pbLinear(100, 200) }),
      pbHost('dr-sb', { cpu: 10_000, memGiB: 64, power: pbLinear(100, 200), state: pb.PowerState.POWER_STATE_STANDBY }),
    ],
  });
});
afterEach(() => t.close());

/** Place's answer as the bytes the server sent. */
function placeBytes(req: pb.PlaceRequest): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    t.placement.makeUnaryRequest(
      '/wattplace.v1.PlacementService/Place',
      (r: pb.PlaceRequest) => Buffer.from(pb.PlaceRequest.encode(r).finish()),
      (b: Buffer) => b,
      req,
      new grpc.Metadata(),
      (e, b) => (e ? reject(e) : resolve(b!)),
    ),
  );
}

describe('draining hosts over gRPC', () => {
  it('Place skips a draining host and sets wake only for a STANDBY host; Evaluate names the reason', async () => {
    const steps: [string[], string, number, boolean][] = [
      // draining now              → picks      watts  wake
      [[], 'dr-cheap', 5.1, false],
      [['dr-cheap'], 'dr-on', 10, false],
      [['dr-cheap', 'dr-on'], 'dr-sb', 110, true],
    ];
    for (const [draining, want, watts, wake] of steps) {
      for (const id of draining) expect(t.server.core.setDraining(id, true)).toBe(true);
      const p = await t.rpc.place({ workload: workload(`w-${want}`, 1000) });
      expect([p.hostId, p.wake]).toEqual([want, wake]);
      expect(p.marginalWatts).toBeCloseTo(watts, 9);
      for (const r of p.rejected) expect(draining).toContain(r.hostId); // only draining hosts were turned away
      await t.rpc.release({ reservationId: p.reservationId });
    }
    // dr-cheap and dr-on are draining now
    const e = await t.rpc.evaluate({ workload: workload('probe', 1000) });
    expect(e.feasible.map((f) => f.hostId)).toEqual(['dr-sb']);
    expect(e.rejected).toEqual([
      { hostId: 'dr-cheap', reason: DRAINING },
      { hostId: 'dr-on', reason: DRAINING },
    ]);
    // naming the draining host as the only candidate (Nova's way): no host, the reason on the wire
    const err = await failure(t.rpc.place({ workload: workload('only', 1000), candidates: [{ hostId: 'dr-on' }] }));
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(err.details).toContain(DRAINING);
    // draining ends: the cheap host is chosen again
    t.server.core.setDraining('dr-cheap', false);
    expect((await t.rpc.place({ workload: workload('back', 1000) })).hostId).toBe('dr-cheap');
    expect(t.server.core.setDraining('dr-nobody', true)).toBe(false);
  });

  it('wake on the wire: field 7 (tag 0x38) set to 1 for a STANDBY host, absent for an ON one', async () => {
    const on = await placeBytes(pb.PlaceRequest.fromPartial({ workload: workload('w1', 1000) }));
    expect(pb.PlaceResponse.decode(on)).toMatchObject({ hostId: 'dr-cheap', wake: false });
    expect(on.includes(Buffer.from([0x38, 0x01]))).toBe(false);
    t.server.core.setDraining('dr-cheap', true);
    t.server.core.setDraining('dr-on', true);
    const sb = await placeBytes(pb.PlaceRequest.fromPartial({ workload: workload('w2', 1000) }));
    // ts-proto's order: wake is the last field written
    expect([...sb.subarray(sb.length - 2)]).toEqual([0x38, 0x01]);
    expect(pb.PlaceResponse.decode(sb)).toMatchObject({ hostId: 'dr-sb', wake: true });
  });

  it('PlaceBatch never assigns to a draining host, and says so when nothing fits', async () => {
    t.server.core.setDraining('dr-cheap', true);
    t.server.core.setDraining('dr-on', true);
    // 3 × 2 000 m = 6 000 m ≤ ceiling 0.8 × 10 000 = 8 000 m on dr-sb, the only host left
    const r = await t.rpc.placeBatch({ workloads: [workload('b1', 2000), workload('b2', 2000), workload('b3', 2000)], timeBudgetMs: 200 });
    expect(r.assignments.map((a) => a.hostId)).toEqual(['dr-sb', 'dr-sb', 'dr-sb']);
    expect(r.standbyHostIds).toEqual([]);
    for (const id of r.reservationIds) await t.rpc.release({ reservationId: id });
    // 9 000 m > 8 000 m ceiling on dr-sb; the other two are draining
    const big = await t.rpc.placeBatch({ workloads: [workload('big', 9000)], timeBudgetMs: 200 });
    expect(big.assignments).toEqual([]);
    expect(big.unplaced).toEqual([{ hostId: '', reason: 'workload big: no host can take it (2 draining for standby, 1 would exceed the cpu ceiling)' }]);
  });

  it('PlanConsolidation never moves onto a draining host, and does not list it for standby', async () => {
    // Two hosts, each running one 1 000 m workload (Δu = 0.1):
    //   dr-on (linear): 100 + 10 = 110 W      dr-cheap (x3470): P(0.1) = 46.7 W
    // Not draining: moving a-1 onto dr-cheap gives P(0.2) = 52.3 W and dr-on goes to standby (0 W):
    // 52.3 W instead of 156.7 W.
    const req = {
      running: [
        { workload: workload('a-1', 1000), hostId: 'dr-on' },
        { workload: workload('c-1', 1000), hostId: 'dr-cheap' },
      ],
      timeBudgetMs: 200,
    };
    const free = await t.rpc.planConsolidation(req);
    expect(free.migrations.map((m) => [m.workloadId, m.sourceHostId, m.targetHostId])).toEqual([['a-1', 'dr-on', 'dr-cheap']]);
    expect(free.standbyHostIds).toEqual(['dr-on']);
    // dr-cheap draining: it takes nothing; c-1 may leave it, but its host stays at P(0) = 41.6 W in the
    // plan (it is not this plan's to power down), so moving c-1 onto dr-on only adds 10 W there while
    // saving 5.1 W: no migration.
    t.server.core.setDraining('dr-cheap', true);
    const drained = await t.rpc.planConsolidation(req);
    expect(drained.migrations.filter((m) => m.targetHostId === 'dr-cheap')).toEqual([]);
    expect(drained.unorderedTargetMoves.filter((m) => m.targetHostId === 'dr-cheap')).toEqual([]);
    expect(drained.migrations).toEqual([]);
    expect(drained.standbyHostIds).not.toContain('dr-cheap');
  });
});
