import { describe, expect, it } from 'vitest';
import { cpuMillis, memBytes, NoFeasibleHostError, type Workload } from '../domain';
import { GiB, hostSpec, NOW_MS } from '../../test/fixtures/placement';
import { CapacityMisses } from './capacity-misses';
import { DEFAULT_CORE_CONFIG, Wattplace } from './wattplace';

describe('CapacityMisses ring', () => {
  // capacity 4; misses at t = 1..6 with cpu = 100·t, mem = t: the ring keeps t = 3..6
  const ring = () => {
    const r = new CapacityMisses(4);
    for (let t = 1; t <= 6; t++) r.record(t, 100 * t, t);
    return r;
  };
  it.each([
    // sinceMs  count  cpu                      mem              lastMs
    [0, 4, 300 + 400 + 500 + 600, 3 + 4 + 5 + 6, 6],
    [3, 4, 1800, 18, 6], // at or after: t = 3 counts
    [5, 2, 500 + 600, 5 + 6, 6],
    [6, 1, 600, 6, 6],
    [7, 0, 0, 0, null],
  ])('misses(%s) → count %s, cpu %s, mem %s, last %s', (since, count, cpu, mem, last) => {
    expect(ring().misses(since)).toEqual({ count, cpuMillis: cpu, memBytes: mem, lastMs: last });
  });

  it('counts every miss in total, also those the ring dropped; empty ring → zeros and null', () => {
    expect(ring().total).toBe(6);
    expect(new CapacityMisses().misses(-Infinity)).toEqual({ count: 0, cpuMillis: 0, memBytes: 0, lastMs: null });
    expect(new CapacityMisses().capacity).toBe(256);
    expect(() => new CapacityMisses(0)).toThrow();
  });

  it('a clock that stepped back: every kept entry is looked at, lastMs is the latest time', () => {
    const r = new CapacityMisses(8);
    r.record(10, 1, 1);
    r.record(5, 2, 2); // clock stepped back 5 ms
    expect(r.misses(6)).toEqual({ count: 1, cpuMillis: 1, memBytes: 1, lastMs: 10 });
    expect(r.misses(0)).toEqual({ count: 2, cpuMillis: 3, memBytes: 3, lastMs: 10 });
  });

  it('keeps only the latest 256 by default', () => {
    const r = new CapacityMisses();
    for (let t = 0; t < 1000; t++) r.record(t, 1, 0);
    // kept: t = 744..999
    expect(r.misses(0).count).toBe(256);
    expect(r.misses(0).lastMs).toBe(999);
    expect(r.misses(744).count).toBe(256);
    expect(r.misses(745).count).toBe(255);
  });
});

describe('DecisionEngine records capacity misses', () => {
  const wl = (id: string, cpu: number, memGiB = 1): Workload => ({ id, demand: { cpuMillis: cpuMillis(cpu), memBytes: memBytes(memGiB * GiB) }, selector: {} });

  it('Place without a feasible host and Evaluate / screen that examined hosts and found none; not successes or all-unknown candidates', () => {
    const clock = { now: NOW_MS };
    const wp = new Wattplace({ ...DEFAULT_CORE_CONFIG, cpuCeiling: 1 }, () => clock.now);
    // one 4 000 m host, 16 GiB
    wp.registerHosts([hostSpec('h', { capacity: { cpuMillis: cpuMillis(4000), memBytes: memBytes(16 * GiB) } })]);
    const m = wp.engine.capacityMisses;
    wp.engine.place({ workload: wl('fits', 3000) }); // success: 1 000 m left
    wp.engine.evaluate({ workload: wl('fits-too', 1000) }); // feasible
    expect(m.total).toBe(0);

    clock.now += 10;
    expect(() => wp.engine.place({ workload: wl('big', 2000, 2) })).toThrow(NoFeasibleHostError); // 2000 > 1000 free
    clock.now += 10;
    expect(wp.engine.evaluate({ workload: wl('big2', 1500, 3) }).feasible).toEqual([]);
    clock.now += 10;
    expect(wp.engine.screen({ workload: wl('big3', 1200, 4) }).count).toBe(0);
    // only unknown candidates: nothing examined, no miss
    expect(wp.engine.evaluate({ workload: wl('ghost', 1, 0), candidates: [{ hostId: 'ghost' }] }).examined).toBe(0);
    // draining hosts count too: the cluster has no host for it
    wp.setDraining('h', true);
    clock.now += 10;
    expect(() => wp.engine.place({ workload: wl('small', 1, 0) })).toThrow(NoFeasibleHostError);

    expect(m.total).toBe(4);
    // since t0 + 10: 2000 + 1500 + 1200 + 1 m; 2 + 3 + 4 + 0 GiB; the last at t0 + 40
    expect(m.misses(NOW_MS + 10)).toEqual({ count: 4, cpuMillis: 4701, memBytes: 9 * GiB, lastMs: NOW_MS + 40 });
    expect(m.misses(NOW_MS + 25)).toEqual({ count: 2, cpuMillis: 1201, memBytes: 4 * GiB, lastMs: NOW_MS + 40 });
  });
});
