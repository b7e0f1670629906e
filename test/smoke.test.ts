import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/grpc';

describe('smoke', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.close());
  it('registers and places', async () => {
    await t.rpc.registerHosts({
      hosts: [
        { id: 'a', capacity: { cpuMillis: 8000n, memBytes: 1n << 34n }, power: { model: { $case: 'linear', linear: { idleWatts: 100, maxWatts: 200 } } } },
        { id: 'b', capacity: { cpuMillis: 8000n, memBytes: 1n << 34n }, power: { model: { $case: 'linear', linear: { idleWatts: 50, maxWatts: 300 } } } },
      ],
    });
    const r = await t.rpc.place({ workload: { id: 'w', demand: { cpuMillis: 1000n, memBytes: 1n << 30n } } });
    expect(r.hostId).toBe('a');
    expect(r.marginalWatts).toBeCloseTo(12.5);
    const e = await t.rpc.evaluate({ workload: { id: 'w', demand: { cpuMillis: 1000n, memBytes: 1n << 30n } } });
    expect(e.feasible.map((f) => f.hostId)).toEqual(['a', 'b']);
  });
});
