import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError, type HostSpec, type PowerModelSpec } from '../domain';
import { createPowerModel } from '../power';
import { hostSpec } from '../../test/fixtures/placement';
import { EXP_80_20_LN2, G4_WATTS, LINEAR_100_200, LINEAR_50_300, TABLE_G4, TABLE_G4_STANDBY_5 } from '../../test/fixtures/power';
import { MemoryStore } from './store';

function storeOf(...hosts: HostSpec[]) {
  const st = new MemoryStore({ maxClockSkewMs: 5_000 });
  st.registerHosts(hosts);
  return st;
}
/** The model decisions use for host `id`, from a fresh snapshot. */
const modelOf = (st: MemoryStore, id: string) => {
  const snap = st.snapshot();
  return snap.models[snap.indexOf(id)];
};
const spec = (power: unknown) => power as PowerModelSpec;

describe('MemoryStore: hosts of one validated power spec share one model object', () => {
  // [case, power of host a, power of host b] — equal once validated
  const same: [string, PowerModelSpec, PowerModelSpec][] = [
    ['the same spec object', LINEAR_100_200, LINEAR_100_200],
    ['distinct but equal objects', { kind: 'linear', idleWatts: 100, maxWatts: 200, standbyWatts: 0 }, { kind: 'linear', idleWatts: 100, maxWatts: 200, standbyWatts: 0 }],
    // createPowerModel rebuilds the spec field by field in a fixed order: key order does not matter
    ['keys in another order', { kind: 'linear', idleWatts: 100, maxWatts: 200, standbyWatts: 0 }, spec({ standbyWatts: 0, maxWatts: 200, idleWatts: 100, kind: 'linear' })],
    // standby_watts defaults to 0
    ['standby left out vs 0', spec({ kind: 'linear', idleWatts: 100, maxWatts: 200 }), LINEAR_100_200],
    // fields a kind does not use are not part of the validated spec
    ['an unused field', spec({ kind: 'linear', idleWatts: 100, maxWatts: 200, standbyWatts: 0, watts: [1, 2] }), LINEAR_100_200],
    ['tables in distinct arrays', { kind: 'table', watts: [...G4_WATTS], standbyWatts: 0 }, { kind: 'table', watts: [...G4_WATTS], standbyWatts: 0 }],
    ['exponential', { ...EXP_80_20_LN2 }, spec({ k2: Math.LN2, k1: 20, k0: 80, kind: 'exponential', standbyWatts: 0 })],
  ];
  it.each(same)('%s → one object', (_name, pa, pb) => {
    const st = storeOf(hostSpec('a', { power: pa }), hostSpec('b', { power: pb }));
    const snap = st.snapshot();
    expect(snap.models[0]).toBe(snap.models[1]);
    // the declared specs are kept as given
    expect(snap.specs[0].power).toBe(pa);
    expect(snap.specs[1].power).toBe(pb);
  });

  it('shared across calls: a host registered later with an equal spec gets the earlier host’s object', () => {
    const st = storeOf(hostSpec('a', { power: { kind: 'table', watts: [...G4_WATTS], standbyWatts: 5 } }));
    const first = modelOf(st, 'a');
    st.registerHosts([hostSpec('b', { power: TABLE_G4_STANDBY_5 }), hostSpec('c', { power: TABLE_G4 })]);
    expect(modelOf(st, 'b')).toBe(first);
    expect(modelOf(st, 'a')).toBe(first);
    expect(modelOf(st, 'c')).not.toBe(first); // standby 0 W, not 5 W
  });

  // [case, spec, P(0), P(0.5), P(1), standby] — worked out from the fixtures' coefficients
  const distinct: [string, PowerModelSpec, number, number, number, number][] = [
    ['linear 100–200', LINEAR_100_200, 100, 150, 200, 0], // 100 + 100·0.5
    ['linear 50–300', LINEAR_50_300, 50, 175, 300, 0], // 50 + 250·0.5
    ['linear 100–250', { kind: 'linear', idleWatts: 100, maxWatts: 250, standbyWatts: 0 }, 100, 175, 250, 0], // 100 + 150·0.5
    ['linear 100–200, 10 W standby', { kind: 'linear', idleWatts: 100, maxWatts: 200, standbyWatts: 10 }, 100, 150, 200, 10],
    ['hp-ml110-g4 table', TABLE_G4, 86, 102, 117, 0], // the 0 %, 50 %, 100 % points
    ['hp-ml110-g4 table, 5 W standby', TABLE_G4_STANDBY_5, 86, 102, 117, 5],
    ['exponential 80 + 20·2^u', EXP_80_20_LN2, 100, 80 + 20 * Math.SQRT2, 120, 0],
  ];

  it('different specs get different objects, each with its own watts', () => {
    const st = storeOf(...distinct.map(([, power], i) => hostSpec(`h${i}`, { power })));
    const snap = st.snapshot();
    expect(new Set(snap.models).size).toBe(distinct.length);
    distinct.forEach(([name, , p0, pHalf, p1, standby], i) => {
      const m = snap.models[i];
      expect([m.watts(0), m.idleWatts], name).toEqual([p0, p0]);
      expect(m.watts(0.5), name).toBeCloseTo(pHalf, 9);
      expect([m.watts(1), m.maxWatts, m.standbyWatts], name).toEqual([p1, p1, standby]);
    });
  });

  it('1 000 hosts of three hardware types hold three model objects, each host the one of its type', () => {
    const kinds = [LINEAR_100_200, TABLE_G4, EXP_80_20_LN2];
    // every host gets its own copy of the spec object: sharing must come from the values
    const st = storeOf(...Array.from({ length: 1000 }, (_, i) => hostSpec(`h${i}`, { power: JSON.parse(JSON.stringify(kinds[i % 3])) })));
    const snap = st.snapshot();
    expect(new Set(snap.models).size).toBe(3);
    for (let i = 0; i < 1000; i++) expect(snap.models[i]).toBe(snap.models[i % 3]);
    // P(0.5) per type: 150, 102, 80 + 20·√2
    expect([snap.models[0].watts(0.5), snap.models[1].watts(0.5)]).toEqual([150, 102]);
    expect(snap.models[2].watts(0.5)).toBeCloseTo(108.2842712475, 9);
  });

  it('re-registering a host with another spec moves it to that spec’s shared object; its former mates keep theirs', () => {
    const st = storeOf(hostSpec('a'), hostSpec('b'), hostSpec('c', { power: LINEAR_50_300 }));
    const linear = modelOf(st, 'a');
    st.registerHosts([hostSpec('a', { power: { ...LINEAR_50_300 } })]);
    expect(modelOf(st, 'a')).toBe(modelOf(st, 'c'));
    expect(modelOf(st, 'a').watts(0.5)).toBe(175);
    expect(modelOf(st, 'b')).toBe(linear);
    expect(modelOf(st, 'b').watts(0.5)).toBe(150);
  });

  it('a shared model does not follow later changes to the caller’s spec object', () => {
    const w = [...G4_WATTS];
    const st = storeOf(hostSpec('a', { power: { kind: 'table', watts: w, standbyWatts: 0 } }));
    w[5] = 104; // still a valid table: 99.5 ≤ 104 ≤ 106
    expect(modelOf(st, 'a').watts(0.5)).toBe(102);
    // and a host registered with the changed array is a different spec
    st.registerHosts([hostSpec('b', { power: { kind: 'table', watts: w, standbyWatts: 0 } })]);
    expect(modelOf(st, 'b')).not.toBe(modelOf(st, 'a'));
    expect(modelOf(st, 'b').watts(0.5)).toBe(104);
  });

  it('equal specs share, different specs do not (property)', () => {
    const power: fc.Arbitrary<PowerModelSpec> = fc.oneof(
      fc.record({ kind: fc.constant('linear' as const), idleWatts: fc.integer({ min: 50, max: 52 }), maxWatts: fc.constantFrom(200, 201), standbyWatts: fc.constantFrom(0, 1) }),
      fc.record({ kind: fc.constant('table' as const), watts: fc.constantFrom(G4_WATTS, [...G4_WATTS.slice(0, 10), 118]), standbyWatts: fc.constantFrom(0, 1) }),
      fc.record({ kind: fc.constant('exponential' as const), k0: fc.constantFrom(80, 81), k1: fc.constant(20), k2: fc.constantFrom(0.5, 1), standbyWatts: fc.constant(0) }),
    );
    fc.assert(
      fc.property(fc.array(power, { minLength: 1, maxLength: 30 }), (powers) => {
        const st = storeOf(...powers.map((p, i) => hostSpec(`h${i}`, { power: JSON.parse(JSON.stringify(p)) })));
        const models = st.snapshot().models;
        const canon = (p: PowerModelSpec) => JSON.stringify(createPowerModel(p).spec);
        for (let i = 0; i < powers.length; i++) {
          for (let j = 0; j < i; j++) expect(models[i] === models[j]).toBe(canon(powers[i]) === canon(powers[j]));
          for (const u of [0, 0.35, 1]) expect(models[i].watts(u)).toBe(createPowerModel(powers[i]).watts(u));
        }
      }),
      { numRuns: 100, seed: 5 },
    );
  });
});

describe('MemoryStore: an invalid spec is still refused, naming the host’s field', () => {
  const rows: [string, HostSpec[], string][] = [
    ['max below idle (third host)', [hostSpec('a'), hostSpec('b'), hostSpec('c', { power: { kind: 'linear', idleWatts: 100, maxWatts: 50, standbyWatts: 0 } })], 'hosts[2].power.linear.max_watts'],
    ['a table of 10 points', [hostSpec('a'), hostSpec('b', { power: { kind: 'table', watts: G4_WATTS.slice(0, 10), standbyWatts: 0 } })], 'hosts[1].power.table.watts'],
    ['a falling table point', [hostSpec('a', { power: { kind: 'table', watts: [...G4_WATTS.slice(0, 4), 50, ...G4_WATTS.slice(5)], standbyWatts: 0 } })], 'hosts[0].power.table.watts[4]'],
    ['standby above idle', [hostSpec('a', { power: { kind: 'linear', idleWatts: 100, maxWatts: 200, standbyWatts: 101 } })], 'hosts[0].power.standby_watts'],
    ['an unknown kind', [hostSpec('a'), hostSpec('b', { power: spec({ kind: 'quadratic' }) })], 'hosts[1].power.model'],
    ['NaN idle', [hostSpec('a', { power: { kind: 'linear', idleWatts: NaN, maxWatts: 200, standbyWatts: 0 } })], 'hosts[0].power.linear.idle_watts'],
  ];
  it.each(rows)('%s → %s', (_name, hosts, field) => {
    // a store that already shares the valid specs: the cache must not let a bad one through
    const st = storeOf(hostSpec('old'), hostSpec('old-g4', { power: TABLE_G4 }));
    const shared = modelOf(st, 'old');
    let err: unknown;
    try {
      st.registerHosts(hosts);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe(field);
    // nothing registered; the hosts before keep their model
    expect(st.hostCount).toBe(2);
    expect(modelOf(st, 'old')).toBe(shared);
    // a later good host still gets the shared object
    st.registerHosts([hostSpec('new')]);
    expect(modelOf(st, 'new')).toBe(shared);
  });
});

describe('MemoryStore.setPowerModel with a shared model', () => {
  it('a model set for one host does not reach the hosts that share its spec', () => {
    const st = storeOf(hostSpec('a'), hostSpec('b'), hostSpec('c'));
    const shared = modelOf(st, 'a');
    const learned = createPowerModel(LINEAR_50_300);
    st.setPowerModel(st.hostIndex('b'), learned);
    const snap = st.snapshot();
    expect(snap.models[st.hostIndex('b')]).toBe(learned);
    expect(snap.models[st.hostIndex('a')]).toBe(shared);
    expect(snap.models[st.hostIndex('c')]).toBe(shared);
    expect(shared.watts(0.5)).toBe(150); // the shared model itself is untouched: 100 + 100·0.5
  });

  it('null restores a model that behaves as the registered spec, shared again with its mates', () => {
    const st = storeOf(hostSpec('a', { power: TABLE_G4_STANDBY_5 }), hostSpec('b', { power: { kind: 'table', watts: [...G4_WATTS], standbyWatts: 5 } }));
    const h = st.hostIndex('a');
    const before = st.snapshot();
    st.setPowerModel(h, createPowerModel(LINEAR_100_200));
    expect(st.snapshot().models[h].watts(0.5)).toBe(150);
    st.setPowerModel(h, null);
    const snap = st.snapshot();
    const m = snap.models[h];
    // hp-ml110-g4: 86, 89.4, 92.6, 96, 99.5, 102, 106, 108, 112, 114, 117; P(0.25) = (92.6 + 96) / 2
    expect([m.watts(0), m.watts(0.5), m.watts(1), m.standbyWatts]).toEqual([86, 102, 117, 5]);
    expect(m.watts(0.25)).toBeCloseTo(94.3, 9);
    expect(m.spec).toEqual({ kind: 'table', watts: G4_WATTS, standbyWatts: 5 });
    expect(m).toBe(snap.models[st.hostIndex('b')]);
    expect(m).toBe(before.models[h]);
    // a snapshot taken before is a point-in-time copy
    expect(before.models[h].watts(0.5)).toBe(102);
  });

  it('null after a re-registration restores the current spec, not the first one', () => {
    const st = storeOf(hostSpec('a'));
    st.registerHosts([hostSpec('a', { power: LINEAR_50_300 })]);
    st.setPowerModel(0, createPowerModel(TABLE_G4));
    st.setPowerModel(0, null);
    expect(modelOf(st, 'a').watts(0.5)).toBe(175); // 50 + 250·0.5
  });

  it('an index outside the inventory is ignored', () => {
    const st = storeOf(hostSpec('a'));
    const m = modelOf(st, 'a');
    const changes = st.changeCount;
    st.setPowerModel(1, null);
    st.setPowerModel(-1, createPowerModel(TABLE_G4));
    expect(modelOf(st, 'a')).toBe(m);
    expect(st.changeCount).toBe(changes);
  });
});
