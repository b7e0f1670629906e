import { describe, expect, it } from 'vitest';
import { cpuMillis, PowerState } from '../domain';
import { demand, GiB, hostSpec, NOW_MS, storeWith } from '../../test/fixtures/placement';
import { LINEAR_50_300, TABLE_G4 } from '../../test/fixtures/power';
import { PlacementRunner, DEFAULT_FILTERS, type RunInput } from './runner';
import type { FilterPlugin } from './types';
import type { ClusterSnapshot } from '../telemetry';

const noReservations = (n: number) => ({ cpu: new Float64Array(n), mem: new Float64Array(n) });

function input(snapshot: ClusterSnapshot, over: Partial<RunInput> = {}): RunInput {
  return { demand: demand(), snapshot, reserved: noReservations(snapshot.size), hosts: null, topK: Infinity, ...over };
}

/** The result's feasible hosts as [id, marginal W, score], best first. */
function ranked(snap: ClusterSnapshot, r: ReturnType<PlacementRunner['run']>): [string, number, number][] {
  return Array.from({ length: r.count }, (_, i) => [snap.ids[r.order[i]], r.marginal[i], r.score[i]]);
}

/**
 * RANKED: four 10 000 m hosts with the hp-ml110-g4 table (86, 89.4, 92.6, 96, 99.5,
 * 102, 106, 108, 112, 114, 117 W) at different measured utilization; a 1 000 m
 * workload adds Δu = 0.1:
 *   h-10  u 0.1 → 0.2:  92.6 − 89.4 = 3.2 W
 *   h-40  u 0.4 → 0.5:  102 − 99.5  = 2.5 W
 *   h-60  u 0.6 → 0.7:  108 − 106   = 2.0 W
 *   h-30  u 0.3 → 0.4:  99.5 − 96   = 3.5 W
 * Best first (score = −ΔP): h-60, h-40, h-10, h-30.
 */
const RANKED = () => {
  const spec = (id: string) => hostSpec(id, { capacity: { cpuMillis: cpuMillis(10_000), memBytes: (32 * GiB) as never }, power: TABLE_G4 });
  return storeWith([spec('h-10'), spec('h-40'), spec('h-60'), spec('h-30')], { 'h-10': 0.1, 'h-40': 0.4, 'h-60': 0.6, 'h-30': 0.3 }).snapshot();
};

describe('PlacementRunner', () => {
  it('orders feasible hosts best first by score = −ΔP', () => {
    const snap = RANKED();
    const r = new PlacementRunner().run(input(snap));
    expect(r.considered).toBe(4);
    expect(r.feasible).toBe(4);
    const got = ranked(snap, r);
    expect(got.map((g) => g[0])).toEqual(['h-60', 'h-40', 'h-10', 'h-30']);
    [2.0, 2.5, 3.2, 3.5].forEach((w, i) => {
      expect(got[i][1]).toBeCloseTo(w, 9);
      expect(got[i][2]).toBeCloseTo(-w, 9);
    });
  });

  it.each([1, 2, 3, 4, 10])('topK = %s keeps the best min(K, 4) in the same order, still counting every feasible host', (k) => {
    const snap = RANKED();
    const all = ranked(snap, new PlacementRunner().run(input(snap)));
    const r = new PlacementRunner().run(input(snap, { topK: k }));
    expect(r.feasible).toBe(4);
    expect(r.count).toBe(Math.min(k, 4));
    expect(ranked(snap, r)).toEqual(all.slice(0, k));
  });

  it('ties: equal scores go to the tighter fit, then to the lower host index; candidate order does not matter', () => {
    // Linear 100–200 W hosts never reported: ΔP = 100 W × 1000/8000 = 12.5 W on every one of them.
    // Free CPU share after a 1 000 m workload: loose (0 allocated) 7000/8000 = 0.875,
    // tight (5 400 m) 1600/8000 = 0.2 (and 6400/8000 = 0.8, just at the ceiling),
    // twin-1 and twin-2 (4 000 m each) 3000/8000 = 0.375 → tight, twin-1, twin-2 (lower index), loose.
    const store = storeWith([hostSpec('loose'), hostSpec('twin-1'), hostSpec('twin-2'), hostSpec('tight')], {}, {});
    const snap0 = store.snapshot();
    // never reported but with an allocation: use candidates with the caller's view
    const order = ['loose', 'twin-1', 'twin-2', 'tight'];
    const alloc: Record<string, number> = { loose: 0, 'twin-1': 4000, 'twin-2': 4000, tight: 5400 };
    const run = (ids: string[]) => {
      const hosts = Int32Array.from(ids.map((id) => snap0.indexOf(id)));
      const overrides = {
        allocCpu: Float64Array.from(ids.map((id) => alloc[id])),
        allocMem: new Float64Array(ids.length),
        cpuRatio: new Float64Array(ids.length).fill(NaN),
        memRatio: new Float64Array(ids.length).fill(NaN),
      };
      return ranked(snap0, new PlacementRunner().run(input(snap0, { hosts, overrides })));
    };
    const a = run(order);
    expect(a.map((x) => x[0])).toEqual(['tight', 'twin-1', 'twin-2', 'loose']);
    for (const x of a) expect(x[1]).toBeCloseTo(12.5, 9);
    expect(run([...order].reverse())).toEqual(a);
    expect(run(['twin-2', 'tight', 'loose', 'twin-1'])).toEqual(a);
    // Place's insertion path (finite topK) breaks ties the same way
    const hosts = Int32Array.from(['twin-2', 'loose', 'tight', 'twin-1'].map((id) => snap0.indexOf(id)));
    const overrides = {
      allocCpu: Float64Array.from(['twin-2', 'loose', 'tight', 'twin-1'].map((id) => alloc[id])),
      allocMem: new Float64Array(4),
      cpuRatio: new Float64Array(4).fill(NaN),
      memRatio: new Float64Array(4).fill(NaN),
    };
    expect(ranked(snap0, new PlacementRunner().run(input(snap0, { hosts, overrides, topK: 2 })))).toEqual(a.slice(0, 2));
  });

  it('is deterministic: the same snapshot gives the same numbers on every run', () => {
    const snap = RANKED();
    const runner = new PlacementRunner();
    const first = ranked(snap, runner.run(input(snap)));
    for (let i = 0; i < 5; i++) expect(ranked(snap, runner.run(input(snap)))).toEqual(first);
  });

  it('rejects with the first failing filter in order, and its reason', () => {
    const store = storeWith(
      [
        hostSpec('maint', { state: PowerState.MAINTENANCE, labels: { zone: 'b' } }), // PowerState runs before Labels
        hostSpec('zone-b', { labels: { zone: 'b' } }),
        hostSpec('stale', { labels: { zone: 'a' } }),
        hostSpec('full', { labels: { zone: 'a' } }),
        hostSpec('hot', { labels: { zone: 'a' } }),
        hostSpec('ok', { labels: { zone: 'a' } }),
      ],
      { hot: 0.75, full: 0.1, ok: 0.1 },
      { full: 7500 },
    );
    // make `stale` report 2 minutes before now
    store.report([{ hostId: 'stale', time: (NOW_MS - 120_000) as never, watts: 100 as never, cpuUtil: 0.1, memUtil: 0.1 }], [], NOW_MS);
    const snap = store.snapshot();
    const r = new PlacementRunner().run(input(snap, { demand: demand({ cpu: 1000, selector: { zone: 'a' } }) }));
    const rej = Object.fromEntries(r.rejected.map((x) => [snap.ids[x.hostIndex], [x.plugin, x.reason]]));
    expect(rej).toEqual({
      maint: ['PowerState', 'host is in MAINTENANCE'],
      'zone-b': ['Labels', "label selector: host's label zone has another value"],
      stale: ['Staleness', 'stale telemetry: last sample 120.0 s ago, bound 60.0 s'],
      // 8000 − 7500 = 500 m free < 1000 m
      full: ['Capacity', 'insufficient cpu: requested 1000m, free 500m of 8000m (allocated 7500m, reserved 0m)'],
      // 0.75 + 1000/8000 = 0.875 > 0.8
      hot: ['Ceiling', 'cpu utilization after placement 0.875 would exceed the ceiling 0.8'],
    });
    expect(ranked(snap, r).map((x) => x[0])).toEqual(['ok']);
  });

  it('counts open reservations: a host whose reservations fill it is rejected by Capacity', () => {
    const snap = storeWith([hostSpec('a'), hostSpec('b')]).snapshot();
    const reserved = { cpu: Float64Array.from([7500, 0]), mem: new Float64Array(2) };
    const r = new PlacementRunner().run(input(snap, { reserved }));
    expect(r.rejected).toEqual([
      { hostIndex: 0, plugin: 'Capacity', reason: 'insufficient cpu: requested 1000m, free 500m of 8000m (allocated 0m, reserved 7500m)' },
    ]);
  });

  it('carbon weighting changes the winner: 12 W at 500 g/kWh (6 g/h) loses to 30 W at 100 g/kWh (3 g/h)', () => {
    // A 960 m workload on 8 000 m hosts: Δu = 0.12.
    //   dirty (site coal, 500 g/kWh):  linear 100–200 W → 100·0.12 = 12 W → 12 × 500/1000 = 6 g/h
    //   clean (site hydro, 100 g/kWh): linear 50–300 W  → 250·0.12 = 30 W → 30 × 100/1000 = 3 g/h
    // Unweighted the 12 W host wins; weighted the 3 g/h host wins.
    const store = storeWith([hostSpec('dirty', { site: 'coal' }), hostSpec('clean', { site: 'hydro', power: LINEAR_50_300 })]);
    store.report([], [
      { site: 'coal', time: (NOW_MS - 1000) as never, gramsCo2PerKwh: 500 as never },
      { site: 'hydro', time: (NOW_MS - 1000) as never, gramsCo2PerKwh: 100 as never },
    ], NOW_MS);
    const snap = store.snapshot();
    const plain = ranked(snap, new PlacementRunner().run(input(snap, { demand: demand({ cpu: 960 }) })));
    expect(plain.map((x) => x[0])).toEqual(['dirty', 'clean']);
    expect(plain[0][2]).toBeCloseTo(-12, 9);
    expect(plain[1][2]).toBeCloseTo(-30, 9);
    const weighted = ranked(snap, new PlacementRunner().run(input(snap, { demand: demand({ cpu: 960, config: { carbonWeighting: true } }) })));
    expect(weighted.map((x) => x[0])).toEqual(['clean', 'dirty']);
    expect(weighted[0][1]).toBeCloseTo(30, 9); // marginal watts stay watts
    expect(weighted[0][2]).toBeCloseTo(-3, 9); // score is −g/h
    expect(weighted[1][2]).toBeCloseTo(-6, 9);
  });

  it('a plugin that throws is recorded with its name; the host is rejected with an internal-error reason, the run goes on', () => {
    const snap = RANKED();
    const boom: FilterPlugin = {
      name: 'Boom',
      filter: (_d, h) => {
        if (snap.ids[h.index] === 'h-40') throw new Error('kaput');
        return 0;
      },
      explain: () => 'never called',
    };
    const r = new PlacementRunner([...DEFAULT_FILTERS, boom]).run(input(snap));
    expect(r.pluginErrors).toEqual([{ plugin: 'Boom', hostIndex: snap.indexOf('h-40'), error: 'kaput' }]);
    expect(r.rejected).toEqual([{ hostIndex: snap.indexOf('h-40'), plugin: 'Boom', reason: 'internal error in plugin Boom: kaput' }]);
    expect(ranked(snap, r).map((x) => x[0])).toEqual(['h-60', 'h-10', 'h-30']);
  });

  it('a power model that yields NaN is a Score internal error for that host only', () => {
    const store = storeWith([hostSpec('good'), hostSpec('broken')]);
    const snap = store.snapshot();
    const models = [...snap.models];
    const bad = snap.indexOf('broken');
    models[bad] = { ...models[bad], watts: () => NaN as never };
    const r = new PlacementRunner().run(input({ ...snap, models }));
    expect(r.rejected).toHaveLength(1);
    expect(r.rejected[0]).toMatchObject({ hostIndex: bad, plugin: 'Score' });
    expect(r.rejected[0].reason).toMatch(/^internal error in plugin Score: score is NaN/);
    expect(r.pluginErrors.map((e) => e.plugin)).toEqual(['Score']);
    expect(ranked({ ...snap, models }, r).map((x) => x[0])).toEqual(['good']);
  });
});
