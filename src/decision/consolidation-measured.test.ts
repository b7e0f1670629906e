/**
 * PlanConsolidation checks the measured view at every step, not only the
 * allocated one: with CPU over-commit (allocation ratio 4), a host can have
 * allocation room and still be too hot, measured, to take a workload.
 * Over gRPC on loopback, with telemetry reported as an agent would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as pb from '../gen/wattplace/v1/wattplace';
import { startTestServer, type TestServer } from '../../test/helpers/grpc';

const GiB = 1n << 30n;
const host = (id: string): pb.Host => ({
  id,
  site: '',
  capacity: { cpuMillis: 8000n, memBytes: 32n * GiB },
  power: { model: { $case: 'linear', linear: { idleWatts: 100, maxWatts: 200 } }, standbyWatts: 5 },
  state: pb.PowerState.POWER_STATE_ON,
  labels: {},
});
const vm = (id: string, hostId: string): pb.RunningWorkload => ({ workload: { id, demand: { cpuMillis: 2000n, memBytes: 2n * GiB }, selector: {} }, hostId });

/**
 * Scenario "hot-hosts": three 8-core hosts, allocation ratio 4, ceiling 0.8, so the
 * allocated view has room everywhere (8 + 8 ≤ 0.8 × 8 × 4 = 25.6 vCPU) and only the
 * measured view limits. A host's measured CPU is split among its workloads by allocation:
 *   on-a: va (2 vCPU), measured 50 %  → 4,000 m, va's share 4,000 m
 *   on-b: b0..b3 (2 vCPU each), measured 75 % → 6,000 m, 1,500 m each
 *   on-c: c0..c3 (2 vCPU each), measured 25 % → 2,000 m, 500 m each
 * Limit per host, measured: 0.8 × 8,000 = 6,400 m. Replaying the plan with those shares
 * (a moving workload on both hosts until it arrives), no host may pass 6,400 m.
 */
const SHARES: Record<string, number> = { va: 4000, b0: 1500, b1: 1500, b2: 1500, b3: 1500, c0: 500, c1: 500, c2: 500, c3: 500 };
const START: Record<string, number> = { 'on-a': 4000, 'on-b': 6000, 'on-c': 2000 };

describe('PlanConsolidation and the measured view', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ cpuAllocationRatio: 4 });
    await t.rpc.registerHosts({ hosts: ['on-a', 'on-b', 'on-c'].map(host) });
    const at = new Date(Date.now() - 1000);
    const sample = (hostId: string, cpuUtil: number, vcpus: number): pb.HostSample => ({
      hostId,
      time: at,
      watts: 100 + 100 * cpuUtil,
      cpuUtil,
      memUtil: 0.1,
      allocated: { cpuMillis: BigInt(vcpus * 1000), memBytes: BigInt(vcpus) * GiB },
    });
    // allocated as listed: 2 vCPU and 2 GiB per workload, nothing else on the hosts
    await t.rpc.report({ samples: [sample('on-a', 0.5, 2), sample('on-b', 0.75, 8), sample('on-c', 0.25, 8)] });
  });
  afterAll(() => t?.close());

  it('no step takes a host above the ceiling as measured, and the plan still frees a host', async () => {
    const running = [vm('va', 'on-a'), ...[0, 1, 2, 3].map((i) => vm(`b${i}`, 'on-b')), ...[0, 1, 2, 3].map((i) => vm(`c${i}`, 'on-c'))];
    const r = await t.rpc.planConsolidation({ running, timeBudgetMs: 500 });
    const measured = { ...START };
    for (const m of r.migrations) {
      measured[m.targetHostId] += SHARES[m.workloadId]; // on both hosts while it moves
      expect(measured[m.targetHostId], `${m.workloadId} → ${m.targetHostId}`).toBeLessThanOrEqual(6400);
      measured[m.sourceHostId] -= SHARES[m.workloadId];
    }
    expect(r.standbyHostIds.length).toBeGreaterThanOrEqual(1);
    // the same request twice: the same plan
    const again = await t.rpc.planConsolidation({ running, timeBudgetMs: 500 });
    expect(again.migrations).toEqual(r.migrations);
  });
});
