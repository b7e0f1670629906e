/**
 * Malformed input over gRPC: INVALID_ARGUMENT naming the field for each class,
 * RESOURCE_EXHAUSTED when no host fits, NOT_FOUND for an unknown reservation.
 * Nothing is half-applied by a refused call.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as pb from '../../src/gen/wattplace/v1/wattplace';
import { GiB, pbHost, pbTable, sample, workload } from '../fixtures/clusters';
import { G4_WATTS } from '../fixtures/power';
import { failure, startTestServer, type TestServer } from '../helpers/grpc';

let t: TestServer;
const MAX_BATCH = 10; // a small batch limit so the limit test stays small
const MAX_CANDIDATES = 5;
beforeAll(async () => {
  t = await startTestServer({ maxBatch: MAX_BATCH, maxCandidates: MAX_CANDIDATES });
  await t.rpc.registerHosts({ hosts: [pbHost('e-a', { cpu: 8000, memGiB: 32 }), pbHost('e-b', { cpu: 4000, memGiB: 16 })] });
});
afterAll(() => t.close());

const g4With = (i: number, v: number) => G4_WATTS.map((w, j) => (j === i ? v : w));
const okHost = pbHost('e-new', { cpu: 8000, memGiB: 32 });

describe('INVALID_ARGUMENT names the field', () => {
  const cases: [string, () => Promise<unknown>, string][] = [
    ['Place without a workload', () => t.rpc.place({ candidates: [] }), 'workload: required'],
    ['Evaluate without a workload', () => t.rpc.evaluate({}), 'workload: required'],
    ['workload without a demand', () => t.rpc.place({ workload: { id: 'w' } }), 'workload.demand: required'],
    ['negative int64 cpu demand', () => t.rpc.place({ workload: { id: 'w', demand: { cpuMillis: -5n, memBytes: GiB } } }), 'workload.demand.cpu_millis: must be ≥ 0, got -5'],
    ['negative int64 memory demand', () => t.rpc.evaluate({ workload: { id: 'w', demand: { cpuMillis: 1n, memBytes: -1n } } }), 'workload.demand.mem_bytes: must be ≥ 0, got -1'],
    // 2^60 does not fit a JS safe integer (2^53 − 1): refused, not rounded
    ['int64 demand beyond 2^53', () => t.rpc.place({ workload: { id: 'w', demand: { cpuMillis: 1n, memBytes: 1n << 60n } } }), 'workload.demand.mem_bytes: too large: 1152921504606846976'],
    ['host with an empty id', () => t.rpc.registerHosts({ hosts: [okHost, { ...okHost, id: '' }] }), 'hosts[1].id: required'],
    ['host without capacity', () => t.rpc.registerHosts({ hosts: [{ ...okHost, capacity: undefined }] }), 'hosts[0].capacity: required'],
    ['host with zero CPU', () => t.rpc.registerHosts({ hosts: [{ ...okHost, capacity: { cpuMillis: 0n, memBytes: GiB } }] }), 'hosts[0].capacity.cpu_millis: must be > 0, got 0'],
    ['host without a power model', () => t.rpc.registerHosts({ hosts: [{ ...okHost, power: undefined }] }), 'hosts[0].power: required'],
    ['power model with no variant set', () => t.rpc.registerHosts({ hosts: [{ ...okHost, power: { standbyWatts: 0 } }] }), 'hosts[0].power.model: required'],
    ['table point below its predecessor', () => t.rpc.registerHosts({ hosts: [okHost, { ...okHost, id: 'e-new2', power: pbTable(g4With(3, 90)) }] }),
      'hosts[1].power.table.watts[3]: must not be below the previous point (92.6), got 90'],
    ['table with 10 points', () => t.rpc.registerHosts({ hosts: [{ ...okHost, power: pbTable(G4_WATTS.slice(0, 10)) }] }), 'hosts[0].power.table.watts: needs 11 points'],
    ['linear max below idle', () => t.rpc.registerHosts({ hosts: [{ ...okHost, power: { model: { $case: 'linear', linear: { idleWatts: 200, maxWatts: 100 } } } }] }),
      'hosts[0].power.linear.max_watts'],
    ['exponential falling with load', () => t.rpc.registerHosts({ hosts: [{ ...okHost, power: { model: { $case: 'exponential', exponential: { k0: 80, k1: 20, k2: -2 } } } }] }),
      'hosts[0].power.exponential.k2'],
    ['standby above idle', () => t.rpc.registerHosts({ hosts: [{ ...okHost, power: pbTable(G4_WATTS, 90) }] }), 'hosts[0].power.standby_watts'],
    ['unknown power state', () => t.rpc.registerHosts({ hosts: [{ ...okHost, state: 7 as pb.PowerState }] }), 'hosts[0].state: unknown power state 7'],
    ['duplicate host id in one request', () => t.rpc.registerHosts({ hosts: [okHost, pbHost('e-x', { cpu: 1, memGiB: 1 }), okHost] }),
      'hosts[2].id: duplicate host id "e-new" in one request'],
    ['no hosts at all', () => t.rpc.registerHosts({ hosts: [] }), 'hosts: at least one host is required'],
    ['more hosts than the batch limit', () => t.rpc.registerHosts({ hosts: Array.from({ length: MAX_BATCH + 1 }, (_, i) => pbHost(`e-many-${i}`, { cpu: 1000, memGiB: 1 })) }),
      `hosts: at most ${MAX_BATCH} hosts per call, got ${MAX_BATCH + 1}`],
    ['negative candidate ratio', () => t.rpc.evaluate({ workload: workload('w', 1), candidates: [{ hostId: 'e-a', cpuAllocationRatio: -1 }] }),
      'candidates[0].cpu_allocation_ratio: must be within 0–1000'],
    ['candidate ratio above 1000', () => t.rpc.place({ workload: workload('w', 1), candidates: [{ hostId: 'e-a' }, { hostId: 'e-b', memAllocationRatio: 1e6 }] }),
      'candidates[1].mem_allocation_ratio: must be within 0–1000'],
    ['candidate ratio NaN', () => t.rpc.evaluate({ workload: workload('w', 1), candidates: [{ hostId: 'e-a', cpuAllocationRatio: NaN }] }),
      'candidates[0].cpu_allocation_ratio: must be within 0–1000'],
    ['candidate with an empty host id', () => t.rpc.place({ workload: workload('w', 1), candidates: [{ hostId: '' }] }), 'candidates[0].host_id: required'],
    ['candidate allocation negative', () => t.rpc.place({ workload: workload('w', 1), candidates: [{ hostId: 'e-a', allocated: { cpuMillis: -1n, memBytes: 0n } }] }),
      'candidates[0].allocated.cpu_millis: must be ≥ 0, got -1'],
    ['more samples than the batch limit in one Report', () => t.rpc.report({ samples: Array.from({ length: MAX_BATCH + 1 }, (_, i) => sample('e-a', new Date(Date.now() - 60_000 + i), 0.1)) }),
      `samples: at most ${MAX_BATCH} samples per Report, got ${MAX_BATCH + 1}; split the batch`],
    ['more site carbon entries than the batch limit', () => t.rpc.report({ sites: Array.from({ length: MAX_BATCH + 1 }, (_, i) => ({ site: `s${i}`, time: new Date(), gramsCo2PerKwh: 1 })) }),
      `sites: at most ${MAX_BATCH} entries, got ${MAX_BATCH + 1}`],
    ['more candidates than allowed', () => t.rpc.evaluate({ workload: workload('w', 1), candidates: Array.from({ length: MAX_CANDIDATES + 1 }, (_, i) => ({ hostId: `c${i}` })) }),
      `candidates: at most ${MAX_CANDIDATES} candidates per request, got ${MAX_CANDIDATES + 1}`],
    ['Release without a reservation id', () => t.rpc.release({ reservationId: '' }), 'reservation_id: required'],
  ];
  it.each(cases)('%s', async (_name, fn, message) => {
    const e = await failure(fn());
    expect(e.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(e.details.startsWith(message)).toBe(true);
  });

  it('a refused call changes nothing: no host registered, no sample kept, nothing reserved', () => {
    const snap = t.server.core.collector.current();
    expect(snap.size).toBe(2);
    expect(snap.indexOf('e-new')).toBe(-1);
    expect(Number.isNaN(snap.lastSampleMs[snap.indexOf('e-a')])).toBe(true); // the over-limit Report kept nothing
    expect(t.server.core.reservations.size).toBe(0);
  });

  it('exactly the batch limit is accepted', async () => {
    const r = await t.rpc.report({ samples: Array.from({ length: MAX_BATCH }, (_, i) => sample('e-b', new Date(Date.now() - 5_000 + i), 0.1)) });
    expect(r.accepted).toBe(MAX_BATCH);
  });
});

describe('per-sample problems are not call errors: the sample is rejected with its field, the call succeeds', () => {
  it.each([
    ['no time', { time: undefined }, 'samples[0].time', 'required'],
    ['negative allocated cpu', { allocated: { cpuMillis: -1n, memBytes: 0n } }, 'samples[0].allocated.cpu_millis', 'must be a whole number ≥ 0, got -1'],
    ['allocated memory beyond 2^53', { allocated: { cpuMillis: 0n, memBytes: 1n << 60n } }, 'samples[0].allocated.mem_bytes', 'must be a whole number ≥ 0, got 1152921504606847000'],
    ['no host id', { hostId: '' }, 'samples[0].host_id', 'required'],
  ] as [string, Partial<pb.HostSample>, string, string][])('%s', async (_n, change, field, reason) => {
    const r = await t.rpc.report({ samples: [{ ...sample('e-a', new Date(Date.now() - 1000), 0.1), ...change }] });
    expect([r.accepted, r.rejected]).toEqual([0, 1]);
    expect(r.errors).toEqual([{ index: 0, hostId: change.hostId ?? 'e-a', field, reason }]);
  });
});

describe('RESOURCE_EXHAUSTED and NOT_FOUND', () => {
  it('Place with no feasible host: RESOURCE_EXHAUSTED with every rejection in the message', async () => {
    // e-a: 8 000 m, e-b: 4 000 m; 9 000 m fits neither.
    const e = await failure(t.rpc.place({ workload: workload('too-big', 9000) }));
    expect(e.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(e.details).toContain('no feasible host for workload "too-big"');
    expect(e.details).toContain('e-a: insufficient cpu: requested 9000m, free 8000m of 8000m');
    expect(e.details).toContain('e-b: insufficient cpu: requested 9000m, free 4000m of 4000m');
    expect(t.server.core.reservations.size).toBe(0);
  });

  it('Place among unknown candidates only: RESOURCE_EXHAUSTED naming them', async () => {
    const e = await failure(t.rpc.place({ workload: workload('w', 1), candidates: [{ hostId: 'ghost-1' }, { hostId: 'ghost-2' }] }));
    expect(e.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(e.details).toContain('ghost-1: unknown host: not registered with wattplace');
    expect(e.details).toContain('ghost-2: unknown host');
  });

  it('Release of an unknown reservation: NOT_FOUND; of a released one: NOT_FOUND too', async () => {
    const e1 = await failure(t.rpc.release({ reservationId: 'no-such-reservation' }));
    expect(e1.code).toBe(grpc.status.NOT_FOUND);
    expect(e1.details).toBe('reservation "no-such-reservation" not found');
    const p = await t.rpc.place({ workload: workload('w-nf', 1000) });
    await t.rpc.release({ reservationId: p.reservationId });
    const e2 = await failure(t.rpc.release({ reservationId: p.reservationId }));
    expect(e2.code).toBe(grpc.status.NOT_FOUND);
  });
});
