import { describe, expect, it } from 'vitest';
import { gaussianRng } from '../../domain';
import { SPECPOWER_TABLES } from '../catalog';
import { createPowerModel } from '../model';
import { fitPowerCurve, isotonic, KNOTS, rejectFit, tableAt, type PowerFit } from './fit';

const rng = gaussianRng;

interface Scenario {
  name: string;
  truth: (u: number) => number;
  n: number;
  noiseW: number;
  /** Share of gross outliers (BMC glitches: spikes of +30…+150 W or drops of −30…−60 W). */
  outlierShare: number;
  seed: number;
}

function synth(s: Scenario): { u: Float64Array; w: Float64Array; injected: number } {
  const r = rng(s.seed);
  const u = new Float64Array(s.n);
  const w = new Float64Array(s.n);
  let injected = 0;
  for (let i = 0; i < s.n; i++) {
    u[i] = r.uniform();
    w[i] = s.truth(u[i]) + s.noiseW * r.normal();
    if (r.uniform() < s.outlierShare) {
      injected++;
      w[i] += r.uniform() < 0.7 ? 30 + 120 * r.uniform() : -(30 + 30 * r.uniform());
    }
  }
  return { u, w, injected };
}

const G4 = createPowerModel({ kind: 'table', watts: SPECPOWER_TABLES['hp-ml110-g4'], standbyWatts: 0 });
const X5670 = createPowerModel({ kind: 'table', watts: SPECPOWER_TABLES['ibm-x3550-x5670'], standbyWatts: 0 });
// P(u) = 70 + 30·e^(1.5u): P(0) = 100 W, P(1) = 70 + 30·4.4817 = 204.45 W
const EXP = (u: number) => 70 + 30 * Math.exp(1.5 * u);

/** Largest relative error of the fitted curve against the truth at u = 0, 0.05, … 1 (the knots and the midpoints). */
function maxRelError(fit: PowerFit, truth: (u: number) => number): number {
  const at = fit.spec.kind === 'exponential' ? (u: number) => createPowerModel(fit.spec).watts(u) : (u: number) => tableAt(fit.table, u);
  let worst = 0;
  for (let k = 0; k <= 20; k++) worst = Math.max(worst, Math.abs(at(k / 20) - truth(k / 20)) / truth(k / 20));
  return worst;
}

describe('fitPowerCurve recovers a known curve from noisy samples within 3 %', () => {
  const cases: (Scenario & { form: 'table' | 'exponential' })[] = [
    { name: 'hp-ml110-g4 table, σ 1.5 W, 10 % outliers', truth: (u) => G4.watts(u), n: 2000, noiseW: 1.5, outlierShare: 0.1, seed: 1, form: 'table' },
    { name: 'ibm-x3550-x5670 table (steep first step), σ 3 W, 15 % outliers', truth: (u) => X5670.watts(u), n: 3000, noiseW: 3, outlierShare: 0.15, seed: 2, form: 'table' },
    { name: 'exponential truth, table form, σ 2 W, 10 % outliers', truth: EXP, n: 2000, noiseW: 2, outlierShare: 0.1, seed: 3, form: 'table' },
    { name: 'exponential truth, exponential form, σ 2 W, 10 % outliers', truth: EXP, n: 2000, noiseW: 2, outlierShare: 0.1, seed: 4, form: 'exponential' },
    { name: 'hp-ml110-g4, small window (256), σ 1 W, 5 % outliers', truth: (u) => G4.watts(u), n: 256, noiseW: 1, outlierShare: 0.05, seed: 5, form: 'table' },
  ];
  it.each(cases)('$name', (c) => {
    const { u, w, injected } = synth(c);
    const fit = fitPowerCurve(u, w, c.n, { form: c.form })!;
    expect(fit).not.toBeNull();
    expect(maxRelError(fit, c.truth)).toBeLessThan(0.03);
    // Outliers rejected: the injected ones are 10σ or more away, so all are found;
    // a 3.5σ cut flags ~0.05 % of the Gaussian inliers on top (allow 1 % of n).
    expect(fit.quality.outliers).toBeGreaterThanOrEqual(injected);
    expect(fit.quality.outliers - injected).toBeLessThanOrEqual(Math.ceil(0.01 * c.n));
    expect(fit.quality.n).toBe(c.n);
    // RMSE on the inliers ≈ the noise σ; R² high.
    expect(fit.quality.rmse).toBeGreaterThan(0.7 * c.noiseW);
    expect(fit.quality.rmse).toBeLessThan(1.3 * c.noiseW);
    expect(fit.quality.r2).toBeGreaterThan(0.9);
    // Never falls with load.
    for (let i = 1; i < KNOTS; i++) expect(fit.table[i]).toBeGreaterThanOrEqual(fit.table[i - 1]);
  });

  it('the outliers matter: a plain least-squares fit of the same data misses by more than 3 %', () => {
    const c = cases[0];
    const { u, w } = synth(c);
    // huberK = ∞ and outlierK = ∞ turn the fit into ordinary least squares.
    const ols = fitPowerCurve(u, w, c.n, { huberK: Infinity, outlierK: Infinity })!;
    expect(maxRelError(ols, c.truth)).toBeGreaterThan(0.03);
    expect(ols.quality.outliers).toBe(0);
  });

  it('the exponential form finds k2 of the truth (1.5) within 0.1', () => {
    const { u, w } = synth({ name: '', truth: EXP, n: 2000, noiseW: 1, outlierShare: 0.1, seed: 6 });
    const fit = fitPowerCurve(u, w, 2000, { form: 'exponential' })!;
    expect(fit.spec.kind).toBe('exponential');
    if (fit.spec.kind === 'exponential') expect(Math.abs(fit.spec.k2 - 1.5)).toBeLessThan(0.1);
  });

  it('noise that would make the curve dip is made monotone (isotonic knots)', () => {
    // A flat 100 W host with σ 4 W noise and only 60 samples: the raw knot fit wiggles.
    const { u, w } = synth({ name: '', truth: () => 100, n: 60, noiseW: 4, outlierShare: 0, seed: 7 });
    const fit = fitPowerCurve(u, w, 60)!;
    for (let i = 1; i < KNOTS; i++) expect(fit.table[i]).toBeGreaterThanOrEqual(fit.table[i - 1]);
    expect(() => createPowerModel(fit.spec)).not.toThrow();
  });
});

describe('fitPowerCurve refuses what it cannot fit', () => {
  it.each([
    ['7 points (< 8)', [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], [1, 2, 3, 4, 5, 6, 7]],
    ['no utilization spread (all at 0.5)', Array(50).fill(0.5), Array(50).fill(120)],
    ['only non-finite pairs', Array(20).fill(NaN), Array(20).fill(100)],
  ])('%s → null', (_n, u, w) => {
    expect(fitPowerCurve(u, w, u.length)).toBeNull();
  });

  it('exact linear data: R² 1, RMSE 0, no outliers, knots on the line', () => {
    // P(u) = 100 + 100u sampled at u = 0, 0.01, … 1
    const u = Array.from({ length: 101 }, (_, i) => i / 100);
    const w = u.map((x) => 100 + 100 * x);
    const fit = fitPowerCurve(u, w, u.length)!;
    expect(fit.quality.r2).toBeCloseTo(1, 9);
    expect(fit.quality.rmse).toBeLessThan(1e-6);
    expect(fit.quality.outliers).toBe(0);
    fit.table.forEach((p, i) => expect(p).toBeCloseTo(100 + 10 * i, 6));
  });
});

describe('isotonic (pool adjacent violators)', () => {
  it.each([
    // values          weights        result (worked out)
    [[1, 3, 2, 4], [1, 1, 1, 1], [1, 2.5, 2.5, 4]], //        (3+2)/2 = 2.5
    [[1, 3, 2, 4], [1, 3, 1, 1], [1, 2.75, 2.75, 4]], //      (3·3 + 2·1)/4 = 2.75
    [[5, 4, 3], [1, 1, 1], [4, 4, 4]], //                     all pooled: 12/3
    [[1, 2, 3], [1, 1, 1], [1, 2, 3]], //                     already monotone
  ])('%j with weights %j → %j', (v, wt, out) => {
    const a = Float64Array.from(v);
    isotonic(a, wt);
    expect(Array.from(a)).toEqual(out);
  });
});

describe('rejectFit thresholds', () => {
  const base: PowerFit = {
    form: 'table',
    spec: { kind: 'table', watts: [100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 200], standbyWatts: 0 },
    table: [100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 200],
    quality: { n: 500, inliers: 480, outliers: 20, r2: 0.97, rmse: 3, sigma: 3, utilP5: 0.1, utilP95: 0.8 },
  };
  const t = { minSamples: 200, minR2: 0.9, maxRmse: 0.05, minUtilSpan: 0.5 };
  const q = (over: Partial<PowerFit['quality']>): PowerFit => ({ ...base, quality: { ...base.quality, ...over } });
  it.each([
    ['good enough', base, null],
    ['199 inliers', q({ inliers: 199 }), 'too few samples'],
    ['spread 0.45 (0.3 → 0.75)', q({ utilP5: 0.3, utilP95: 0.75 }), 'utilization spread'],
    ['R² 0.89', q({ r2: 0.89 }), 'R²'],
    // 0.05 × P(1) = 0.05 × 200 = 10 W: 10 passes, 10.5 fails
    ['RMSE 10 W (= 5 % of 200 W)', q({ rmse: 10 }), null],
    ['RMSE 10.5 W', q({ rmse: 10.5 }), 'RMSE'],
  ])('%s', (_n, fit, expected) => {
    const r = rejectFit(fit, t);
    if (expected === null) expect(r).toBeNull();
    else expect(r).toContain(expected);
  });
});
