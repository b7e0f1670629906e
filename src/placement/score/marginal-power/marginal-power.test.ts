import { describe, expect, it } from 'vitest';
import { PowerState } from '../../../domain';
import { demand, host } from '../../../../test/fixtures/placement';
import { EXP_80_20_LN2, LINEAR_100_200, TABLE_G4, TABLE_G4_STANDBY_5 } from '../../../../test/fixtures/power';
import { baselineUtil, marginalWatts } from '.';

/**
 * ΔP = P(u_now + d/cap) − P(u_now) for an ON host; P(d/cap) − P_standby for a
 * STANDBY host nobody has woken yet. hp-ml110-g4 table (W at 0 %, 10 %, …):
 * 86, 89.4, 92.6, 96, 99.5, 102, 106, 108, 112, 114, 117.
 * Hosts here have 10 000 m so that d/cap is easy: 2 000 m → Δu = 0.2.
 */
describe('marginal power', () => {
  const C = 10_000;
  const rows: [string, Parameters<typeof host>[0], number, number][] = [
    // name, host, demand m, expected ΔP W
    // linear 100–200 W: slope 100 W per unit of u; Δu = 0.25 → 25 W wherever the host is
    ['linear, measured 0.25', { capCpu: 8000, measCpu: 0.25 }, 2000, 25],
    // table: P(0.5) − P(0.3) = 102 − 96
    ['table, measured 0.3', { capCpu: C, power: TABLE_G4, measCpu: 0.3 }, 2000, 6],
    // P(0.45) − P(0.35) = (99.5 + 2.5·0.5) − (96 + 3.5·0.5) = 100.75 − 97.75
    ['table, between points', { capCpu: C, power: TABLE_G4, measCpu: 0.35 }, 1000, 3],
    // never reported: u_now = allocated / cap = 3000/10000 = 0.3 → P(0.5) − P(0.3) = 6
    ['table, never reported: allocation implies u = 0.3', { capCpu: C, power: TABLE_G4, allocCpu: 3000 }, 2000, 6],
    // never reported, nothing allocated: u_now = 0 → P(0.2) − P(0) = 92.6 − 86
    ['table, never reported and empty: u = 0', { capCpu: C, power: TABLE_G4 }, 2000, 6.6],
    // measured utilization drives power, not allocation: 0.1 measured although 6000 m allocated → P(0.3) − P(0.1) = 96 − 89.4
    ['table, measured wins over allocation for power', { capCpu: C, power: TABLE_G4, measCpu: 0.1, allocCpu: 6000 }, 2000, 6.6],
    // a reservation is load telemetry does not show yet: u = 0.1 + 2000/10000 = 0.3 → P(0.5) − P(0.3) = 6
    ['table, with an open reservation', { capCpu: C, power: TABLE_G4, measCpu: 0.1, resCpu: 2000 }, 2000, 6],
    // clamped: P(min(1, 0.9 + 0.2)) − P(0.9) = 117 − 114
    ['table, clamped at 100 %', { capCpu: C, power: TABLE_G4, measCpu: 0.9 }, 2000, 3],
    // exponential 80 + 20·2^u at 0 → 0.5: 20·(√2 − 1) = 8.2842712
    ['exponential', { capCpu: 8000, power: EXP_80_20_LN2, measCpu: 0 }, 4000, 8.2842712475],
    // STANDBY, 5 W standby: waking costs P(0) − 5 = 81 W, the load P(0.2) − P(0) = 6.6 W → 87.6 W
    ['STANDBY: wake-up plus load', { capCpu: C, power: TABLE_G4_STANDBY_5, state: PowerState.STANDBY }, 2000, 87.6],
    // STANDBY, 0 W standby (the default): 92.6 − 0
    ['STANDBY with default 0 W standby', { capCpu: C, power: TABLE_G4, state: PowerState.STANDBY }, 2000, 92.6],
    // a reservation already woke it: priced like ON at u = 0 + 2000/10000 = 0.2 → P(0.4) − P(0.2) = 99.5 − 92.6
    ['STANDBY woken by a reservation', { capCpu: C, power: TABLE_G4_STANDBY_5, state: PowerState.STANDBY, resCpu: 2000 }, 2000, 6.9],
    // a memory-only reservation woke it too: u = 0 → P(0.2) − P(0) = 6.6
    ['STANDBY woken by a memory-only reservation', { capCpu: C, power: TABLE_G4_STANDBY_5, state: PowerState.STANDBY, resMem: 1 }, 2000, 6.6],
    // the reservation that woke it was confirmed: its workload is now in the allocation (2000 m) and the host
    // measures 0.2; it is running, so it is priced like ON: P(0.4) − P(0.2) = 99.5 − 92.6, no second wake-up
    ['STANDBY in the inventory but running allocated work', { capCpu: C, power: TABLE_G4_STANDBY_5, state: PowerState.STANDBY, allocCpu: 2000, measCpu: 0.2 }, 2000, 6.9],
    // no CPU demand on an ON host costs nothing
    ['zero CPU demand', { capCpu: C, power: TABLE_G4, measCpu: 0.3 }, 0, 0],
    // power follows physical capacity, not the allocation ratio: Δu = 4000/8000 = 0.5 → 100·0.5
    ['linear, allocation ratio 4', { capCpu: 8000, cpuRatio: 4, measCpu: 0.2 }, 4000, 50],
  ];
  it.each(rows.map(([name, h, cpu, expected]) => ({ name, h, cpu, expected })))('$name → ΔP = $expected W', ({ h, cpu, expected }) => {
    expect(marginalWatts(demand({ cpu }), host(h))).toBeCloseTo(expected, 9);
  });

  it.each([
    // measured + reserved/cap; never reported: allocated/cap + reserved/cap
    [{ measCpu: 0.25 }, 0.25],
    [{ measCpu: 0.25, resCpu: 2000 }, 0.5], //       0.25 + 2000/8000
    [{ allocCpu: 4000 }, 0.5], //                   4000/8000
    [{ allocCpu: 4000, resCpu: 1000 }, 0.625], //   (4000 + 1000)/8000
    [{ measCpu: 0.1, allocCpu: 4000 }, 0.1], //     measured wins
    [{ capCpu: 0 }, 0], //                         no capacity: 0, not NaN
  ] as [Parameters<typeof host>[0], number][])('baseline utilization of %j = %s', (h, u) => {
    expect(baselineUtil(host(h))).toBeCloseTo(u, 12);
  });

  it('is the same function of the snapshot each time (deterministic)', () => {
    const h = host({ capCpu: C, power: TABLE_G4, measCpu: 0.37 });
    const d = demand({ cpu: 1234 });
    const a = marginalWatts(d, h);
    for (let i = 0; i < 10; i++) expect(marginalWatts(d, h)).toBe(a);
    expect(LINEAR_100_200.kind).toBe('linear');
  });
});
