import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cpuMillis, epochMs, memBytes, PowerState, ValidationError, watts, type Candidate, type PowerModelSpec, type Workload } from '../domain';
import { GiB, hostSpec, NOW_MS } from '../../test/fixtures/placement';
import { G4_WATTS, LINEAR_100_200, LINEAR_50_300, TABLE_G4, X3470_WATTS, X5670_WATTS } from '../../test/fixtures/power';
import type { DecisionRequest, ScreenResult } from './engine';
import { DEFAULT_CORE_CONFIG, Wattplace, type CoreConfig } from './wattplace';

type Form = 'candidateHosts' | 'candidates';
const FORMS: readonly Form[] = ['candidateHosts', 'candidates'];

/** A Wattplace on a frozen clock, snapshots rebuilt on every change. */
function core(config: Partial<CoreConfig> = {}) {
  return new Wattplace({ ...DEFAULT_CORE_CONFIG, snapshotRefreshMs: 0, ...config }, () => NOW_MS);
}
const wl = (id: string, cpu: number, memGiB = 1): Workload => ({ id, demand: { cpuMillis: cpuMillis(cpu), memBytes: memBytes(memGiB * GiB) }, selector: {} });
const cap = (cpu: number) => ({ capacity: { cpuMillis: cpuMillis(cpu), memBytes: memBytes(32 * GiB) } });

type Row = { hostId: string; marginalWatts: number; score: number };

/** A screen's feasible hosts as rows, in its order (copied: the arrays are the engine's scratch). */
function rows(r: ScreenResult): Row[] {
  return Array.from({ length: r.count }, (_, k) => ({ hostId: r.ids[r.hosts[k]], marginalWatts: r.marginal[k], score: r.score[k] }));
}
const byId = (a: Row[]) => [...a].sort((x, y) => (x.hostId < y.hostId ? -1 : x.hostId > y.hostId ? 1 : 0));

/**
 * Six hosts, no telemetry (u = 0), a 2 000 m demand, carbon weighting off (score = −ΔP):
 *   a  linear 100–200 W, 8 000 m   Δu = 0.25  → ΔP = 100 · 0.25          = 25 W
 *   b  linear 50–300 W,  8 000 m   Δu = 0.25  → ΔP = 250 · 0.25          = 62.5 W
 *   c  hp-ml110-g4,     10 000 m   Δu = 0.2   → ΔP = P(0.2) − P(0) = 92.6 − 86 = 6.6 W
 *   m  MAINTENANCE                            → rejected: host is in MAINTENANCE
 *   t  1 000 m                                → rejected: 2 000 m do not fit
 *   d  linear 100–200 W, 16 000 m  Δu = 0.125 → ΔP = 100 · 0.125         = 12.5 W
 * Evaluate's best-first order: c, d, a, b.
 */
function cluster(config: Partial<CoreConfig> = {}) {
  const wp = core(config);
  wp.registerHosts([
    hostSpec('a', { ...cap(8000), power: LINEAR_100_200 }),
    hostSpec('b', { ...cap(8000), power: LINEAR_50_300 }),
    hostSpec('c', { ...cap(10_000), power: TABLE_G4 }),
    hostSpec('m', { state: PowerState.MAINTENANCE }),
    hostSpec('t', cap(1000)),
    hostSpec('d', { ...cap(16_000), power: LINEAR_100_200 }),
  ]);
  return wp;
}
const W = wl('w', 2000);
const EXPECTED_W: Record<string, number> = { a: 25, b: 62.5, c: 6.6, d: 12.5 };
const MAINT = { hostId: 'm', reason: 'host is in MAINTENANCE' };
const TOO_SMALL = { hostId: 't', reason: 'insufficient cpu: requested 2000m, free 1000m of 1000m (allocated 0m, reserved 0m)' };
const unknown = (hostId: string) => ({ hostId, reason: 'unknown host: not registered with wattplace' });

/**
 * Known host names as snapshot indices (what a caller that resolved the names
 * itself sends). Throws on an unknown name: those can only be sent as `candidates`.
 */
function hostIdx(wp: Wattplace, names: readonly string[]): Int32Array {
  const snap = wp.engine.snapshot();
  return Int32Array.from(
    names.map((n) => {
      const h = snap.indexOf(n);
      if (h < 0) throw new Error(`test bug: ${n} is not a registered host`);
      return h;
    }),
  );
}

/** The same names as `candidateHosts` (their snapshot indices) or as `candidates: [{hostId}]`. */
function named(wp: Wattplace, form: Form, names: readonly string[]): Partial<DecisionRequest> {
  return form === 'candidateHosts' ? { candidateHosts: hostIdx(wp, names) } : { candidates: names.map((hostId): Candidate => ({ hostId })) };
}

function validationField(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return (e as ValidationError).field;
  }
  throw new Error('no ValidationError thrown');
}

describe('DecisionEngine.screen gives evaluate’s decision, unsorted', () => {
  it('every host (no names): the worked numbers, in host order; evaluate has the same hosts and numbers, best first', () => {
    const wp = cluster();
    const s = wp.engine.screen({ workload: W });
    const got = rows(s);
    const rejected = s.rejected;
    const examined = s.examined;
    expect(got.map((r) => r.hostId)).toEqual(['a', 'b', 'c', 'd']); // registration order
    for (const r of got) {
      expect(r.marginalWatts).toBeCloseTo(EXPECTED_W[r.hostId], 9);
      expect(r.score).toBe(-r.marginalWatts);
    }
    expect(rejected).toEqual([MAINT, TOO_SMALL]);
    expect(examined).toBe(6);

    const ev = wp.engine.evaluate({ workload: W });
    expect(ev.feasible.map((f) => f.hostId)).toEqual(['c', 'd', 'a', 'b']);
    expect(byId(got)).toEqual(byId(ev.feasible));
    expect(rejected).toEqual(ev.rejected);
    expect(examined).toBe(ev.examined);
    expect(wp.reservations.size).toBe(0); // screen reserves nothing
    wp.close();
  });

  it('host indices are registration order: a=0 b=1 c=2 m=3 t=4 d=5', () => {
    const wp = cluster();
    expect(Array.from(hostIdx(wp, ['a', 'b', 'c', 'm', 't', 'd']))).toEqual([0, 1, 2, 3, 4, 5]);
    // written out by hand, not via indexOf: d, m, b → d, b feasible, m rejected
    const s = wp.engine.screen({ workload: W, candidateHosts: Int32Array.of(5, 3, 1) });
    expect(rows(s).map((r) => r.hostId)).toEqual(['d', 'b']);
    expect(s.rejected).toEqual([MAINT]);
    wp.close();
  });

  // names, the feasible ones in first-mention order, the rejections in order (unknown names first);
  // unknown names ('ghost') only as candidates: an index always names a known host
  type Named = [string[], string[], { hostId: string; reason: string }[]];
  const byName: Named[] = [
    [['d', 'ghost', 'b', 'm', 'a', 'c', 't'], ['d', 'b', 'a', 'c'], [unknown('ghost'), MAINT, TOO_SMALL]],
    [['t', 'm'], [], [TOO_SMALL, MAINT]], // the filters' rejections in the order named
    [['c'], ['c'], []],
    [['b', 'b', 'b'], ['b'], []],
    [['m', 'ghost', 'd'], ['d'], [unknown('ghost'), MAINT]],
  ];
  const byIndex: Named[] = [
    [['d', 'b', 'm', 'a', 'c', 't'], ['d', 'b', 'a', 'c'], [MAINT, TOO_SMALL]],
    [['t', 'm'], [], [TOO_SMALL, MAINT]],
    [['c'], ['c'], []],
    [['b', 'b', 'b'], ['b'], []],
    [['m', 'd'], ['d'], [MAINT]],
  ];
  for (const form of FORMS) {
    it.each(form === 'candidates' ? byName : byIndex)(`names via ${form}: %j → feasible %j, same hosts, numbers and rejections as evaluate`, (names, feasible, rejected) => {
      const wp = cluster();
      const req = { workload: W, ...named(wp, form, names) };
      const got = rows(wp.engine.screen(req));
      const s = wp.engine.screen(req);
      const [sRejected, sExamined] = [s.rejected, s.examined];
      expect(got.map((r) => r.hostId)).toEqual(feasible);
      for (const r of got) expect(r.marginalWatts).toBeCloseTo(EXPECTED_W[r.hostId], 9);
      expect(sRejected).toEqual(rejected);

      const ev = wp.engine.evaluate(req);
      expect(byId(got)).toEqual(byId(ev.feasible)); // identical numbers, not just close
      expect(sRejected).toEqual(ev.rejected);
      expect(sExamined).toBe(ev.examined);
      wp.close();
    });
  }

  it('candidates with their own view (allocation, ratio) are screened as evaluate scores them', () => {
    // a with 4 000 m allocated by the caller: u = 4000/8000 = 0.5 for power (no measurement) → ΔP still 25 W (linear);
    // d with ratio 0.1: schedulable 1 600 m < 2 000 m → rejected by Capacity
    const wp = cluster();
    const req = { workload: W, candidates: [{ hostId: 'a', allocated: { cpuMillis: cpuMillis(4000), memBytes: memBytes(0) } }, { hostId: 'd', cpuAllocationRatio: 0.1 }, { hostId: 'c' }] };
    const got = rows(wp.engine.screen(req));
    expect(got.map((r) => r.hostId)).toEqual(['a', 'c']);
    expect(got[0].marginalWatts).toBeCloseTo(25, 9);
    const ev = wp.engine.evaluate(req);
    expect(byId(got)).toEqual(byId(ev.feasible));
    expect(wp.engine.screen(req).rejected).toEqual(ev.rejected);
    expect(ev.rejected.map((r) => r.hostId)).toEqual(['d']);
    wp.close();
  });
});

describe('DecisionEngine.screen: order and duplicates', () => {
  // names → feasible hosts in the order first named, later mentions dropped
  const cases: [string[], string[]][] = [
    [['c', 'a', 'b', 'a'], ['c', 'a', 'b']],
    [['b', 'b', 'c', 'a', 'c'], ['b', 'c', 'a']],
    [['d', 'c', 'b', 'a'], ['d', 'c', 'b', 'a']],
    [['a', 'm', 'c', 't', 'a', 'm'], ['a', 'c']],
    [['a', 'a', 'a', 'a', 'a', 'a', 'b'], ['a', 'b']],
  ];
  for (const form of FORMS) {
    it.each(cases)(`via ${form}: %j → %j`, (names, order) => {
      const wp = cluster();
      expect(rows(wp.engine.screen({ workload: W, ...named(wp, form, names) })).map((r) => r.hostId)).toEqual(order);
      wp.close();
    });
  }

  it('duplicates are dropped per request: the next request names the same hosts again', () => {
    const wp = cluster();
    expect(rows(wp.engine.screen({ workload: W, candidateHosts: hostIdx(wp, ['a', 'c']) })).map((r) => r.hostId)).toEqual(['a', 'c']);
    expect(rows(wp.engine.screen({ workload: W, candidateHosts: hostIdx(wp, ['c', 'a', 'c']) })).map((r) => r.hostId)).toEqual(['c', 'a']);
    expect(rows(wp.engine.screen({ workload: W, candidateHosts: hostIdx(wp, ['a', 'c']) })).map((r) => r.hostId)).toEqual(['a', 'c']);
    wp.close();
  });

  it('a host registered after earlier requests can be named (the de-duplication table grows)', () => {
    const wp = cluster();
    wp.engine.screen({ workload: W, candidateHosts: hostIdx(wp, ['a']) });
    wp.registerHosts(Array.from({ length: 100 }, (_, i) => hostSpec(`n${i}`)));
    // n0 … n99 get indices 6 … 105
    expect(Array.from(hostIdx(wp, ['n99', 'a', 'n0', 'n99']))).toEqual([105, 0, 6, 105]);
    const got = rows(wp.engine.screen({ workload: W, candidateHosts: hostIdx(wp, ['n99', 'a', 'n0', 'n99']) }));
    expect(got.map((r) => r.hostId)).toEqual(['n99', 'a', 'n0']);
    wp.close();
  });
});

describe('DecisionEngine.screen: unknown names (candidates only)', () => {
  it('rejected once per mention, with the reason; known names still screened', () => {
    const wp = cluster();
    const s = wp.engine.screen({ workload: W, ...named(wp, 'candidates', ['ghost', 'a', 'ghost', 'phantom', 'A']) });
    expect(rows(s).map((r) => r.hostId)).toEqual(['a']);
    // names are case-sensitive: 'A' is not 'a'
    expect(s.rejected).toEqual([unknown('ghost'), unknown('ghost'), unknown('phantom'), unknown('A')]);
    wp.close();
  });

  it('only unknown names: nothing feasible, nothing examined', () => {
    const wp = cluster();
    const s = wp.engine.screen({ workload: W, ...named(wp, 'candidates', ['x', 'y']) });
    expect([s.count, s.examined]).toEqual([0, 0]);
    expect(s.rejected).toEqual([unknown('x'), unknown('y')]);
    wp.close();
  });
});

describe('DecisionEngine.screen: invalid requests', () => {
  it.each([
    ['an empty host id (candidates)', { candidates: [{ hostId: 'a' }, { hostId: '' }] }, 'candidates[1].host_id'],
    ['both candidates and candidate hosts', { candidates: [{ hostId: 'a' }], candidateHosts: Int32Array.of(1) }, 'candidates'],
    ['both, the same host', { candidates: [{ hostId: 'a' }], candidateHosts: Int32Array.of(0) }, 'candidates'],
    ['a negative demand', { workload: wl('w', -1) }, 'workload.demand.cpu_millis'],
  ] as [string, Partial<DecisionRequest>, string][])('%s → ValidationError on %s', (_name, req, field) => {
    const wp = cluster();
    expect(validationField(() => wp.engine.screen({ workload: W, ...req }))).toBe(field);
    wp.close();
  });

  // six hosts: indices 0–5 are hosts, anything else is a caller's bug
  it.each([
    [[6], 'candidateHosts[0] = 6 is not a host index (6 hosts)'],
    [[-1], 'candidateHosts[0] = -1 is not a host index (6 hosts)'],
    [[0, 5, 2, 6], 'candidateHosts[3] = 6 is not a host index (6 hosts)'],
    [[1, -2147483648], 'candidateHosts[1] = -2147483648 is not a host index (6 hosts)'],
    [[2147483647, 0], 'candidateHosts[0] = 2147483647 is not a host index (6 hosts)'],
  ])('an index out of range, %j, is a plain Error (a caller bug, not a ValidationError) naming the position', (idx, message) => {
    const wp = cluster();
    let err: unknown;
    try {
      wp.engine.screen({ workload: W, candidateHosts: Int32Array.from(idx) });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(ValidationError);
    expect((err as Error).constructor).toBe(Error);
    expect((err as Error).message).toBe(message);
    wp.close();
  });

  it('the range is the current snapshot’s: a newly registered host’s index is valid at once, one past it is not', () => {
    const wp = cluster();
    wp.registerHosts([hostSpec('e', { ...cap(8000), power: LINEAR_100_200 })]); // index 6; like a: ΔP = 100 · 0.25 = 25 W
    const got = rows(wp.engine.screen({ workload: W, candidateHosts: Int32Array.of(6, 0) }));
    expect(got.map((r) => r.hostId)).toEqual(['e', 'a']);
    for (const r of got) expect(r.marginalWatts).toBeCloseTo(25, 9);
    expect(() => wp.engine.screen({ workload: W, candidateHosts: Int32Array.of(7) })).toThrow('candidateHosts[0] = 7 is not a host index (7 hosts)');
    wp.close();
  });

  it('an empty list on one side and names on the other is not "both"', () => {
    const wp = cluster();
    expect(rows(wp.engine.screen({ workload: W, candidates: [], candidateHosts: hostIdx(wp, ['c', 'a']) })).map((r) => r.hostId)).toEqual(['c', 'a']);
    expect(rows(wp.engine.screen({ workload: W, candidates: [{ hostId: 'd' }], candidateHosts: new Int32Array(0) })).map((r) => r.hostId)).toEqual(['d']);
    wp.close();
  });

  it('more than maxCandidates names (duplicates and unknown names count) → ValidationError on candidates; exactly the limit is fine', () => {
    const wp = cluster({ maxCandidates: 3 });
    const within: Record<Form, [string[], string[]]> = { candidates: [['a', 'ghost', 'a'], ['a']], candidateHosts: [['a', 'm', 'a'], ['a']] };
    const over: Record<Form, string[][]> = {
      candidates: [['a', 'b', 'c', 'd'], ['a', 'a', 'a', 'a'], ['x', 'y', 'z', 'w', 'v']],
      candidateHosts: [['a', 'b', 'c', 'd'], ['a', 'a', 'a', 'a'], ['a', 'b', 'c', 'm', 't']],
    };
    for (const form of FORMS) {
      expect(rows(wp.engine.screen({ workload: W, ...named(wp, form, within[form][0]) })).map((r) => r.hostId), form).toEqual(within[form][1]);
      for (const names of over[form]) {
        let err: unknown;
        try {
          wp.engine.screen({ workload: W, ...named(wp, form, names) });
        } catch (e) {
          err = e;
        }
        expect(err, `${form} ${names}`).toBeInstanceOf(ValidationError);
        expect((err as ValidationError).field).toBe('candidates');
        expect((err as ValidationError).problem).toBe(`at most 3 candidates per request, got ${names.length}`);
      }
    }
    wp.close();
  });
});

describe('DecisionEngine.screen agrees with evaluate on any cluster (property)', () => {
  const power: fc.Arbitrary<PowerModelSpec> = fc.oneof(
    fc.record({ kind: fc.constant('linear' as const), idleWatts: fc.integer({ min: 40, max: 150 }), maxWatts: fc.integer({ min: 150, max: 400 }), standbyWatts: fc.constant(0) }),
    fc.record({ kind: fc.constant('table' as const), watts: fc.constantFrom(G4_WATTS, X5670_WATTS, X3470_WATTS), standbyWatts: fc.constantFrom(0, 5) }),
    fc.record({ kind: fc.constant('exponential' as const), k0: fc.integer({ min: 50, max: 100 }), k1: fc.integer({ min: 1, max: 40 }), k2: fc.double({ min: 0.1, max: 3, noNaN: true }), standbyWatts: fc.constant(0) }),
  );
  const host = fc.record({
    cpu: fc.constantFrom(4000, 8000, 16000),
    power,
    site: fc.constantFrom('a', 'b'),
    state: fc.constantFrom(PowerState.ON, PowerState.ON, PowerState.STANDBY, PowerState.MAINTENANCE),
    util: fc.option(fc.double({ min: 0, max: 0.95, noNaN: true }), { nil: undefined }),
    stale: fc.constantFrom(false, false, false, true),
    allocShare: fc.double({ min: 0, max: 0.9, noNaN: true }),
    zone: fc.constantFrom('x', 'y'),
  });
  // names: host indices (modulo the cluster's size), or -1 for an unknown host; null = no names (every host)
  const pick = fc.option(
    fc.oneof({ arbitrary: fc.constant([]), weight: 1 }, { arbitrary: fc.array(fc.integer({ min: -1, max: 14 }), { minLength: 2, maxLength: 20 }), weight: 6 }),
    { nil: null, freq: 4 },
  );

  it('same feasible set with identical numbers, same rejections; screen keeps the first-mention order', () => {
    let mixed = 0; // runs naming hosts where two or more passed and some were rejected: the order check has teeth
    fc.assert(
      fc.property(
        fc.array(host, { minLength: 1, maxLength: 15, size: 'large' }),
        fc.integer({ min: 0, max: 4000 }),
        pick,
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.array(fc.option(fc.integer({ min: 0, max: 8000 }), { nil: undefined }), { minLength: 20, maxLength: 20 }),
        (hosts, demand, picked, asCandidates, carbonWeighting, withSelector, overrideAlloc) => {
          const wp = core({ carbonWeighting, cpuAllocationRatio: 1.5 });
          wp.registerHosts(hosts.map((h, i) => hostSpec(`p${i}`, { site: h.site, ...cap(h.cpu), power: h.power, state: h.state, labels: { zone: h.zone } })));
          wp.report(
            hosts
              .map((h, i) => ({
                hostId: `p${i}`,
                time: epochMs(NOW_MS - (h.stale ? 120_000 : 1000)),
                watts: watts(100),
                cpuUtil: h.util ?? 0,
                memUtil: 0.1,
                allocated: { cpuMillis: cpuMillis(Math.floor(h.cpu * h.allocShare)), memBytes: memBytes(0) },
              }))
              .filter((_, i) => hosts[i].util !== undefined),
            [{ site: 'a', time: epochMs(NOW_MS - 1000), gramsCo2PerKwh: 150 as never }],
          );
          // unknown hosts can only be named as candidates: as indices, the known names alone are sent
          const names = picked
            ?.map((i) => (i < 0 ? `ghost${i}` : `p${i % hosts.length}`))
            .filter((id) => asCandidates || !id.startsWith('ghost'));
          const req: DecisionRequest = {
            workload: { ...wl('prop', demand, 0), selector: withSelector ? { zone: 'x' } : {} },
            ...(names === undefined
              ? {}
              : asCandidates
                ? { candidates: names.map((hostId, k): Candidate => (overrideAlloc[k] === undefined ? { hostId } : { hostId, allocated: { cpuMillis: cpuMillis(overrideAlloc[k]!), memBytes: memBytes(0) } })) }
                : { candidateHosts: hostIdx(wp, names) }),
          };
          const s = wp.engine.screen(req);
          const got = rows(s);
          const [sRejected, sExamined] = [s.rejected, s.examined];
          const ev = wp.engine.evaluate(req);

          expect(byId(got)).toEqual(byId(ev.feasible));
          expect(sRejected).toEqual(ev.rejected);
          expect(sExamined).toBe(ev.examined);
          // every named host is either feasible or rejected, once per host; every unknown mention rejected
          const feasibleIds = new Set(got.map((r) => r.hostId));
          expect(feasibleIds.size).toBe(got.length);
          // order: first mention (no names, or an empty list: every host, in host index order)
          const firstMentions = [...new Set(names?.length ? names : hosts.map((_, i) => `p${i}`))];
          expect(got.map((r) => r.hostId)).toEqual(firstMentions.filter((id) => feasibleIds.has(id)));
          const known = firstMentions.filter((id) => !id.startsWith('ghost'));
          expect(got.length + sRejected.filter((r) => !r.hostId.startsWith('ghost')).length).toBe(known.length);
          expect(sRejected.filter((r) => r.hostId.startsWith('ghost')).length).toBe((names ?? []).filter((id) => id.startsWith('ghost')).length);
          if (names?.length && got.length > 1 && sRejected.length > 0) mixed++;
          wp.close();
        },
      ),
      { numRuns: 150, seed: 20261126 },
    );
    expect(mixed).toBeGreaterThan(20);
  });
});
