import { describe, expect, it } from 'vitest';
import { cpuMillis, memBytes, PowerState } from '../domain';
import { createPowerModel } from '../power';
import { DEFAULT_PLACEMENT_CONFIG } from './types';
import { buildPruneOrder } from './prune';
import { GiB, hostSpec, storeWith } from '../../test/fixtures/placement';
import { X3470_WATTS } from '../../test/fixtures/power';

describe('power models: least slope on an interval', () => {
  // x3470 table: 41.6 46.7 52.3 57.9 65.4 73 80.7 89.5 99.6 105 113
  // segment slopes (×10): 51 56 56 75 76 77 88 101 54 80
  const table = createPowerModel({ kind: 'table', watts: X3470_WATTS, standbyWatts: 0 });
  const linear = createPowerModel({ kind: 'linear', idleWatts: 100, maxWatts: 300, standbyWatts: 0 });
  // P(u) = 80 + 20·e^(u): P'(u) = 20·e^u, least at the left end
  const exp = createPowerModel({ kind: 'exponential', k0: 80, k1: 20, k2: 1, standbyWatts: 0 });
  it.each([
    ['table [0, 0.8]: segments 0..7, least is segment 0', table, 0, 0.8, 51],
    ['table [0.1, 0.8]: segments 1..7', table, 0.1, 0.8, 56],
    ['table [0.35, 0.8]: segments 3..7', table, 0.35, 0.8, 75],
    ['table [0.75, 1]: segments 7..9, segment 8 is flat-ish', table, 0.75, 1, 54],
    ['table, empty interval: the segment right of u0', table, 0.85, 0.8, 54],
    ['linear: constant 200', linear, 0.3, 0.8, 200],
    ['exponential: 20·e^0.2 at the left end', exp, 0.2, 0.8, 20 * Math.exp(0.2)],
  ])('%s', (_name, model, u0, u1, want) => {
    expect(model.minSlope(u0, u1)).toBeCloseTo(want, 9);
  });
});

describe('prune order', () => {
  it('sorts hosts by the least weighted slope per millicore; hot hosts last; never-reported under overcommit first', () => {
    // a: linear 100→300 on 8,000 m: 200 / 8000 = 0.025 W per millicore
    // b: x3470 on 8,000 m, measured 0.1: 56 / 8000 = 0.007
    // c: linear on 4,000 m: 200 / 4000 = 0.05
    // d: measured 0.9 > ceiling 0.8: cannot take load → last
    // e: STANDBY x3470: from u = 0: 51 / 8000 = 0.006375
    const store = storeWith(
      [
        hostSpec('a', { power: { kind: 'linear', idleWatts: 100, maxWatts: 300, standbyWatts: 0 } }),
        hostSpec('b', { power: { kind: 'table', watts: X3470_WATTS, standbyWatts: 0 } }),
        hostSpec('c', { capacity: { cpuMillis: cpuMillis(4000), memBytes: memBytes(16 * GiB) }, power: { kind: 'linear', idleWatts: 100, maxWatts: 300, standbyWatts: 0 } }),
        hostSpec('d', { power: { kind: 'linear', idleWatts: 100, maxWatts: 300, standbyWatts: 0 } }),
        hostSpec('e', { state: PowerState.STANDBY, power: { kind: 'table', watts: X3470_WATTS, standbyWatts: 0 } }),
      ],
      { a: 0.5, b: 0.1, c: 0.2, d: 0.9 },
    );
    const snap = store.snapshot();
    const p = buildPruneOrder(snap, DEFAULT_PLACEMENT_CONFIG);
    expect([...p.order].map((h) => snap.ids[h])).toEqual(['e', 'b', 'a', 'c', 'd']);
    expect(p.key[0]).toBeCloseTo(51 / 8000, 8);
    expect(p.key[0]).toBeLessThanOrEqual(51 / 8000); // rounded down, never up
    expect(p.key[1]).toBeCloseTo(56 / 8000, 8);
    expect(p.key[4]).toBeGreaterThan(1e300); // MAX_VALUE, low bits cleared
  });
});

describe('prune order with draining hosts', () => {
  it('a draining host goes last, like a host above the ceiling: it can take nothing', () => {
    // b: x3470 at 0.1: 56 / 8000 = 0.007 — the cheapest host, but draining → last
    // a: linear 100→300 on 8,000 m: 200 / 8000 = 0.025
    // c: linear on 4,000 m: 200 / 4000 = 0.05
    const store = storeWith(
      [
        hostSpec('a', { power: { kind: 'linear', idleWatts: 100, maxWatts: 300, standbyWatts: 0 } }),
        hostSpec('b', { power: { kind: 'table', watts: X3470_WATTS, standbyWatts: 0 } }),
        hostSpec('c', { capacity: { cpuMillis: cpuMillis(4000), memBytes: memBytes(16 * GiB) }, power: { kind: 'linear', idleWatts: 100, maxWatts: 300, standbyWatts: 0 } }),
      ],
      { a: 0.5, b: 0.1, c: 0.2 },
    );
    store.setDraining('b', true);
    const snap = store.snapshot();
    const p = buildPruneOrder(snap, DEFAULT_PLACEMENT_CONFIG);
    expect([...p.order].map((h) => snap.ids[h])).toEqual(['a', 'c', 'b']);
    expect(p.key[2]).toBeGreaterThan(1e300);
  });
});
