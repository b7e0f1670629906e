import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PowerState, cpuMillis, memBytes, type HostSpec } from '../src/domain';
import { startTestServer, type TestServer } from './helpers/grpc';

/**
 * The service runs the simulator's per-interval consolidation (forecast.ts +
 * rebalance.ts) on its registered hosts: POST /v1/rebalance.
 */
let t: TestServer;
const host = (id: string, state = PowerState.ON): HostSpec => ({
  id,
  site: 'default',
  capacity: { cpuMillis: cpuMillis(5320), memBytes: memBytes(4096 * 1024 * 1024) },
  power: { kind: 'table', watts: [93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133, 135], standbyWatts: 0 },
  state,
  labels: {},
});

beforeAll(async () => {
  t = await startTestServer();
  t.server.core.registerHosts([host('a'), host('b'), host('c'), host('m', PowerState.MAINTENANCE)]);
});
afterAll(async () => t?.close());

async function post(body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await fetch(`http://${t.server.httpAddress}/v1/rebalance`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
}

describe('POST /v1/rebalance', () => {
  it('drain-when-room: empties the least utilized hosts into the roomiest running one, never into MAINTENANCE', async () => {
    // flat histories: forecast = demand, σ = 2 % of it. a 1000, b 2000, c 1500 (of 5320 each).
    // a → roomiest of b/c = c; then b → c: 4500 + 1.0·√(20² + 40² + 30²) = 4554 ≤ 5320 (same as the simulator's test).
    const r = await post({
      running: [
        { workloadId: 'w1', hostId: 'a', cpuHistory: [1000, 1000, 1000] },
        { workloadId: 'w2', hostId: 'b', cpuHistory: [2000, 2000, 2000] },
        { workloadId: 'w3', hostId: 'c', cpuHistory: [1500, 1500, 1500] },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.json.migrations).toEqual([
      { workloadId: 'w1', sourceHostId: 'a', targetHostId: 'c' },
      { workloadId: 'w2', sourceHostId: 'b', targetHostId: 'c' },
    ]);
    expect(r.json.drainedHostIds).toEqual(['a', 'b']);
  });

  it('overload relief: the cheapest workload that alone makes the host safe moves', async () => {
    const r = await post({
      running: [
        { workloadId: 'big', hostId: 'a', cpuHistory: [3000], memBytes: 1740 },
        { workloadId: 'mid', hostId: 'a', cpuHistory: [2000], memBytes: 1740 },
        { workloadId: 'small', hostId: 'a', cpuHistory: [600], memBytes: 613 },
        { workloadId: 'other', hostId: 'b', cpuHistory: [1000], memBytes: 870 },
      ],
      maxMigrations: 1,
    });
    expect(r.status).toBe(200);
    expect(r.json.migrations).toEqual([{ workloadId: 'small', sourceHostId: 'a', targetHostId: 'b' }]);
  });

  it.each([
    [{ running: 'x' }, 'running'],
    [{ running: [{ workloadId: 'w', hostId: 'zz', cpuHistory: [1] }] }, 'running[0].hostId'],
    [{ running: [{ workloadId: 'w', hostId: 'a', cpuHistory: [] }] }, 'running[0].cpuHistory'],
    [{ running: [{ workloadId: 'w', hostId: 'a', cpuHistory: [1, -2] }] }, 'running[0].cpuHistory[1]'],
    [{ running: [{ workloadId: 'w', hostId: 'a', cpuHistory: [1] }, { workloadId: 'w', hostId: 'b', cpuHistory: [1] }] }, 'running[1].workloadId'],
    [{ running: [], z: -1 }, 'z'],
  ])('bad input is a 400 naming the field (%j)', async (body, field) => {
    const r = await post(body);
    expect(r.status).toBe(400);
    expect(r.json.field).toBe(field);
  });
});
