import { describe, expect, it } from 'vitest';
import { ValidationError, type PowerModelSpec } from '../domain';
import { EXP_80_20_LN2, G4_WATTS, LINEAR_100_200, TABLE_G4, TABLE_G4_STANDBY_5, X5670_WATTS } from '../../test/fixtures/power';
import { SPECPOWER_TABLES } from './catalog';
import { createPowerModel } from './model';
import { parsePowerModelConfig } from './spec';

describe('linear model P(u) = idle + (max − idle)·u', () => {
  const m = createPowerModel(LINEAR_100_200); // 100 W idle, 200 W max
  it.each([
    // u      P(u)
    [0, 100], //    100 + 100·0
    [0.25, 125], // 100 + 100·0.25
    [0.5, 150], //  100 + 100·0.5
    [0.8, 180], //  100 + 100·0.8
    [1, 200], //    100 + 100·1
    [-0.5, 100], // clamped to u = 0
    [1.5, 200], //  clamped to u = 1
  ])('P(%s) = %s W', (u, w) => {
    expect(m.watts(u)).toBeCloseTo(w, 9);
  });
  it('exposes idle, max and standby (default 0)', () => {
    expect([m.idleWatts, m.maxWatts, m.standbyWatts]).toEqual([100, 200, 0]);
  });
});

describe('SPECpower table model (hp-ml110-g4: 86, 89.4, 92.6, 96, 99.5, 102, 106, 108, 112, 114, 117 W)', () => {
  const m = createPowerModel(TABLE_G4);
  it.each([
    // u      P(u)     worked out: w[i] + (w[i+1] − w[i])·(10u − i)
    [0, 86], //        the 0 % point itself
    [1, 117], //       the 100 % point itself
    [0.1, 89.4], //    exactly on the 10 % point
    [0.5, 102], //     exactly on the 50 % point
    [0.9, 114], //     exactly on the 90 % point
    [0.05, 87.7], //   86 + 3.4·0.5
    [0.37, 98.45], //  96 + 3.5·0.7
    [0.63, 106.6], //  106 + 2·0.3
    [0.95, 115.5], //  114 + 3·0.5 (last segment)
    [0.999, 116.97], // 114 + 3·0.99
    [-1, 86], //       clamped to 0 %
    [2, 117], //       clamped to 100 %
  ])('P(%s) = %s W', (u, w) => {
    expect(m.watts(u)).toBeCloseTo(w, 9);
  });
  it('idle = P(0), max = P(100 %), standby as given', () => {
    const s = createPowerModel(TABLE_G4_STANDBY_5);
    expect([s.idleWatts, s.maxWatts, s.standbyWatts]).toEqual([86, 117, 5]);
  });
  it('ibm-x3550-x5670 between its steep first points: P(0.05) = 66 + 41·0.5 = 86.5 W', () => {
    expect(createPowerModel({ kind: 'table', watts: X5670_WATTS, standbyWatts: 0 }).watts(0.05)).toBeCloseTo(86.5, 9);
  });
  it.each(Object.keys(SPECPOWER_TABLES))('catalog table %s is valid and non-decreasing on a 0.001 grid', (name) => {
    const t = createPowerModel({ kind: 'table', watts: SPECPOWER_TABLES[name], standbyWatts: 0 });
    let prev = -Infinity;
    for (let i = 0; i <= 1000; i++) {
      const w = t.watts(i / 1000);
      expect(w).toBeGreaterThanOrEqual(prev);
      prev = w;
    }
    expect(prev).toBe(SPECPOWER_TABLES[name][10]);
  });
});

describe('exponential model P(u) = K0 + K1·e^(K2·u)', () => {
  const m = createPowerModel(EXP_80_20_LN2); // K0 = 80, K1 = 20, K2 = ln 2 → P(u) = 80 + 20·2^u
  it.each([
    [0, 100], //             80 + 20·1
    [0.5, 108.2842712475], // 80 + 20·√2
    [1, 120], //             80 + 20·2
    [0.25, 103.7841423001], // 80 + 20·2^0.25 = 80 + 20·1.189207115
    [3, 120], //             clamped to u = 1
  ])('P(%s) = %s W', (u, w) => {
    expect(m.watts(u)).toBeCloseTo(w, 8);
  });
  it('idle = K0 + K1 = 100 W, max = K0 + K1·e^K2 = 120 W', () => {
    expect(m.idleWatts).toBeCloseTo(100, 12);
    expect(m.maxWatts).toBeCloseTo(120, 12);
  });
  it('a negative K1 with a negative K2 still rises with load: 200 − 50·e^(−u), P(0) = 150, P(1) = 200 − 50/e ≈ 181.606', () => {
    const n = createPowerModel({ kind: 'exponential', k0: 200, k1: -50, k2: -1, standbyWatts: 0 });
    expect(n.watts(0)).toBeCloseTo(150, 9);
    expect(n.watts(1)).toBeCloseTo(181.6060279, 6);
  });
});

/** Returns the ValidationError `fn` throws (fails the test if it throws nothing or something else). */
function validationError(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return e as ValidationError;
  }
  throw new Error('expected a ValidationError, nothing was thrown');
}

const g4With = (i: number, v: number): number[] => G4_WATTS.map((w, j) => (j === i ? v : w));

describe('malformed models fail with a ValidationError naming the exact field', () => {
  const F = 'hosts[0].power';
  const cases: [string, PowerModelSpec, string][] = [
    ['linear idle negative', { kind: 'linear', idleWatts: -1, maxWatts: 200, standbyWatts: 0 }, `${F}.linear.idle_watts`],
    ['linear idle NaN', { kind: 'linear', idleWatts: NaN, maxWatts: 200, standbyWatts: 0 }, `${F}.linear.idle_watts`],
    ['linear max infinite', { kind: 'linear', idleWatts: 100, maxWatts: Infinity, standbyWatts: 0 }, `${F}.linear.max_watts`],
    ['linear max below idle', { kind: 'linear', idleWatts: 200, maxWatts: 100, standbyWatts: 0 }, `${F}.linear.max_watts`],
    ['table with 10 points', { kind: 'table', watts: G4_WATTS.slice(0, 10), standbyWatts: 0 }, `${F}.table.watts`],
    ['table with 12 points', { kind: 'table', watts: [...G4_WATTS, 120], standbyWatts: 0 }, `${F}.table.watts`],
    ['table point 3 NaN', { kind: 'table', watts: g4With(3, NaN), standbyWatts: 0 }, `${F}.table.watts[3]`],
    ['table point 3 negative', { kind: 'table', watts: g4With(3, -96), standbyWatts: 0 }, `${F}.table.watts[3]`],
    ['table point 3 below point 2 (92.6)', { kind: 'table', watts: g4With(3, 90), standbyWatts: 0 }, `${F}.table.watts[3]`],
    ['table point 10 below point 9 (114)', { kind: 'table', watts: g4With(10, 113), standbyWatts: 0 }, `${F}.table.watts[10]`],
    ['exponential k0 NaN', { kind: 'exponential', k0: NaN, k1: 20, k2: 1, standbyWatts: 0 }, `${F}.exponential.k0`],
    ['exponential k1 infinite', { kind: 'exponential', k0: 80, k1: Infinity, k2: 1, standbyWatts: 0 }, `${F}.exponential.k1`],
    ['exponential k2 NaN', { kind: 'exponential', k0: 80, k1: 20, k2: NaN, standbyWatts: 0 }, `${F}.exponential.k2`],
    ['exponential falling with load (k1·k2 < 0)', { kind: 'exponential', k0: 80, k1: 20, k2: -1, standbyWatts: 0 }, `${F}.exponential.k2`],
    ['exponential k2 beyond ±50', { kind: 'exponential', k0: 80, k1: 1, k2: 51, standbyWatts: 0 }, `${F}.exponential.k2`],
    ['exponential P(0) = k0 + k1 = −40 W', { kind: 'exponential', k0: -50, k1: 10, k2: 1, standbyWatts: 0 }, `${F}.exponential`],
    ['standby negative', { kind: 'linear', idleWatts: 100, maxWatts: 200, standbyWatts: -5 }, `${F}.standby_watts`],
    ['standby NaN', { kind: 'table', watts: G4_WATTS, standbyWatts: NaN }, `${F}.standby_watts`],
    ['standby above idle (86 W)', { kind: 'table', watts: G4_WATTS, standbyWatts: 90 }, `${F}.standby_watts`],
    ['unknown kind', { kind: 'cubic', standbyWatts: 0 } as unknown as PowerModelSpec, `${F}.model`],
  ];
  it.each(cases)('%s → %s', (_name, spec, field) => {
    expect(validationError(() => createPowerModel(spec, F)).field).toBe(field);
  });
  it('the message carries the field and the problem', () => {
    expect(() => createPowerModel({ kind: 'table', watts: g4With(3, 90), standbyWatts: 0 }, F)).toThrow(
      'hosts[0].power.table.watts[3]: must not be below the previous point (92.6), got 90',
    );
  });
});

describe('parsePowerModelConfig (configuration files)', () => {
  it.each([
    [{ linear: { idleWatts: 90, maxWatts: 250 }, standbyWatts: 5 }, 0.5, 170], // 90 + 160·0.5
    [{ table: G4_WATTS }, 0.37, 98.45], //                                         96 + 3.5·0.7
    [{ exponential: { k0: 80, k1: 20, k2: Math.LN2 } }, 1, 120], //              80 + 20·2
    [{ catalog: 'hp-ml110-g5' }, 0.25, 103], //                                  101 + (105 − 101)·0.5
  ])('%j: P(%s) = %s W', (raw, u, w) => {
    expect(createPowerModel(parsePowerModelConfig(raw, 'power')).watts(u)).toBeCloseTo(w, 9);
  });
  it.each([
    [{ catalog: 'hp-ml999' }, 'hosts.h1.power.catalog'],
    [{ linear: { idleWatts: 1, maxWatts: 2 }, table: G4_WATTS }, 'hosts.h1.power'],
    [{}, 'hosts.h1.power'],
    ['linear', 'hosts.h1.power'],
    [{ table: g4With(4, 0) }, 'hosts.h1.power.table.watts[4]'],
  ])('%j fails naming %s', (raw, field) => {
    expect(validationError(() => parsePowerModelConfig(raw, 'hosts.h1.power')).field).toBe(field);
  });
});
