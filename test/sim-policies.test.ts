import { describe, expect, it } from 'vitest';
import type { Fleet, Workloads } from '../src/sim/cluster';
import { HISTORY, type SimView } from '../src/sim/engine';
import { FirstFitPolicy, NonePolicy, SpreadPolicy } from '../src/sim/policies/basic';
import { CloudSimPolicy } from '../src/sim/policies/cloudsim';
import { DEFAULT_WATTPLACE_POLICY, WattplacePolicy } from '../src/sim/policies/wattplace';
import { buildFleet } from '../src/sim/cluster';
import { HP_G4, HP_G5, catalogHostType } from '../src/sim/planetlab';
import { checkScenario, makePolicy } from '../src/sim/scenario';

/** G4 = 2 × 1860 MIPS (3720), P 86…117 W; G5 = 2 × 2660 (5320), P 93.7…135 W (SPECpower tables). */
const g4g5 = (types: ('g4' | 'g5')[]): Fleet => {
  // one entry per host, in order, not interleaved
  const f = buildFleet(types.map((t) => ({ type: t === 'g4' ? HP_G4() : HP_G5(), count: 1 })), false);
  return f;
};
const small = (n: number): Fleet => buildFleet([{ type: catalogHostType('hp-ml110-g5', 1000, 1, { name: 'small' }), count: n }], false);

interface VmDef {
  req: number;
  mips?: number;
  ram?: number;
  host?: number;
  /** Utilization history, newest first. */
  hist?: number[];
}

/** A decision point as the simulator presents it. */
function view(fleet: Fleet, vms: VmDef[], opts: { used?: number[]; step?: number; compat?: boolean } = {}): SimView {
  const n = vms.length;
  const wl: Workloads = {
    n,
    ids: vms.map((_, i) => `vm${i}`),
    steps: 1,
    util: new Float64Array(n),
    mips: Float64Array.from(vms.map((v) => v.mips ?? 2500)),
    ramMb: Float64Array.from(vms.map((v) => v.ram ?? 870)),
    memMb: new Float64Array(n),
    arrival: new Int32Array(n),
    departure: new Int32Array(n).fill(1),
  };
  const lists: number[][] = Array.from({ length: fleet.n }, () => []);
  const host = new Int32Array(n).fill(-1);
  const alive = new Uint8Array(n);
  vms.forEach((v, i) => {
    if (v.host !== undefined) {
      lists[v.host].push(i);
      host[i] = v.host;
      alive[i] = 1;
    }
  });
  const used = new Float64Array(fleet.n);
  for (let h = 0; h < fleet.n; h++) used[h] = opts.used ? opts.used[h] : lists[h].reduce((a, v) => a + Math.min(vms[v].req, fleet.coreMips[h]), 0);
  return {
    compat: opts.compat ?? false,
    initial: false,
    time: (opts.step ?? 1) * 300,
    step: opts.step ?? 1,
    stepSeconds: 300,
    fleet,
    lists,
    used,
    req: Float64Array.from(vms.map((v) => v.req)),
    memOf: () => 0,
    memUsed: new Float64Array(fleet.n),
    wl,
    host,
    alive,
    hist: (v, i) => (vms[v].hist && i < (vms[v].hist as number[]).length && i < HISTORY ? (vms[v].hist as number[])[i] : NaN),
    histLen: (v) => Math.min(HISTORY, vms[v].hist?.length ?? 0),
  };
}

describe('first-fit', () => {
  it('fill-in-order: each workload on the first host where it fits', () => {
    // hosts of 1000: 600 → h0; 300 → h0 (900); 300 → h1 (h0 would reach 1200)
    const v = view(small(2), [{ req: 600 }, { req: 300 }, { req: 300 }]);
    expect(Array.from(new FirstFitPolicy().place(v, [0, 1, 2]))).toEqual([0, 0, 1]);
    expect(new FirstFitPolicy().optimize()).toEqual([]);
  });
  it('full: a workload no host has room for is rejected (−1)', () => {
    // both hosts hold 900 of 1000; 300 fits nowhere
    const v = view(small(2), [{ req: 900, host: 0 }, { req: 900, host: 1 }, { req: 300 }]);
    expect(Array.from(new FirstFitPolicy().place(v, [2]))).toEqual([-1]);
  });
});

describe('spread and none', () => {
  it('least-allocated: each workload to the host with the lowest utilization after it', () => {
    // 600 → h0 (tie 0.6/0.6, lower index); 300 → h1 (0.3 < 0.9); 300 → h1 (0.6 < 0.9)
    const v = view(small(2), [{ req: 600 }, { req: 300 }, { req: 300 }]);
    expect(Array.from(new SpreadPolicy().place(v, [0, 1, 2]))).toEqual([0, 1, 1]);
  });
  it('none places like spread, keeps every host on and never migrates', () => {
    const p = new NonePolicy();
    expect(p.allHostsOn).toBe(true);
    const v = view(small(2), [{ req: 600 }, { req: 300 }]);
    expect(Array.from(p.place(v, [0, 1]))).toEqual([0, 1]);
    expect(p.optimize()).toEqual([]);
  });
});

describe('thr-mmt (CloudSim static threshold 0.8, minimum migration time, PABFD)', () => {
  it('overloaded-host-sheds-min-ram: sheds the smallest-RAM VM until under 0.8', () => {
    // fleet G4, G5, G4. G5 holds 2000 + 1500 + 1000 = 4500 of 5320 = 0.846 > 0.8: overloaded.
    // MMT: least RAM = vm2 (613 MB); 3500 / 5320 = 0.658 ≤ 0.8 → stop.
    // PABFD for vm2 (1000 MIPS): G4s are off (stale utilization 0):
    //   P_G4(1000/3720 = 0.269) − P_G4(0) = (92.6 + 0.69·3.4) − 86 = 8.95 W on h0 and h2 → h0 (first).
    // Underload phase: h0 and h2 were off at the last update (excluded), h1 overloaded (excluded).
    const v = view(g4g5(['g4', 'g5', 'g4']), [
      { req: 2000, ram: 1740, host: 1 },
      { req: 1500, ram: 870, host: 1 },
      { req: 1000, ram: 613, host: 1 },
    ]);
    expect(new CloudSimPolicy('thr').optimize(v)).toEqual([2, 0]);
  });
  it('underloaded-host-drained: the least utilized host is emptied when its VMs fit elsewhere', () => {
    // h0 (G4) 500/3720 = 0.134, h1 (G5) 2000/5320 = 0.376: h0 is drained first.
    // vm0 → h1: 2500/5320 = 0.47 ≤ 0.8 (h2 is off, h0 is the one being drained).
    // h1 is then a target, so it is not drained in the same step.
    const v = view(g4g5(['g4', 'g5', 'g4']), [
      { req: 500, host: 0 },
      { req: 2000, host: 1 },
    ]);
    expect(new CloudSimPolicy('thr').optimize(v)).toEqual([0, 1]);
  });
});

describe('lr-mmt (CloudSim local regression, safety 1.2)', () => {
  // Three 2500-MIPS VMs on a G5 (5320): host utilization = 3 · 2500/5320 · u = 1.4098 u.
  const rising = [0.55, 0.5, 0.45, 0.4, 0.35, 0.3, 0.25, 0.2, 0.15, 0.1]; // newest first
  const flat = new Array(10).fill(0.55);
  const vms = (hist: number[]) => [
    { req: 1375, ram: 1740, host: 1, hist },
    { req: 1375, ram: 870, host: 1, hist },
    { req: 1375, ram: 613, host: 1, hist },
  ];
  it('rising-history-predicts-overload: migrates before THR 0.8 would', () => {
    // now 1.4098 · 0.55 = 0.775 < 0.8; the line rises 0.0705 per step:
    // predicted one migration ahead (x = 11) = 0.846, × 1.2 = 1.015 ≥ 1 → overloaded.
    // MMT: vm2 (613 MB). Left: 2 VMs → 0.94 · 0.55 trend → (0.517 + 0.047) · 1.2 = 0.677 < 1.
    // PABFD: vm2 (1375) on an off G4: P(1375/3720 = 0.370) − 86 = 96 + 0.70·3.5 − 86 = 12.4 W → h0.
    const v = view(g4g5(['g4', 'g5', 'g4']), vms(rising));
    expect(new CloudSimPolicy('lr').optimize(v)).toEqual([2, 0]);
    expect(new CloudSimPolicy('thr').optimize(view(g4g5(['g4', 'g5', 'g4']), vms(rising)))).toEqual([]);
  });
  it('flat-history-stays: the same load without a trend is not overloaded', () => {
    // predicted 0.775 · 1.2 = 0.93 < 1; it is the only active host, so nothing is drained either
    const v = view(g4g5(['g4', 'g5', 'g4']), vms(flat));
    expect(new CloudSimPolicy('lr').optimize(v)).toEqual([]);
  });
  it('short-history-falls-back-to-thr-0.7', () => {
    // fewer than 10 values: THR 0.7 on requested MIPS: 4125/5320 = 0.775 > 0.7 → sheds vm2
    const v = view(g4g5(['g4', 'g5', 'g4']), vms(flat.slice(0, 5)));
    expect(new CloudSimPolicy('lr').optimize(v)).toEqual([2, 0]);
  });
});

describe('wattplace (core Place for arrivals, decision-layer rebalancer each step)', () => {
  it('opens-efficient-host-first: arrivals wake the G5 (0.0254 W/MIPS at full) before the G4 (0.0315)', () => {
    const p = new WattplacePolicy();
    const v = view(g4g5(['g4', 'g5']), [{ req: 1000 }, { req: 1000 }]);
    // first: no running host → the most efficient empty host, h1 (G5); second: fits on the running h1
    expect(Array.from(p.place(v, [0, 1]))).toEqual([1, 1]);
  });
  it('overload-relief-moves-cheapest: the workload that alone fixes the host at least cost', () => {
    // h0 (5320) holds 2400 + 1800 + 600 + 700 = 5500 > 5320. Margin z = Φ⁻¹(1 − 0.005) = 2.5758 (the
    // controller's start). One observation each: s² = (2 % of demand)² + (5 % of the 2500-MIPS size)²,
    // capped by the room R = 2500 − demand: s'² = s²·R² / (R² + 3²·s²):
    //   vm0 (48² + 125²) = 17929, R 100 → 1046.3; vm1 18921, R 700 → 12909.0;
    //   vm2 15769, R 1900 → 15172.5; vm3 15821, R 1800 → 15155.0; vm4 (h1, 1000) 16025, R 1500 → 15060.
    // Without vm2 (the cheapest): 4900 + 2.5758·√(1046.3 + 12909.0 + 15155.0) = 4900 + 439.6 = 5339.6 > 5320.
    // Without vm3: 4800 + 2.5758·√(1046.3 + 12909.0 + 15172.5) = 5239.6 ≤ 5320, cost RAM × demand
    //   1740 × 700 = 1.22 M; without vm0 (870 × 2400 = 2.09 M) or vm1 (1740 × 1800 = 3.13 M) also safe,
    //   dearer. So vm3 moves, to the running h1: 1700 + 2.5758·√(15155.0 + 15060) = 2147.7 ≤ 5320.
    // Both hosts were touched: no drain.
    const p = new WattplacePolicy();
    const v = view(g4g5(['g5', 'g5']), [
      { req: 2400, ram: 870, host: 0 },
      { req: 1800, ram: 1740, host: 0 },
      { req: 600, ram: 613, host: 0 },
      { req: 700, ram: 1740, host: 0 },
      { req: 1000, ram: 870, host: 1 },
    ]);
    expect(p.optimize(v)).toEqual([3, 1]);
  });
  it('drain-when-room: least utilized hosts are emptied into the roomiest running host', () => {
    // h0 1000, h1 2000, h2 1500 (G5s). Drain h0 (least utilized): vm0 → roomiest of h1/h2 = h2 (1500 < 2000).
    // Next candidate h1 (h2 is now a target): vm1 → h2 under drainZ = 1.3 × 2.5758 = 3.3486, each
    // s² = (2 % of demand)² + (5 % of the 2500-MIPS size)², capped by the room R = 2500 − demand,
    // s'² = s²·R² / (R² + 3²·s²): vm0 16025 → 15060.0, vm1 17225 → 10632.0, vm2 16525 → 14385.5;
    //   4500 + 3.3486·√(15060.0 + 10632.0 + 14385.5) = 4500 + 3.3486 × 200.2 = 5170.4 ≤ 5320.
    const p = new WattplacePolicy();
    const v = view(g4g5(['g5', 'g5', 'g5']), [
      { req: 1000, host: 0 },
      { req: 2000, host: 1 },
      { req: 1500, host: 2 },
    ]);
    expect(p.optimize(v)).toEqual([0, 2, 1, 2]);
  });
  it('no-room-no-drain: hosts are left alone when the others lack safe room', () => {
    // two G5s at 4000 each: moving either 4000 onto the other would exceed 5320
    const p = new WattplacePolicy();
    const v = view(g4g5(['g5', 'g5']), [
      { req: 4000, host: 0 },
      { req: 4000, host: 1 },
    ]);
    expect(p.optimize(v)).toEqual([]);
  });
  it('react-to-current: with useCurrent a host measured over capacity is relieved though its forecast lags', () => {
    // z = 0 (forecast mean only), no drains. Step 1: h0 1500 × 3, h1 500.
    // Step 2: h0 2000 + 1900 + 1800 = 5700 > 5320 now; forecasts 0.3·now + 0.7·mean:
    //   1825 + 1760 + 1695 = 5280 ≤ 5320: "safe" by the forecast alone.
    // useCurrent: relieve; any single move fixes it; cost RAM × forecast:
    //   vm0 870·1825 = 1.59 M, vm1 1740·1760 = 3.06 M, vm2 613·1695 = 1.04 M → vm2 → h1.
    const cfg = (useCurrent: boolean) => ({
      ...DEFAULT_WATTPLACE_POLICY,
      overloadTarget: undefined, // fixed margins
      useCurrent,
      rebalance: { ...DEFAULT_WATTPLACE_POLICY.rebalance, z: 0, maxDrains: 0 },
    });
    const run = (useCurrent: boolean): number[][] => {
      const p = new WattplacePolicy(cfg(useCurrent));
      const fleet = g4g5(['g5', 'g5']);
      const at = (r: number[], step: number) =>
        view(
          fleet,
          [
            { req: r[0], ram: 870, host: 0 },
            { req: r[1], ram: 1740, host: 0 },
            { req: r[2], ram: 613, host: 0 },
            { req: 500, ram: 870, host: 1 },
          ],
          { step },
        );
      return [p.optimize(at([1500, 1500, 1500], 1)), p.optimize(at([2000, 1900, 1800], 2))];
    };
    expect(run(true)).toEqual([[], [2, 1]]);
    expect(run(false)).toEqual([[], []]);
  });
});

describe('scenario params: overloadTarget, forecast spread', () => {
  const base = {
    trace: { csv: 'x.csv' },
    hostTypes: [{ name: 'g5', count: 2, coreMips: 2660, cores: 2, ramMb: 4096, power: { catalog: 'hp-ml110-g5' } }],
  };
  it.each([
    ['default: target 0.5 %', { name: 'wattplace' }, 0.005],
    ['explicit target', { name: 'wattplace', params: { overloadTarget: 0.02 } }, 0.02],
    ['fixed margins without a target (expert)', { name: 'wattplace', params: { z: 2 } }, undefined],
    ['target wins over fixed margins', { name: 'wattplace', params: { z: 2, overloadTarget: 0.01 } }, 0.01],
  ])('%s', (_n, entry, target) => {
    const s = checkScenario({ ...base, policies: [entry] });
    const p = makePolicy(s.policies[0]) as WattplacePolicy;
    expect(p.cfg.overloadTarget).toBe(target);
  });
  it.each([0, 0.5, -1])('rejects overloadTarget %s naming the field', (t) => {
    expect(() => checkScenario({ ...base, policies: [{ name: 'wattplace', params: { overloadTarget: t } }] })).toThrow(/policies\[0\]\.params\.overloadTarget: Too (small|big)/);
  });
  it.each([
    ['default: burst scale 5 %, room cap 3', {}, 0.05, 3],
    ['expert: both off', { sizeSigma: 0, roomSigmas: 0 }, 0, 0],
  ])('forecast spread, %s', (_n, params, sizeSigma, roomSigmas) => {
    const s = checkScenario({ ...base, policies: [{ name: 'wattplace', params }] });
    const p = makePolicy(s.policies[0]) as WattplacePolicy;
    expect([p.cfg.forecast.sizeSigma, p.cfg.forecast.roomSigmas]).toEqual([sizeSigma, roomSigmas]);
  });
  it('expert rebalance settings: the given ones are taken, the others keep their defaults', () => {
    const s = checkScenario({ ...base, policies: [{ name: 'wattplace', params: { z: 2, drainZ: 3, maxMigrationsPerStep: 5, alpha: 0.5 } }] });
    const p = makePolicy(s.policies[0]) as WattplacePolicy;
    const r = p.cfg.rebalance;
    // maxMigrationsPerStep is the scenario's name for the Rebalancer's maxMigrations
    expect([r.z, r.drainZ, r.maxMigrations, r.openZ, r.ceiling, r.minWattsPerMigration]).toEqual([2, 3, 5, 0, 1, 0]);
    expect([p.cfg.forecast.alpha, p.cfg.forecast.window]).toEqual([0.5, 12]);
  });
  it.each([-1, 11])('rejects roomSigmas %s naming the field', (k) => {
    expect(() => checkScenario({ ...base, policies: [{ name: 'wattplace', params: { roomSigmas: k } }] })).toThrow(/policies\[0\]\.params\.roomSigmas: Too (small|big)/);
  });
});
