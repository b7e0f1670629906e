/**
 * Hosts with different power curves (fixture MIXED_CURVES): Place picks the
 * host with the smallest marginal watts, and Evaluate's ranking and numbers
 * agree with the power models, recomputed here independently from the tables
 * and formulas (not through the service's power code).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIXED_CURVES, sample, workload } from '../fixtures/clusters';
import { G4_WATTS, tableWatts, X3470_WATTS, X5670_WATTS } from '../fixtures/power';
import { startTestServer, type TestServer } from '../helpers/grpc';

/** P(u) for each host, written out from the fixture's tables and formulas. */
const P: Record<string, (u: number) => number> = {
  'x5670-idle': (u) => tableWatts(X5670_WATTS, u),
  'linear-20': (u) => 50 + 250 * Math.min(1, Math.max(0, u)),
  'g4-standby': (u) => tableWatts(G4_WATTS, u),
  'g4-30': (u) => tableWatts(G4_WATTS, u),
  'exp-half': (u) => 80 + 20 * Math.exp(Math.LN2 * Math.min(1, Math.max(0, u))),
  'x3470-45': (u) => tableWatts(X3470_WATTS, u),
};
const STANDBY_WATTS = 5;
const CAP = 10_000;
const CEILING = 0.8;

/** Independent expectation: feasible hosts (under the 0.8 ceiling) with ΔP, smallest first. */
function expected(demandMillis: number): { id: string; dp: number }[] {
  const du = demandMillis / CAP;
  const out: { id: string; dp: number }[] = [];
  for (const id of Object.keys(P)) {
    if (id === 'g4-standby') {
      // waking: P(du) − P_standby = (P(0) − P_standby) + (P(du) − P(0))
      if (du <= CEILING) out.push({ id, dp: P[id](du) - STANDBY_WATTS });
      continue;
    }
    const u = MIXED_CURVES.util[id];
    if (u + du <= CEILING + 1e-12) out.push({ id, dp: P[id](u + du) - P[id](u) });
  }
  return out.sort((a, b) => a.dp - b.dp);
}

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
  await t.rpc.registerHosts({ hosts: MIXED_CURVES.hosts });
  const at = new Date(Date.now() - 1000);
  const r = await t.rpc.report({ samples: Object.entries(MIXED_CURVES.util).map(([id, u]) => sample(id, at, u)) });
  expect(r.accepted).toBe(5);
});
afterAll(() => t.close());

describe('choosing among hosts of different power curves', () => {
  it('the independent computation reproduces the fixture’s hand-worked table for 2 000 m', () => {
    const e = expected(MIXED_CURVES.demandMillis);
    expect(e.map((x) => x.id)).toEqual(MIXED_CURVES.expectedOrder);
    expect(e.map((x) => Math.round(x.dp * 1000) / 1000)).toEqual([4.206, 6, 15.9, 50, 54, 87.6]);
  });

  it.each([500, 1000, 2000, 3000, 3500, 5000])('Evaluate for %s m ranks hosts as the power models do, to the watt and beyond', async (m) => {
    const want = expected(m);
    const got = await t.rpc.evaluate({ workload: workload(`eval-${m}`, m) });
    expect(got.feasible.map((f) => f.hostId)).toEqual(want.map((w) => w.id));
    got.feasible.forEach((f, i) => {
      expect(Math.abs(f.marginalWatts - want[i].dp)).toBeLessThan(1e-6);
      expect(f.score).toBeCloseTo(-want[i].dp, 6);
    });
    // every host the models put over the ceiling is rejected with the ceiling reason
    const infeasible = Object.keys(P).filter((id) => !want.some((w) => w.id === id));
    expect(got.rejected.map((r) => r.hostId).sort()).toEqual(infeasible.sort());
    for (const r of got.rejected) expect(r.reason).toMatch(/^cpu utilization after placement .* would exceed the ceiling 0.8$/);
  });

  it('Place picks the host with the smallest marginal watts and lists the runners-up in model order', async () => {
    const want = expected(MIXED_CURVES.demandMillis);
    const p = await t.rpc.place({ workload: workload('curves', MIXED_CURVES.demandMillis) });
    expect(p.hostId).toBe('exp-half');
    expect(p.marginalWatts).toBeCloseTo(20 * (2 ** 0.7 - 2 ** 0.5), 9); // ≈ 4.206 W
    expect(p.alternatives.map((a) => a.hostId)).toEqual(want.slice(1, 4).map((w) => w.id)); // 3 runners-up (default)
    await t.rpc.release({ reservationId: p.reservationId });
  });

  it('a reservation moves the next decision: with 2 000 m reserved on exp-half, a 1 500 m workload no longer fits there', async () => {
    // After reserving 2 000 m on exp-half, its u is 0.7; another 1 000 m there would reach 0.8:
    //   exp-half: 20·(2^0.8 − 2^0.7) = 20·(1.741101 − 1.624505) ≈ 2.332 W
    //   g4-30:    P(0.4) − P(0.3) = 99.5 − 96 = 3.5 W   → exp-half still wins for 1 000 m;
    // for 1 500 m exp-half would reach 0.85 > 0.8 and is rejected; then
    //   g4-30:    P(0.45) − P(0.3) = 100.75 − 96 = 4.75 W
    //   x3470-45: P(0.6) − P(0.45) = 80.7 − 69.2  = 11.5 W   → g4-30 first, x3470-45 second.
    const first = await t.rpc.place({ workload: workload('r1', 2000) });
    expect(first.hostId).toBe('exp-half');
    const small = await t.rpc.evaluate({ workload: workload('r2', 1000) });
    expect(small.feasible[0].hostId).toBe('exp-half');
    expect(small.feasible[0].marginalWatts).toBeCloseTo(20 * (2 ** 0.8 - 2 ** 0.7), 9);
    const big = await t.rpc.evaluate({ workload: workload('r3', 1500) });
    expect(big.rejected.find((r) => r.hostId === 'exp-half')?.reason).toBe('cpu utilization after placement 0.850 would exceed the ceiling 0.8');
    expect(big.feasible.slice(0, 2).map((f) => [f.hostId, Math.round(f.marginalWatts * 100) / 100])).toEqual([
      ['g4-30', 4.75],
      ['x3470-45', 11.5],
    ]);
    await t.rpc.release({ reservationId: first.reservationId });
  });
});
