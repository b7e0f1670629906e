import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toFixed } from './format';

describe('toFixed: the same text as Number.prototype.toFixed', () => {
  // Named cases: halves (exact and not exactly representable), zeros, carries, the fallbacks.
  const cases: [string, number, number][] = [
    ['zero', 0, 3],
    ['negative zero', -0, 3],
    ['exact half rounds up (toFixed decides)', 0.5, 0],
    ['1.0005 is stored below the half', 1.0005, 3],
    ['0.0005 is stored above the half', 0.0005, 3],
    ['carry into the integer part', 0.9996, 3],
    ['ceiling-like value', 0.8123456, 3],
    ['staleness-like value', 612.34, 1],
    ['carry 9.96 → 10.0', 9.96, 1],
    ['large, beyond the fast range', 5e9, 1],
    ['negative goes to toFixed', -1.25, 1],
    ['NaN', NaN, 3],
    ['Infinity', Infinity, 3],
  ];
  for (const [name, x, d] of cases) {
    it(`${name}: ${x} with ${d} digits`, () => expect(toFixed(x, d)).toBe(x.toFixed(d)));
  }

  it('agrees for arbitrary doubles and 1–6 digits', () => {
    fc.assert(
      fc.property(fc.oneof(fc.double({ min: 0, max: 2e6, noNaN: true }), fc.double()), fc.integer({ min: 1, max: 6 }), (x, d) => {
        expect(toFixed(x, d)).toBe(x.toFixed(d));
      }),
      { numRuns: 20_000 },
    );
  });

  it('agrees on every multiple of 0.0005 up to 10 (the ties of 3 digits)', () => {
    for (let i = 0; i <= 20_000; i++) {
      const x = i * 0.0005;
      expect(toFixed(x, 3)).toBe(x.toFixed(3));
      expect(toFixed(x, 1)).toBe(x.toFixed(1));
    }
  });
});
