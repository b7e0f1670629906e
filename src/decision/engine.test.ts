import { describe, expect, it } from 'vitest';
import { cpuMillis, epochMs, memBytes, NoFeasibleHostError, PowerState, NotFoundError, ValidationError, watts, type Workload } from '../domain';
import { GiB, hostSpec, NOW_MS } from '../../test/fixtures/placement';
import { G4_WATTS, TABLE_G4_STANDBY_5, X3470_WATTS, X5670_WATTS } from '../../test/fixtures/power';
import { DEFAULT_CORE_CONFIG, Wattplace, type CoreConfig } from './wattplace';

/** A Wattplace on a hand-driven clock. */
function core(config: Partial<CoreConfig> = {}) {
  const clock = { now: NOW_MS };
  const wp = new Wattplace({ ...DEFAULT_CORE_CONFIG, ...config }, () => clock.now);
  return { wp, clock };
}
const wl = (id: string, cpu: number, memGiB = 1): Workload => ({ id, demand: { cpuMillis: cpuMillis(cpu), memBytes: memBytes(memGiB * GiB) }, selector: {} });
const allocReport = (hostId: string, t: number, cpu: number, memGiB: number) => ({
  hostId,
  time: epochMs(t),
  watts: watts(100),
  cpuUtil: 0.1,
  memUtil: 0.1,
  allocated: { cpuMillis: cpuMillis(cpu), memBytes: memBytes(memGiB * GiB) },
});

/**
 * One 4 000 m host, ceiling 1.0 so that capacity binds: two 2 000 m workloads
 * fit (4000 − 2000 − 2000 = 0), a third does not.
 */
describe('reservations through the decision engine', () => {
  it('Place reserves: the second placement sees the first one’s demand', () => {
    const { wp } = core({ cpuCeiling: 1 });
    wp.registerHosts([hostSpec('h', { capacity: { cpuMillis: cpuMillis(4000), memBytes: memBytes(16 * GiB) } })]);
    wp.engine.place({ workload: wl('w1', 2000) });
    wp.engine.place({ workload: wl('w2', 2000) });
    expect(() => wp.engine.place({ workload: wl('w3', 1) })).toThrow(NoFeasibleHostError);
    expect(() => wp.engine.place({ workload: wl('w3', 1) })).toThrow(/insufficient cpu: requested 1m, free 0m of 4000m \(allocated 0m, reserved 4000m\)/);
    // Evaluate reserves nothing
    const before = wp.reservations.size;
    wp.engine.evaluate({ workload: wl('e', 0) });
    expect(wp.reservations.size).toBe(before);
  });

  it('Release frees the capacity at once; releasing again is NotFound; an empty id is invalid', () => {
    const { wp } = core({ cpuCeiling: 1 });
    wp.registerHosts([hostSpec('h', { capacity: { cpuMillis: cpuMillis(4000), memBytes: memBytes(16 * GiB) } })]);
    const a = wp.engine.place({ workload: wl('w1', 4000) });
    expect(() => wp.engine.place({ workload: wl('w2', 4000) })).toThrow(NoFeasibleHostError);
    expect(wp.engine.release(a.reservationId)).toEqual({ hostId: 'h' });
    expect(wp.engine.place({ workload: wl('w2', 4000) }).hostId).toBe('h');
    expect(() => wp.engine.release(a.reservationId)).toThrow(NotFoundError);
    expect(() => wp.engine.release('')).toThrow(ValidationError);
  });

  it('a reservation expires after the TTL and its capacity comes back', () => {
    const { wp, clock } = core({ cpuCeiling: 1, reservationTtlMs: 30_000 });
    wp.registerHosts([hostSpec('h', { capacity: { cpuMillis: cpuMillis(4000), memBytes: memBytes(16 * GiB) } })]);
    const a = wp.engine.place({ workload: wl('w1', 4000) });
    clock.now += 29_999;
    expect(() => wp.engine.place({ workload: wl('w2', 4000) })).toThrow(NoFeasibleHostError);
    clock.now += 1; // created + 30 s
    expect(wp.engine.place({ workload: wl('w2', 4000) }).hostId).toBe('h');
    expect(() => wp.engine.release(a.reservationId)).toThrow(NotFoundError);
  });

  it('an allocation report that includes the workload confirms the reservation: counted once, not twice', () => {
    const { wp, clock } = core({ cpuCeiling: 1, snapshotRefreshMs: 0 });
    wp.registerHosts([hostSpec('h', { capacity: { cpuMillis: cpuMillis(4000), memBytes: memBytes(16 * GiB) } })]);
    const a = wp.engine.place({ workload: wl('w1', 2000) });
    clock.now += 1000;
    // the orchestrator now reports the 2000 m allocation: reserved 0, allocated 2000 → 2000 m still free
    expect(wp.report([allocReport('h', clock.now, 2000, 1)]).accepted).toBe(1);
    expect(wp.reservations.size).toBe(0);
    expect(() => wp.engine.release(a.reservationId)).toThrow(NotFoundError);
    expect(wp.engine.place({ workload: wl('w2', 2000) }).hostId).toBe('h');
    expect(() => wp.engine.place({ workload: wl('w3', 1) })).toThrow(/allocated 2000m, reserved 2000m/);
  });

  it('never over-commits between a confirming report and the next snapshot rebuild', () => {
    // Default snapshot throttle (50 ms) and a clock that does not move: the report that confirms
    // w1 arrives while the hot path still reads a snapshot without w1's allocation.
    // Free must stay 4000 − 2000 (w1, now allocated) = 2000 m, so a 3000 m workload must not fit.
    const { wp, clock } = core({ cpuCeiling: 1, snapshotRefreshMs: 50 });
    wp.registerHosts([hostSpec('h', { capacity: { cpuMillis: cpuMillis(4000), memBytes: memBytes(16 * GiB) } })]);
    wp.report([{ ...allocReport('h', clock.now - 10, 0, 0) }]); // the host reports, nothing allocated
    wp.engine.place({ workload: wl('w1', 2000) });
    clock.now += 1;
    wp.report([allocReport('h', clock.now, 2000, 1)]); // confirms w1
    expect(() => wp.engine.place({ workload: wl('w2', 3000) })).toThrow(NoFeasibleHostError);
    expect(wp.engine.place({ workload: wl('w2', 2000) }).hostId).toBe('h');
    wp.close();
  });

  it('a report that does not include the workload does not confirm it, even when the snapshot lags', () => {
    // 4 000 m host, 50 ms snapshot throttle, frozen clock.
    //   t0: allocation 0 (snapshot built)      t1: allocation 2000 (someone else placed; snapshot not rebuilt yet)
    //   w1 1 500 m placed: it lands on top of 2000 → the report that includes it must say ≥ 3500 m.
    //   t2: allocation still 2000 (w1 not started yet) → must NOT confirm w1.
    // Free afterwards: 4000 − 2000 − 1500 (w1 reserved) = 500 m → a 2 000 m workload must not fit.
    const { wp, clock } = core({ cpuCeiling: 1, snapshotRefreshMs: 50 });
    wp.registerHosts([hostSpec('h', { capacity: { cpuMillis: cpuMillis(4000), memBytes: memBytes(16 * GiB) } })]);
    wp.report([allocReport('h', clock.now - 30, 0, 0)]);
    wp.report([allocReport('h', clock.now - 20, 2000, 1)]);
    wp.engine.place({ workload: wl('w1', 1500) });
    clock.now += 1;
    wp.report([allocReport('h', clock.now, 2000, 1)]);
    expect(wp.reservations.size).toBe(1);
    clock.now += 100; // let the throttled rebuild happen
    wp.collector.refresh();
    expect(() => wp.engine.place({ workload: wl('w2', 2000) })).toThrow(/free 500m of 4000m \(allocated 2000m, reserved 1500m\)/);
    // the report that does include w1 confirms it
    clock.now += 1;
    wp.report([allocReport('h', clock.now, 3500, 2)]);
    expect(wp.reservations.size).toBe(0);
    wp.close();
  });

  it('a STANDBY host pays its wake-up once: not again after its reservation is confirmed', () => {
    // hp-ml110-g4 on 10 000 m, 5 W standby. First 2 000 m: P(0.2) − 5 = 92.6 − 5 = 87.6 W (wake-up 81 W + load 6.6 W).
    // The report confirms it (allocation 2000 m, measured u = 0.2). Next 2 000 m: P(0.4) − P(0.2) = 99.5 − 92.6 = 6.9 W.
    const { wp, clock } = core({ snapshotRefreshMs: 0 });
    wp.registerHosts([
      hostSpec('sb', { capacity: { cpuMillis: cpuMillis(10_000), memBytes: memBytes(32 * GiB) }, power: TABLE_G4_STANDBY_5, state: PowerState.STANDBY }),
    ]);
    const first = wp.engine.place({ workload: wl('w1', 2000) });
    expect(first.marginalWatts).toBeCloseTo(87.6, 9);
    expect(wp.engine.evaluate({ workload: wl('probe', 2000) }).feasible[0].marginalWatts).toBeCloseTo(6.9, 9); // woken by the reservation
    clock.now += 1000;
    wp.report([{ ...allocReport('sb', clock.now, 2000, 1), cpuUtil: 0.2 }]);
    expect(wp.reservations.size).toBe(0);
    expect(wp.engine.evaluate({ workload: wl('probe', 2000) }).feasible[0].marginalWatts).toBeCloseTo(6.9, 9); // still awake
  });
});

describe('DecisionEngine input checks', () => {
  it.each([
    ['missing workload', { workload: undefined as unknown as Workload }, 'workload'],
    ['missing demand', { workload: { id: 'w', selector: {} } as unknown as Workload }, 'workload.demand'],
    ['negative cpu', { workload: wl('w', -1) }, 'workload.demand.cpu_millis'],
    ['fractional cpu', { workload: wl('w', 0.5) }, 'workload.demand.cpu_millis'],
    ['memory beyond 2^53', { workload: { ...wl('w', 1), demand: { cpuMillis: cpuMillis(1), memBytes: memBytes(2 ** 60) } } }, 'workload.demand.mem_bytes'],
    ['candidate without host id', { workload: wl('w', 1), candidates: [{ hostId: 'h' }, { hostId: '' }] }, 'candidates[1].host_id'],
    ['candidate ratio negative', { workload: wl('w', 1), candidates: [{ hostId: 'h', cpuAllocationRatio: -1 }] }, 'candidates[0].cpu_allocation_ratio'],
    ['candidate ratio above 1000', { workload: wl('w', 1), candidates: [{ hostId: 'h', memAllocationRatio: 5000 }] }, 'candidates[0].mem_allocation_ratio'],
  ] as [string, Parameters<Wattplace['engine']['place']>[0], string][])('%s → ValidationError on %s', (_n, req, field) => {
    const { wp } = core();
    wp.registerHosts([hostSpec('h')]);
    let err: unknown;
    try {
      wp.engine.place(req);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe(field);
    expect(wp.reservations.size).toBe(0);
  });

  it('unknown candidates are rejected with a reason; duplicates count once', () => {
    const { wp } = core();
    wp.registerHosts([hostSpec('a')]);
    const r = wp.engine.evaluate({ workload: wl('w', 1000), candidates: [{ hostId: 'ghost' }, { hostId: 'a' }, { hostId: 'a' }] });
    expect(r.feasible.map((f) => f.hostId)).toEqual(['a']);
    expect(r.rejected).toEqual([{ hostId: 'ghost', reason: 'unknown host: not registered with wattplace' }]);
  });
});

/** Any of the three power model kinds, with realistic coefficients. */
async function powerArbitrary() {
  const fc = await import('fast-check');
  return fc.oneof(
    fc.record({ kind: fc.constant('linear' as const), idleWatts: fc.integer({ min: 40, max: 150 }), maxWatts: fc.integer({ min: 150, max: 400 }), standbyWatts: fc.constant(0) }),
    fc.record({ kind: fc.constant('table' as const), watts: fc.constantFrom(G4_WATTS, X5670_WATTS, X3470_WATTS), standbyWatts: fc.constant(0) }),
    fc.record({ kind: fc.constant('exponential' as const), k0: fc.integer({ min: 50, max: 100 }), k1: fc.integer({ min: 1, max: 40 }), k2: fc.double({ min: 0.1, max: 3, noNaN: true }), standbyWatts: fc.constant(0) }),
  );
}

describe('Place agrees with Evaluate on any cluster (property)', () => {
  it('Place picks Evaluate’s first host, its alternatives are Evaluate’s next ones, and Evaluate is ordered best first', async () => {
    const fc = await import('fast-check');
    const power = await powerArbitrary();
    const host = fc.record({
      cpu: fc.constantFrom(4000, 8000, 16000),
      power,
      state: fc.constantFrom(PowerState.ON, PowerState.ON, PowerState.STANDBY, PowerState.MAINTENANCE),
      draining: fc.constantFrom(false, false, false, true),
      util: fc.option(fc.double({ min: 0, max: 0.9, noNaN: true }), { nil: undefined }),
      allocShare: fc.double({ min: 0, max: 1, noNaN: true }),
    });
    fc.assert(
      fc.property(fc.array(host, { minLength: 1, maxLength: 25 }), fc.integer({ min: 0, max: 6000 }), (hosts, demand) => {
        const { wp, clock } = core({ snapshotRefreshMs: 0, alternatives: 3 });
        wp.registerHosts(hosts.map((h, i) => hostSpec(`p${i}`, { capacity: { cpuMillis: cpuMillis(h.cpu), memBytes: memBytes(64 * GiB) }, power: h.power, state: h.state })));
        hosts.forEach((h, i) => h.draining && wp.setDraining(`p${i}`, true));
        wp.report(
          hosts.map((h, i) => ({ ...allocReport(`p${i}`, clock.now - 1000, Math.floor(h.cpu * h.allocShare), 0), cpuUtil: h.util ?? 0 })).filter((_, i) => hosts[i].util !== undefined),
        );
        const ev = wp.engine.evaluate({ workload: wl('prop', demand, 0) });
        for (let i = 1; i < ev.feasible.length; i++) expect(ev.feasible[i - 1].score).toBeGreaterThanOrEqual(ev.feasible[i].score - 1e-9);
        expect(ev.feasible.length + ev.rejected.length).toBe(hosts.length);
        if (ev.feasible.length === 0) {
          expect(() => wp.engine.place({ workload: wl('prop', demand, 0) })).toThrow(NoFeasibleHostError);
          return;
        }
        const p = wp.engine.place({ workload: wl('prop', demand, 0) });
        expect(p.hostId).toBe(ev.feasible[0].hostId);
        expect(hosts[Number(p.hostId.slice(1))].draining).toBe(false);
        expect(p.wake).toBe(hosts[Number(p.hostId.slice(1))].state === PowerState.STANDBY);
        expect(p.marginalWatts).toBe(ev.feasible[0].marginalWatts);
        expect(p.alternatives).toEqual(ev.feasible.slice(1, 4));
        // Place stops at the hosts that cannot enter its answer: it lists the ones it
        // examined and rejected, each with Evaluate's reason.
        const reasons = new Map(ev.rejected.map((r) => [r.hostId, r.reason]));
        for (const r of p.rejected) expect(r.reason).toBe(reasons.get(r.hostId));
        expect(p.examined).toBeLessThanOrEqual(hosts.length);
      }),
      { numRuns: 200, seed: 20261126 },
    );
  });

  it('a run of Places with reservations piling up, carbon weighting and overcommit: each equals the Evaluate just before it', async () => {
    const fc = await import('fast-check');
    const power = await powerArbitrary();
    const host = fc.record({
      cpu: fc.constantFrom(4000, 8000, 16000),
      power,
      site: fc.constantFrom('a', 'b', 'c'),
      state: fc.constantFrom(PowerState.ON, PowerState.ON, PowerState.ON, PowerState.STANDBY),
      draining: fc.constantFrom(false, false, false, true),
      util: fc.option(fc.double({ min: 0, max: 0.95, noNaN: true }), { nil: undefined }),
      allocShare: fc.double({ min: 0, max: 1.2, noNaN: true }),
    });
    fc.assert(
      fc.property(
        fc.array(host, { minLength: 1, maxLength: 80 }),
        fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 12 }),
        fc.boolean(),
        fc.constantFrom(1, 1, 2),
        (hosts, demands, carbonWeighting, ratio) => {
          const { wp, clock } = core({ snapshotRefreshMs: 0, alternatives: 2, carbonWeighting, cpuAllocationRatio: ratio });
          wp.registerHosts(hosts.map((h, i) => hostSpec(`p${i}`, { site: h.site, capacity: { cpuMillis: cpuMillis(h.cpu), memBytes: memBytes(64 * GiB) }, power: h.power, state: h.state })));
          hosts.forEach((h, i) => h.draining && wp.setDraining(`p${i}`, true));
          wp.report(
            hosts.map((h, i) => ({ ...allocReport(`p${i}`, clock.now - 1000, Math.floor(h.cpu * h.allocShare), 0), cpuUtil: h.util ?? 0 })).filter((_, i) => hosts[i].util !== undefined),
            [{ site: 'a', time: epochMs(clock.now - 1000), gramsCo2PerKwh: 120 as never }, { site: 'b', time: epochMs(clock.now - 1000), gramsCo2PerKwh: 700 as never }],
          );
          for (const [j, demand] of demands.entries()) {
            const ev = wp.engine.evaluate({ workload: wl(`w${j}`, demand, 0) });
            if (ev.feasible.length === 0) {
              expect(() => wp.engine.place({ workload: wl(`w${j}`, demand, 0) })).toThrow(NoFeasibleHostError);
              continue;
            }
            const p = wp.engine.place({ workload: wl(`w${j}`, demand, 0) });
            expect([p.hostId, p.marginalWatts]).toEqual([ev.feasible[0].hostId, ev.feasible[0].marginalWatts]);
            expect(hosts[Number(p.hostId.slice(1))].draining).toBe(false);
            expect(p.alternatives).toEqual(ev.feasible.slice(1, 3));
          }
        },
      ),
      { numRuns: 150, seed: 7 },
    );
  });

  it('Place over a large uniform fleet examines a few hosts, not all of them', () => {
    // 2,000 hosts: 1,000 x3470 (steep table) and 1,000 linear 100→300 W on 8,000 m.
    // Linear: 200 W per unit → key = 200 / 8000 = 0.025 W per millicore; x3470 at
    // 10 % measured: least slope on [0.1, 0.8] = 10·(57.9 − 52.3) = 56 W → key 0.007.
    // The x3470 hosts come first and all tie at the same marginal watts, so Place
    // stops as soon as the next key (0.025·1000 = 25 W) exceeds the 3rd best
    // (x3470: P(0.225) − P(0.1) = 7.0 W): about 1,000 hosts examined, not 2,000.
    const { wp, clock } = core({ snapshotRefreshMs: 0, alternatives: 2 });
    const specs = [];
    for (let i = 0; i < 2000; i++) {
      specs.push(hostSpec(`h${i}`, { capacity: { cpuMillis: cpuMillis(8000), memBytes: memBytes(64 * GiB) }, power: i % 2 ? { kind: 'linear', idleWatts: 100, maxWatts: 300, standbyWatts: 0 } : { kind: 'table', watts: X3470_WATTS, standbyWatts: 0 } }));
    }
    wp.registerHosts(specs);
    wp.report(specs.map((s) => ({ ...allocReport(s.id, clock.now - 1000, 0, 0), cpuUtil: 0.1 })));
    const ev = wp.engine.evaluate({ workload: wl('w', 1000, 0) });
    const p = wp.engine.place({ workload: wl('w', 1000, 0) });
    expect(p.hostId).toBe(ev.feasible[0].hostId);
    expect(p.marginalWatts).toBeCloseTo(7.0, 9);
    expect(p.examined).toBe(1000);
    expect(ev.examined).toBe(2000);
  });
});

describe('draining hosts and wake', () => {
  /**
   * Three 8 000 m hosts, never reported, nothing allocated; a 1 000 m workload (Δu = 1000 / 8000 = 0.125):
   *   c  ON       x3470 table, segment slopes 51, 56, 56 W per unit: 0.1 · 51 + 0.025 · 56 = 5.1 + 1.4 = 6.5 W
   *   a  ON       linear 100→200: 100 · 0.125 = 12.5 W
   *   sb STANDBY  linear 100→200, standby 0 W: P(0.125) − 0 = 112.5 W (waking it)
   * Each Place reserves 1 000 m on the host it picks.
   */
  function fleet() {
    const { wp } = core({ snapshotRefreshMs: 60_000 }); // throttled: setDraining must refresh at once
    wp.registerHosts([
      hostSpec('c', { power: { kind: 'table', watts: X3470_WATTS, standbyWatts: 0 } }),
      hostSpec('a'),
      hostSpec('sb', { state: PowerState.STANDBY }),
    ]);
    return wp;
  }

  it('Place never picks a draining host; wake is true exactly when it picks a STANDBY host', () => {
    const wp = fleet();
    const steps: [string, boolean, string, number, boolean][] = [
      // host to set, draining → Place picks, marginal watts, wake
      ['', false, 'c', 6.5, false],
      ['c', true, 'a', 12.5, false],
      ['a', true, 'sb', 112.5, true],
      // c again, with its first 1 000 m reserved: u 0.125 → 0.25, all at slope 56: 0.125 · 56 = 7.0 W (a: 12.5 W)
      ['c', false, 'c', 7.0, false],
    ];
    for (const [id, draining, want, mw, wake] of steps) {
      if (id) expect(wp.setDraining(id, draining)).toBe(true);
      const p = wp.engine.place({ workload: wl(`w-${want}`, 1000) });
      expect([p.hostId, p.wake]).toEqual([want, wake]);
      expect(p.marginalWatts).toBeCloseTo(mw, 9);
    }
    expect(wp.setDraining('ghost', true)).toBe(false);
  });

  it('every host draining: Place finds none, and Evaluate names the reason for each host', () => {
    const wp = fleet();
    for (const id of ['c', 'a', 'sb']) wp.setDraining(id, true);
    expect(() => wp.engine.place({ workload: wl('w', 1000) })).toThrow(NoFeasibleHostError);
    const ev = wp.engine.evaluate({ workload: wl('w', 1000) });
    expect(ev.feasible).toEqual([]);
    expect(ev.rejected).toEqual(['c', 'a', 'sb'].map((hostId) => ({ hostId, reason: 'host is draining for standby' })));
    // a MAINTENANCE host that is also draining is reported as in MAINTENANCE (that filter runs first)
    wp.registerHosts([hostSpec('m', { state: PowerState.MAINTENANCE })]);
    wp.setDraining('m', true);
    expect(wp.engine.evaluate({ workload: wl('w', 1000), candidates: [{ hostId: 'm' }] }).rejected).toEqual([{ hostId: 'm', reason: 'host is in MAINTENANCE' }]);
  });

  it('screen (the Kubernetes extender’s entry) leaves draining hosts out of the feasible set', () => {
    const wp = fleet();
    wp.setDraining('a', true);
    const s = wp.engine.screen({ workload: wl('w', 1000) });
    expect([...s.hosts.subarray(0, s.count)].map((h) => s.ids[h]).sort()).toEqual(['c', 'sb']);
    expect(s.rejected).toEqual([{ hostId: 'a', reason: 'host is draining for standby' }]);
  });
});
