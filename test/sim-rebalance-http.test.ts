import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PowerState, cpuMillis, epochMs, memBytes, watts, type HostSpec } from '../src/domain';
import { cloudScenario } from '../src/solver/fixtures';
import { startTestServer, type TestServer } from './helpers/grpc';
import { loadConfig } from '../src/config';

/**
 * The service runs the simulator's per-interval consolidation (forecast.ts +
 * rebalance.ts) on its registered hosts: POST /v1/rebalance. Besides measured
 * demand it keeps every host within its allocation limits at every step
 * (cpuCeiling × capacity × cpuAllocationRatio for CPU, capacity ×
 * memAllocationRatio for memory, defaults 0.8 and 1 and 1), the moving workload
 * counted on its target while it moves.
 */
const MiB = 1024 * 1024;
const host = (id: string, state = PowerState.ON): HostSpec => ({
  id,
  site: 'default',
  capacity: { cpuMillis: cpuMillis(5320), memBytes: memBytes(4096 * MiB) },
  power: { kind: 'table', watts: [93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133, 135], standbyWatts: 0 },
  state,
  labels: {},
});

async function post(t: TestServer, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await fetch(`http://${t.server.httpAddress}/v1/rebalance`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
}

type Move = { workloadId: string; sourceHostId: string; targetHostId: string };


/** The drain-when-room scenario: a 1000, b 2000, c 1500 millicores, flat histories, 1000 m / 512 MiB allocated each. */
const DRAIN_WHEN_ROOM = (() => {
  const alloc = { cpuMillis: 1000, memBytes: 512 * MiB };
  return [
    { workloadId: 'w1', hostId: 'a', cpuHistory: [1000, 1000, 1000], ...alloc },
    { workloadId: 'w2', hostId: 'b', cpuHistory: [2000, 2000, 2000], ...alloc },
    { workloadId: 'w3', hostId: 'c', cpuHistory: [1500, 1500, 1500], ...alloc },
  ];
})();
describe('POST /v1/rebalance', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
    t.server.core.registerHosts([host('a'), host('b'), host('c'), host('m', PowerState.MAINTENANCE)]);
  });
  afterAll(async () => t?.close());

  it('drain-when-room: empties the least utilized hosts into the roomiest running one, never into MAINTENANCE', async () => {
    // flat histories: forecast = demand, s² = (2 % of it)² + (5 % of the 1000 m allocation)². a 1000, b 2000,
    // c 1500 (of 5320 each). drainZ = 1.3 × 2.5337 = 3.294 (the controller after this call's quiet interval:
    // 2.5758 − 1.01/24). a → roomiest of b/c = c; then b → c:
    //   4500 + 3.294·√(20² + 40² + 30² + 3 × 50²) = 4500 + 3.294 × 102.0 = 4836 ≤ 5320.
    // Allocations 1000 m and 512 MiB each: c ends with 3000 m ≤ 0.8 × 5320 = 4256 m and 1536 MiB ≤ 4096 MiB.
    const r = await post(t, { running: DRAIN_WHEN_ROOM });
    expect(r.status).toBe(200);
    expect(r.json.migrations).toEqual([
      { workloadId: 'w1', sourceHostId: 'a', targetHostId: 'c' },
      { workloadId: 'w2', sourceHostId: 'b', targetHostId: 'c' },
    ]);
    expect(r.json.drainedHostIds).toEqual(['a', 'b']);
  });

  it('overload relief: the cheapest workload that alone makes the host safe moves', async () => {
    // a holds 3000 + 2000 + 600 = 5600 > 5320 m. One sample each: s² = (2 % of demand)² + (5 % of the
    // allocation)²: big 60² + 150² = 26100, mid 40² + 100² = 11600, small 12² + 50² = 2644, and small's
    // 1 vCPU is a limit (room 400 m): 2644·400² / (400² + 3²·2644) = 2301.7. Margin z ≈ 2.53 (the
    // service's controller, a little below Φ⁻¹(0.995) = 2.576 after the quiet interval above).
    // Without small: 5000 + 2.53·√(26100 + 11600) = 5491 > 5320, not enough; without mid:
    // 3600 + 2.53·√(26100 + 2301.7) = 4026, cost memory × demand 1740 × 2000, less than big's 1740 × 3000.
    const r = await post(t, {
      running: [
        { workloadId: 'big', hostId: 'a', cpuHistory: [3000], cpuMillis: 3000, memBytes: 1740 },
        { workloadId: 'mid', hostId: 'a', cpuHistory: [2000], cpuMillis: 2000, memBytes: 1740 },
        { workloadId: 'small', hostId: 'a', cpuHistory: [600], vcpus: 1, memBytes: 613 },
        { workloadId: 'other', hostId: 'b', cpuHistory: [1000], vcpus: 1, memBytes: 870 },
      ],
      maxMigrations: 1,
    });
    expect(r.status).toBe(200);
    expect(r.json.migrations).toEqual([{ workloadId: 'mid', sourceHostId: 'a', targetHostId: 'b' }]);
  });

  it.each([
    // a holds w0 2900 + w1 2000 + w2 600 = 5500 > 5320 m; z 2.5 given. One sample each:
    // s² = (2 % of demand)² + (5 % of the allocation)²: w0 58² + 150² = 25864, w1 40² + 100² = 11600,
    // w2 12² + 50² = 2644. Moving w2 is cheapest (memory × demand 613 × 600), then w1 (1740 × 2000).
    // w0 as a pod's request (cpuMillis 3000), no limit: without w2, 4900 + 2.5·√(25864 + 11600)
    //   = 4900 + 483.9 = 5383.9 > 5320, not enough; without w1, 3500 + 2.5·√(25864 + 2644) = 3922: w1 moves.
    // w0 as a 3-vCPU server, a limit of 3000 m (room 100): 25864·100² / (100² + 3²·25864) = 1065.3;
    //   without w2, 4900 + 2.5·√(1065.3 + 11600) = 4900 + 281.3 = 5181.3 ≤ 5320: w2 moves.
    ['a pod request is no limit', { cpuMillis: 3000 }, 'w1'],
    ['a server flavor caps the spread by the room to rise', { vcpus: 3 }, 'w2'],
  ])('overload relief, %s', async (_name, alloc, moved) => {
    const r = await post(t, {
      running: [
        { workloadId: 'w0', hostId: 'a', cpuHistory: [2900], ...alloc, memBytes: 1740 },
        { workloadId: 'w1', hostId: 'a', cpuHistory: [2000], cpuMillis: 2000, memBytes: 1740 },
        { workloadId: 'w2', hostId: 'a', cpuHistory: [600], cpuMillis: 1000, memBytes: 613 },
        { workloadId: 'other', hostId: 'b', cpuHistory: [1000], vcpus: 1, memBytes: 870 },
      ],
      z: 2.5,
      maxMigrations: 1,
    });
    expect(r.status).toBe(200);
    expect(r.json.migrations).toEqual([{ workloadId: moved, sourceHostId: 'a', targetHostId: 'b' }]);
  });

  it.each([
    [{ running: 'x' }, 'running'],
    [{ running: [{ workloadId: 'w', hostId: 'zz', cpuHistory: [1], cpuMillis: 1, memBytes: 1 }] }, 'running[0].hostId'],
    [{ running: [{ workloadId: 'w', hostId: 'a', cpuHistory: [], cpuMillis: 1, memBytes: 1 }] }, 'running[0].cpuHistory'],
    [{ running: [{ workloadId: 'w', hostId: 'a', cpuHistory: [1, -2], cpuMillis: 1, memBytes: 1 }] }, 'running[0].cpuHistory[1]'],
    [
      {
        running: [
          { workloadId: 'w', hostId: 'a', cpuHistory: [1], cpuMillis: 1, memBytes: 1 },
          { workloadId: 'w', hostId: 'b', cpuHistory: [1], cpuMillis: 1, memBytes: 1 },
        ],
      },
      'running[1].workloadId',
    ],
    [{ running: [], z: -1 }, 'z'],
    // allocations are required: without them the plan cannot keep hosts within their allocation limits
    [{ running: [{ workloadId: 'w', hostId: 'a', cpuHistory: [1], cpuMillis: 1 }] }, 'running[0].memBytes'],
    [{ running: [{ workloadId: 'w', hostId: 'a', cpuHistory: [1], memBytes: 1 }] }, 'running[0].cpuMillis'],
    [{ running: [{ workloadId: 'w', hostId: 'a', cpuHistory: [1], cpuMillis: 1, vcpus: 1, memBytes: 1 }] }, 'running[0].vcpus'],
    [{ running: [{ workloadId: 'w', hostId: 'a', cpuHistory: [1], vcpus: -1, memBytes: 1 }] }, 'running[0].vcpus'],
    [{ running: [{ workloadId: 'w', hostId: 'a', cpuHistory: [1], cpuMillis: 1, memBytes: 'x' }] }, 'running[0].memBytes'],
  ])('bad input is a 400 naming the field (%j)', async (body, field) => {
    const r = await post(t, body);
    expect(r.status).toBe(400);
    expect(r.json.field).toBe(field);
  });
});

describe('POST /v1/rebalance keeps allocations within the limits', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
    t.server.core.registerHosts([host('a'), host('b'), host('c')]);
  });
  afterAll(async () => t?.close());

  // Workloads that use little of what they were given: measured demand alone would pack all
  // five onto one host (5 × 200 m ≪ 5320 m), which over-commits its allocation.
  const five = (allocCpu: number, mem: number) =>
    [
      ['w1', 'a'],
      ['w2', 'a'],
      ['w3', 'b'],
      ['w4', 'b'],
      ['w5', 'c'],
    ].map(([workloadId, hostId]) => ({ workloadId, hostId, cpuHistory: [200, 200, 200], cpuMillis: allocCpu, memBytes: mem }));

  it.each([
    {
      name: 'cpu allocation binds',
      // limit 0.8 × 5320 × 1 = 4256 m: three of 1400 m fit (4200), four do not (5600).
      // c (least loaded) drains into a: a = 4200 m. b cannot go anywhere: a + 1400 > 4256, c is drained.
      running: five(1400, 100 * MiB),
      moves: [{ workloadId: 'w5', sourceHostId: 'c', targetHostId: 'a' }],
    },
    {
      name: 'memory allocation binds',
      // memory 4096 MiB × ratio 1: two of 1500 MiB fit (3000), three do not (4500): nothing can move.
      running: five(100, 1500 * MiB),
      moves: [],
    },
    {
      name: 'nothing binds',
      // 500 m and 500 MiB each: c → a, then b's two → a (a ends with 2500 m, 2500 MiB).
      running: five(500, 500 * MiB),
      moves: [
        { workloadId: 'w5', sourceHostId: 'c', targetHostId: 'a' },
        { workloadId: 'w3', sourceHostId: 'b', targetHostId: 'a' },
        { workloadId: 'w4', sourceHostId: 'b', targetHostId: 'a' },
      ],
    },
  ])('$name', async ({ running, moves }) => {
    const r = await post(t, { running });
    expect(r.status).toBe(200);
    expect(r.json.migrations).toEqual(moves);
  });

  it('counts allocations the orchestrator reports beyond the listed workloads', async () => {
    // a reports 2800 m allocated, of which the listed w1, w2 are 2 × 500 m: 1800 m belong to
    // workloads not in the request. a's room: 4256 − 1800 = 2456 m for listed allocations,
    // so after w1 + w2 (1000) it takes two more of 500 m (2000 ≤ 2456), not three (2500).
    // Hosts b and c report exactly their listed allocations.
    const now = Date.now();
    const rep = (hostId: string, cpu: number, mem: number) => ({
      hostId,
      time: epochMs(now - 1000),
      watts: watts(100),
      cpuUtil: 0.1,
      memUtil: 0.1,
      allocated: { cpuMillis: cpuMillis(cpu), memBytes: memBytes(mem) },
    });
    t.server.core.report([rep('a', 2800, 1000 * MiB), rep('b', 1000, 1000 * MiB), rep('c', 500, 500 * MiB)]);
    const r = await post(t, { running: five(500, 500 * MiB) });
    expect(r.status).toBe(200);
    // c's w5 → a (a: 1500 listed), then b's w3 → a (2000), w4 does not fit on a (2500 > 2456)
    // and c is drained, so b is not drained and its move is undone.
    expect(r.json.migrations).toEqual([{ workloadId: 'w5', sourceHostId: 'c', targetHostId: 'a' }]);
  });
});

describe('POST /v1/rebalance on the issue-12 cloud (30 hosts, 180 VMs)', () => {
  let t: TestServer;
  const cloud = cloudScenario(30, 180, 5);
  beforeAll(async () => {
    t = await startTestServer();
    const GiB = 2 ** 30;
    t.server.core.registerHosts(
      cloud.hosts.map((h) => ({
        id: h.id,
        site: 'default',
        capacity: { cpuMillis: cpuMillis(h.vcpus * 1000), memBytes: memBytes(h.memGiB * GiB) },
        power: h.power,
        state: PowerState.ON,
        labels: {},
      })),
    );
  });
  afterAll(async () => t?.close());

  it('never puts a host above capacity × ratio, or its target above the ceiling, at any step', async () => {
    const GiB = 2 ** 30;
    const running = cloud.vms.map((v) => ({
      workloadId: v.id,
      hostId: cloud.hosts[v.host].id,
      cpuHistory: [v.util * v.vcpus * 1000, v.util * v.vcpus * 1000],
      vcpus: v.vcpus,
      memBytes: v.memGiB * GiB,
    }));
    const r = await post(t, { running });
    expect(r.status).toBe(200);
    const moves = r.json.migrations as Move[];
    expect(moves.length).toBeGreaterThan(0);
    // replay: a moving VM counts on both hosts until its step is done
    const idx = new Map(cloud.hosts.map((h, i) => [h.id, i]));
    const cpu = new Float64Array(cloud.hosts.length);
    const mem = new Float64Array(cloud.hosts.length);
    const where = new Map(cloud.vms.map((v) => [v.id, v.host]));
    const vm = new Map(cloud.vms.map((v) => [v.id, v]));
    for (const v of cloud.vms) {
      cpu[v.host] += v.vcpus;
      mem[v.host] += v.memGiB;
    }
    for (const m of moves) {
      const v = vm.get(m.workloadId)!;
      const s = idx.get(m.sourceHostId)!;
      const d = idx.get(m.targetHostId)!;
      expect(where.get(v.id)).toBe(s);
      cpu[d] += v.vcpus;
      mem[d] += v.memGiB;
      expect(cpu[d]).toBeLessThanOrEqual(0.8 * cloud.hosts[d].vcpus + 1e-9);
      expect(mem[d]).toBeLessThanOrEqual(cloud.hosts[d].memGiB);
      cpu[s] -= v.vcpus;
      mem[s] -= v.memGiB;
      where.set(v.id, d);
    }
    for (let h = 0; h < cloud.hosts.length; h++) {
      expect(cpu[h]).toBeLessThanOrEqual(cloud.hosts[h].vcpus);
      expect(mem[h]).toBeLessThanOrEqual(cloud.hosts[h].memGiB);
    }
  });
});

describe('POST /v1/rebalance holds the service’s overloadTarget', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ overloadTarget: 0.02 });
    t.server.core.registerHosts([host('a'), host('b')]);
  });
  afterAll(async () => t?.close());

  it('starts at Φ⁻¹(1 − 0.02) = 2.054; an overloaded interval raises the margins, expert z overrides one call', async () => {
    const alloc = { cpuMillis: 1000, memBytes: 512 * MiB };
    const calm = await post(t, {
      running: [
        { workloadId: 'w1', hostId: 'a', cpuHistory: [1000, 1000], ...alloc },
        { workloadId: 'w2', hostId: 'b', cpuHistory: [1000, 1000], ...alloc },
      ],
    });
    expect(calm.status).toBe(200);
    expect(calm.json.overloadTarget).toBe(0.02);
    // no overload on 2 active hosts: debt −(0.02 × 2) / (0.02 × 2 × 24) = −1/24, offset 0.01 × that
    const z0 = (calm.json.margins as { z: number }).z;
    expect(z0).toBeCloseTo(2.0537 - 1.01 / 24, 4);
    // host a: 5000 → 6000 on 5320: over for (6000 − 5320) / (320 + 680) = 0.68 of the interval
    const hot = await post(t, {
      running: [
        { workloadId: 'w1', hostId: 'a', cpuHistory: [3000, 3000, 3500], ...alloc },
        { workloadId: 'w3', hostId: 'a', cpuHistory: [2000, 2000, 2500], ...alloc },
        { workloadId: 'w2', hostId: 'b', cpuHistory: [1000, 1000, 1000], ...alloc },
      ],
    });
    const m = hot.json.margins as { z: number; drainZ: number; openZ: number };
    // debt + (0.68 − 0.04) / 0.96 = +0.667, now 0.625; the offset adds 0.01 × 0.625
    expect(m.z).toBeCloseTo(z0 + 0.64 / 0.96 + 0.01 * (0.64 / 0.96 - 1 / 24), 4);
    expect(m.drainZ).toBeCloseTo(1.3 * m.z, 9);
    expect(hot.json.observedOverload).toBeCloseTo(0.68 / 4, 9);
    // measured 6000 > 5320 on a: relieved now, though the forecast lags
    expect((hot.json.migrations as Move[]).some((x) => x.sourceHostId === 'a')).toBe(true);
    const expert = await post(t, { running: [{ workloadId: 'w2', hostId: 'b', cpuHistory: [1000, 1000], ...alloc }], z: 1, drainZ: 2, openZ: 0 });
    expect(expert.json.margins).toEqual({ z: 1, drainZ: 2, openZ: 0 });
  });

  it('a retried interval (same intervalEnd) is planned but not counted twice; a later one is counted', async () => {
    const alloc = { cpuMillis: 1000, memBytes: 512 * MiB };
    // host a: 5000 → 6000 on 5320, over 0.68 of the interval (as above); b calm
    const hotBody = (end: number) => ({
      intervalEnd: end,
      running: [
        { workloadId: 'w1', hostId: 'a', cpuHistory: [3000, 3500], ...alloc },
        { workloadId: 'w3', hostId: 'a', cpuHistory: [2000, 2500], ...alloc },
        { workloadId: 'w2', hostId: 'b', cpuHistory: [1000, 1000], ...alloc },
      ],
    });
    const end = Date.now() - 600_000; // two intervals ago: the next one (end + 300 s) is still in the past
    const first = await post(t, hotBody(end));
    expect(first.status).toBe(200);
    expect(first.json.observed).toBe(true);
    const z1 = (first.json.margins as { z: number }).z;
    const rate1 = first.json.observedOverload as number;
    // the client timed out and resends: same plan inputs, same margins, nothing counted
    for (const retry of [end, end - 300_000]) {
      const again = await post(t, hotBody(retry));
      expect(again.status).toBe(200);
      expect(again.json.observed).toBe(false);
      expect((again.json.margins as { z: number }).z).toBe(z1);
      expect(again.json.observedOverload).toBe(rate1);
      expect(again.json.migrations).toEqual(first.json.migrations);
    }
    // the next interval is hot again: counted, so the margin rises by another (0.68 − 0.04) / 0.96 at least
    const next = await post(t, hotBody(end + 300_000));
    expect(next.json.observed).toBe(true);
    expect((next.json.margins as { z: number }).z).toBeGreaterThan(z1 + 0.6);
  });

  it.each([
    ['a fraction', 1.5, /whole epoch milliseconds/],
    ['negative', -1, /≥ 0/],
    ['a string', '2026-12-07T12:00:00Z', /finite number/],
    ['an hour ahead of the service clock', Date.now() + 3_600_000, /ahead of the service clock/],
  ])('intervalEnd %s is a 400 naming the field, and nothing is counted', async (_name, value, why) => {
    const before = await post(t, { running: [{ workloadId: 'w2', hostId: 'b', cpuHistory: [1000, 1000], cpuMillis: 1000, memBytes: 512 * MiB }], intervalEnd: 0 });
    const r = await post(t, { running: [{ workloadId: 'w2', hostId: 'b', cpuHistory: [9000, 9000], cpuMillis: 1000, memBytes: 512 * MiB }], intervalEnd: value });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.json)).toMatch(/intervalEnd/);
    expect(JSON.stringify(r.json)).toMatch(why);
    const after = await post(t, { running: [{ workloadId: 'w2', hostId: 'b', cpuHistory: [1000, 1000], cpuMillis: 1000, memBytes: 512 * MiB }], intervalEnd: 0 });
    expect(after.json.observed).toBe(false);
    expect(after.json.margins).toEqual(before.json.margins);
  });

  it('a bad overloadTarget stops start-up naming the key', () => {
    expect(() => loadConfig({ env: { WATTPLACE_OVERLOAD_TARGET: '0.7' } })).toThrow(/overloadTarget/);
    expect(loadConfig({ flags: { overloadTarget: '0.002' } }).overloadTarget).toBe(0.002);
    expect(loadConfig({}).overloadTarget).toBe(0.005);
  });
});

describe('the rebalance controller on /metrics', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ overloadTarget: 0.01 });
    t.server.core.registerHosts([host('a'), host('b')]);
  });
  afterAll(async () => t?.close());

  /** Value of one series in the Prometheus text, NaN when absent. */
  async function scrape(): Promise<(series: string) => number> {
    const text = await (await fetch(`http://${t.server.httpAddress}/metrics`)).text();
    return (series) => {
      const line = text.split('\n').find((l) => l.startsWith(series + ' '));
      return line ? Number(line.slice(series.length + 1)) : NaN;
    };
  }

  it('shows the target, the observed share, the margins the next plan uses and the counted / resent calls', async () => {
    const before = await scrape();
    expect(before('wattplace_overload_target')).toBe(0.01);
    expect(before('wattplace_overload_observed_ratio')).toBe(0);
    // start: Φ⁻¹(1 − 0.01) = 2.3263
    expect(before('wattplace_overload_margin{margin="z"}')).toBeCloseTo(2.3263, 4);
    const alloc = { cpuMillis: 1000, memBytes: 512 * MiB };
    // a: 5000 → 6000 on 5320, over 0.68 of the interval; b calm: 0.68 of 2 host-intervals = 0.34
    const body = {
      intervalEnd: Date.now() - 300_000,
      running: [
        { workloadId: 'w1', hostId: 'a', cpuHistory: [3000, 3500], ...alloc },
        { workloadId: 'w3', hostId: 'a', cpuHistory: [2000, 2500], ...alloc },
        { workloadId: 'w2', hostId: 'b', cpuHistory: [1000, 1000], ...alloc },
      ],
    };
    const first = await post(t, body);
    await post(t, body); // a resend
    const m = first.json.margins as { z: number; drainZ: number; openZ: number };
    const after = await scrape();
    expect(after('wattplace_overload_observed_ratio')).toBeCloseTo(0.34, 9);
    expect(after('wattplace_overload_margin{margin="z"}')).toBeCloseTo(m.z, 9);
    expect(after('wattplace_overload_margin{margin="drainZ"}')).toBeCloseTo(m.drainZ, 9);
    expect(after('wattplace_overload_margin{margin="openZ"}')).toBeCloseTo(m.openZ, 9);
    expect(after('wattplace_overload_intervals_total{counted="true"}')).toBe(1);
    expect(after('wattplace_overload_intervals_total{counted="false"}')).toBe(1);
  });
});

describe('POST /v1/rebalance with a host draining for standby', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
    t.server.core.registerHosts([host('a'), host('b'), host('c')]);
    t.server.core.setDraining('c', true);
  });
  afterAll(async () => t?.close());

  it('never moves a workload onto the draining host; the draining host’s workloads may leave', async () => {
    // The drain-when-room scenario above, where c (the roomiest after a) received both workloads.
    const r = await post(t, { running: DRAIN_WHEN_ROOM });
    expect(r.status).toBe(200);
    // c takes nothing, but its workload may leave: both a and c drain into b.
    // b ends with 1000 + 2000 + 1500 = 4500 m + drainZ · √(20² + 40² + 30² + 3 × 50²) = 4500 + 3.294 · 102.0 ≈ 4836 ≤ 5320,
    // allocations 3000 m ≤ 0.8 × 5320 = 4256 m and 1536 MiB ≤ 4096 MiB.
    expect(r.json.migrations).toEqual([
      { workloadId: 'w1', sourceHostId: 'a', targetHostId: 'b' },
      { workloadId: 'w3', sourceHostId: 'c', targetHostId: 'b' },
    ]);
    expect(r.json.drainedHostIds).toEqual(['a', 'c']);
  });
});
