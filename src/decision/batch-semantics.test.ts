import { describe, expect, it } from 'vitest';
import { cpuMillis, epochMs, memBytes, PowerState, watts, type HostSpec, type Workload } from '../domain';
import { catalogSpec } from '../power';
import { rng } from '../solver/fixtures';
import { placeBatch } from './batch';
import { DEFAULT_CORE_CONFIG, Wattplace } from './wattplace';

const GiB = 2 ** 30;

/**
 * Scenario "live-cluster": 30 hosts of three kinds with telemetry (measured CPU
 * utilization and reported allocations), a few in STANDBY, one in MAINTENANCE,
 * one with stale telemetry; batches of 40 workloads, some with selectors.
 * PlaceBatch must use the hot path's rules: every workload it places on a host is
 * one that Evaluate, asked before the batch, calls feasible there; and after the
 * batch every host is within capacity and the ceiling on both views.
 */
function cluster(seed: number, now: number) {
  const r = rng(seed);
  const core = new Wattplace({ ...DEFAULT_CORE_CONFIG, snapshotRefreshMs: 0, cpuAllocationRatio: 1.5 }, () => now);
  const hosts: HostSpec[] = Array.from({ length: 30 }, (_, i) => ({
    id: `h${i}`,
    site: 'default',
    capacity: { cpuMillis: cpuMillis([8000, 24000, 64000][i % 3]), memBytes: memBytes([32, 96, 256][i % 3] * GiB) },
    power: i % 3 === 1 ? (catalogSpec('ibm-x3550-x5675', 8) as HostSpec['power']) : { kind: 'linear', idleWatts: [45, 0, 180][i % 3], maxWatts: [120, 0, 420][i % 3], standbyWatts: 5 },
    state: i === 7 ? PowerState.MAINTENANCE : i % 5 === 4 ? PowerState.STANDBY : PowerState.ON,
    labels: { zone: i % 2 ? 'a' : 'b' },
  }));
  core.registerHosts(hosts);
  core.report(
    hosts
      .filter((h) => h.state === PowerState.ON)
      .map((h, i) => {
        const alloc = Math.floor(r() * 0.6 * h.capacity.cpuMillis);
        return {
          hostId: h.id,
          time: epochMs(i === 3 ? now - 120_000 : now - 1000), // one stale host
          watts: watts(100),
          cpuUtil: Math.min(1, (alloc / h.capacity.cpuMillis) * (0.5 + r())),
          memUtil: 0.3,
          allocated: { cpuMillis: cpuMillis(alloc), memBytes: memBytes(Math.floor(r() * 0.5 * h.capacity.memBytes)) },
        };
      }),
  );
  core.collector.refresh();
  const ws: Workload[] = Array.from({ length: 40 }, (_, i): Workload => ({
    id: `w${i}`,
    demand: { cpuMillis: cpuMillis(250 * (1 + Math.floor(r() * 16))), memBytes: memBytes(GiB * (1 + Math.floor(r() * 16))) },
    selector: i % 4 === 0 ? { zone: 'a' } : {},
  }));
  return { core, ws };
}

describe('PlaceBatch uses the hot path semantics', () => {
  it.each([1, 2, 3])('live-cluster seed %i', async (seed) => {
    const now = 1_700_000_000_000;
    const { core, ws } = cluster(seed, now);
    const feasible = new Map(ws.map((w) => [w.id, new Set(core.engine.evaluate({ workload: w }).feasible.map((f) => f.hostId))]));
    const r = await placeBatch({ core }, ws, 800);
    expect(r.assignments.length + r.unplaced.length).toBe(ws.length);
    expect(r.assignments.length).toBeGreaterThan(0);
    for (const a of r.assignments) expect(feasible.get(a.workloadId)!.has(a.hostId)).toBe(true);
    // after the batch: capacity and ceiling on both views, as the Capacity and Ceiling filters compute them
    const s = core.collector.current();
    const cfg = core.config;
    for (let h = 0; h < s.size; h++) {
      const res = core.reservations.cpu[h];
      if (res === 0) continue;
      const cap = s.capCpu[h];
      expect(s.allocCpu[h] + res).toBeLessThanOrEqual(cap * cfg.cpuAllocationRatio + 1e-6);
      expect((s.allocCpu[h] + res) / (cap * cfg.cpuAllocationRatio)).toBeLessThanOrEqual(cfg.cpuCeiling + 1e-9);
      if (s.cpuUtil[h] === s.cpuUtil[h]) expect(s.cpuUtil[h] + res / cap).toBeLessThanOrEqual(cfg.cpuCeiling + 1e-9);
      expect(s.allocMem[h] + core.reservations.mem[h]).toBeLessThanOrEqual(s.capMem[h] * cfg.memAllocationRatio + 1e-6);
      expect(s.state[h]).not.toBe(PowerState.MAINTENANCE);
      expect(s.ids[h]).not.toBe('h3'); // stale
    }
    core.close();
  });
});

describe('size limits', () => {
  it('a batch over the pair limit is refused naming the field', async () => {
    const { core, ws } = cluster(1, 1_700_000_000_000);
    // 30 hosts × 40 workloads = 1200 pairs > 1000
    await expect(placeBatch({ core, limits: { maxPairs: 1000 } }, ws, 500)).rejects.toThrow(/^workloads: at most 1000 workload × host pairs per optimization: 40 workloads × 30 hosts; send at most 33 workloads$/);
    core.close();
  });
});
