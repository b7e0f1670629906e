/**
 * What telemetry does to decisions, end to end over gRPC: staleness and
 * allow_stale, a never-reported host, the caller's own allocation view, and
 * the exact counts of a large stream with many bad samples.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as pb from '../../src/gen/wattplace/v1/wattplace';
import { MAX_LISTED_ERRORS } from '../../src/api/grpc';
import { pbHost, sample, workload } from '../fixtures/clusters';
import { startTestServer, type TestServer } from '../helpers/grpc';

let t: TestServer;
beforeAll(async () => {
  // staleness bound 60 s (default); hosts: linear 100–200 W, 8 000 m
  t = await startTestServer();
  await t.rpc.registerHosts({ hosts: [pbHost('v-fresh', { cpu: 8000, memGiB: 32 }), pbHost('v-stale', { cpu: 8000, memGiB: 32 }), pbHost('v-never', { cpu: 8000, memGiB: 32 })] });
  const r = await t.rpc.report({ samples: [sample('v-fresh', new Date(Date.now() - 1_000), 0.5), sample('v-stale', new Date(Date.now() - 120_000), 0.1)] });
  expect(r.accepted).toBe(2);
});
afterAll(() => t.close());

describe('telemetry in decisions', () => {
  it('a host whose last sample is older than the bound is rejected as stale; a never-reported host is not', async () => {
    const e = await t.rpc.evaluate({ workload: workload('w', 1000) });
    expect(e.feasible.map((f) => f.hostId).sort()).toEqual(['v-fresh', 'v-never']);
    expect(e.rejected).toHaveLength(1);
    expect(e.rejected[0].hostId).toBe('v-stale');
    expect(e.rejected[0].reason).toMatch(/^stale telemetry: last sample 1[23]\d\.\d s ago, bound 60\.0 s$/);
  });

  it('allow_stale admits the stale host', async () => {
    const e = await t.rpc.evaluate({ workload: workload('w', 1000), allowStale: true });
    expect(e.feasible.map((f) => f.hostId).sort()).toEqual(['v-fresh', 'v-never', 'v-stale']);
    expect(e.rejected).toEqual([]);
  });

  it('the caller’s allocation view drives feasibility (allocated view of the ceiling) without changing the power estimate', async () => {
    // v-never with the caller saying 5 000 m are allocated: (5000 + 2000)/8000 = 0.875 > 0.8 → rejected;
    // with 4 000 m: 6000/8000 = 0.75 → feasible, ΔP on linear 100–200 W = 100 · 2000/8000 = 25 W.
    const over = await t.rpc.evaluate({ workload: workload('w', 2000), candidates: [{ hostId: 'v-never', allocated: { cpuMillis: 5000n, memBytes: 0n } }] });
    expect(over.rejected).toEqual([{ hostId: 'v-never', reason: 'cpu utilization after placement 0.875 would exceed the ceiling 0.8' }]);
    const fits = await t.rpc.evaluate({ workload: workload('w', 2000), candidates: [{ hostId: 'v-never', allocated: { cpuMillis: 4000n, memBytes: 0n } }] });
    expect(fits.feasible.map((f) => [f.hostId, f.marginalWatts])).toEqual([['v-never', 25]]);
    // and a candidate's own allocation ratio: 2 → (5000 + 2000)/16000 = 0.4375
    const ratio = await t.rpc.evaluate({
      workload: workload('w', 2000),
      candidates: [{ hostId: 'v-never', allocated: { cpuMillis: 5000n, memBytes: 0n }, cpuAllocationRatio: 2 }],
    });
    expect(ratio.feasible.map((f) => f.hostId)).toEqual(['v-never']);
  });

  it('measured utilization binds when the host is busier than its allocation says', async () => {
    // v-fresh measures 0.5 with nothing allocated: 0.5 + 2800/8000 = 0.85 > 0.8
    const e = await t.rpc.evaluate({ workload: workload('w', 2800), candidates: [{ hostId: 'v-fresh' }] });
    expect(e.rejected).toEqual([{ hostId: 'v-fresh', reason: 'cpu utilization after placement 0.850 would exceed the ceiling 0.8' }]);
  });

  it(`a stream with 3 000 bad samples counts them all exactly and lists the first ${MAX_LISTED_ERRORS}`, async () => {
    await t.rpc.registerHosts({ hosts: [pbHost('v-stream', { cpu: 8000, memGiB: 32 })] });
    const base = Date.now() - 30_000;
    const r = await new Promise<pb.ReportResponse>((resolve, reject) => {
      const s = t.telemetry.streamReport((e, res) => (e ? reject(e) : resolve(res)));
      for (let i = 0; i < 5_000; i++) {
        // every 5 samples: 3 with util 2 (bad), 2 good → 3 000 bad, 2 000 good
        const bad = i % 5 < 3;
        s.write(sample('v-stream', new Date(base + i), bad ? 2 : 0.3));
      }
      s.end();
    });
    expect([r.accepted, r.rejected]).toEqual([2_000, 3_000]);
    expect(r.errors).toHaveLength(MAX_LISTED_ERRORS);
    expect(r.errors[0]).toMatchObject({ index: 0, field: 'samples[0].cpu_util', reason: 'must be within 0–1, got 2' });
    expect(r.errors[3].index).toBe(5); // indices 0, 1, 2, 5, 6, 7, …
  });
});
