import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { simulate, type SimPolicy } from '../src/sim/engine';
import { FirstFitPolicy, NonePolicy } from '../src/sim/policies/basic';
import { loadTraces, workloadsOf } from '../src/sim/run';
import { fleetOf, loadScenario } from '../src/sim/scenario';

const fx = (f: string): string => join(__dirname, 'fixtures', 'sim', f);

/**
 * test/fixtures/sim/two-host.yaml: two hosts of 1000 MIPS, P(u) = 100 + 100·u W,
 * standby 10 W, step 100 s, site carbon 400 g/kWh. two-host.csv: A demands 500 then
 * 1000 MIPS, B 200 then 200; first fit puts both on host 0 (700 ≤ 1000).
 */
async function twoHost(csv: string, compat: boolean, policy: SimPolicy = new FirstFitPolicy()) {
  const s = loadScenario(fx('two-host.yaml'));
  const sc = { ...s, trace: { csv: fx(csv) }, cloudsimCompat: compat };
  const wl = workloadsOf(sc, await loadTraces(sc));
  return simulate(fleetOf(sc.hostTypes, sc.sites, sc.interleaveHosts), wl, policy, { compat, stepSeconds: sc.stepSeconds });
}

describe('energy accounting on the hand-worked two-host scenario', () => {
  it('real mode: trapezoid per host, standby for the empty host, overload interpolated', async () => {
    const r = await twoHost('two-host.csv', false);
    const m = r.metrics;
    // Updates at 0, 100, 200 s; the last sample repeats for the final interval.
    // host 0, [0,100]:   u 0.7 → 1.0 (1200 capped at 1000): (170 + 200)/2 × 100 = 18,500 J
    // host 0, [100,200]: u 1.0 → 1.0:                        200 × 100            = 20,000 J
    // host 1, empty:      10 W standby × 200 s                                      =  2,000 J
    // total 40,500 J = 0.01125 kWh
    expect(r.hostKwh[0]).toBeCloseTo(38_500 / 3.6e6, 12);
    expect(r.hostKwh[1]).toBeCloseTo(2_000 / 3.6e6, 12);
    expect(m.energyKwh).toBeCloseTo(40_500 / 3.6e6, 12);
    // Overload: [0,100] demand 700 → 1200 crosses 1000 at 60 s: 40 s over, unmet area 200·40/2 = 4,000
    //           [100,200] 1200 all along: 100 s over, unmet 200·100 = 20,000
    // active host time 200 s → overload fraction 140/200 = 0.7
    expect(m.overloadHours).toBeCloseTo(140 / 3600, 12);
    expect(m.overloadFraction).toBeCloseTo(0.7, 12);
    expect(m.slatah).toBeCloseTo(0.7, 12);
    // demand: (700 + 1200)/2 × 100 + 1200 × 100 = 215,000 MIPS·s; unmet 24,000 of it
    expect(m.unmetFraction).toBeCloseTo(24_000 / 215_000, 12);
    // fluid bound: best 200 W / 1000 MIPS = 0.2 W per MIPS → 43,000 J
    expect(m.lowerBoundKwh).toBeCloseTo(43_000 / 3.6e6, 12);
    expect(m.ratio).toBeCloseTo(40_500 / 43_000, 12);
    // carbon: 0.01125 kWh × 400 g/kWh = 4.5 g
    expect(m.carbonGrams).toBeCloseTo(4.5, 9);
    expect(m.migrations).toBe(0);
    expect(m.pdm).toBe(0);
    expect(m.slav).toBe(0);
  });

  it('CloudSim-compatible mode: peak-MIPS creation, first interval uncounted, zero-demand VM removed', async () => {
    const r = await twoHost('two-host-compat.csv', true);
    const m = r.metrics;
    // Creation asks for the peak: A 1000 fills host 0, so B (200) and C go to host 1.
    // Updates at 100.1 and 200.1 (300.1 is past the 3 × 100 s limit).
    // At 100.1 C's demand is exactly 0 (two zero samples): removed. Energy at 100.1 is 0
    // (previous utilization 0 on every host). Interval 100.1 → 200.1:
    //   host 0: A 1000 → u 1.0 both ends: 200 W × 100 s = 20,000 J
    //   host 1: B 200  → u 0.2 both ends: 120 W × 100 s = 12,000 J
    expect(m.removed).toBe(1);
    expect(r.hostKwh[0]).toBeCloseTo(20_000 / 3.6e6, 9);
    expect(r.hostKwh[1]).toBeCloseTo(12_000 / 3.6e6, 9);
    expect(m.energyKwh).toBeCloseTo(32_000 / 3.6e6, 9);
    expect(m.slatah).toBe(0);
  });

  it('no power management: every host at full power until the last update', async () => {
    const real = (await twoHost('two-host.csv', false, new NonePolicy())).metrics;
    // 2 hosts × 200 W × 200 s = 80,000 J
    expect(real.energyKwh).toBeCloseTo(80_000 / 3.6e6, 12);
    const compat = (await twoHost('two-host-compat.csv', true, new NonePolicy())).metrics;
    // CloudSim integrates 0 → last update (200.1 s): 400 W × 200.1 s
    expect(compat.energyKwh).toBeCloseTo((400 * 200.1) / 3.6e6, 12);
  });
});
