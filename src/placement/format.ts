const POW10 = [1, 10, 100, 1000, 10_000, 100_000, 1_000_000];

/**
 * `x.toFixed(digits)` for rejection reasons, without the runtime call for the
 * common case. For 0 ≤ x with x·10^digits < 10^9 the product is within 2^-23
 * of its exact value, so unless it lies within 10^-6 of a half (where
 * toFixed's exact-decimal rounding decides) rounding the product gives the
 * same digits. Everything else goes to toFixed itself. format.test.ts checks
 * the two agree.
 */
export function toFixed(x: number, digits: number): string {
  if (x >= 0 && digits >= 1 && digits <= 6) {
    const p = POW10[digits];
    const y = x * p;
    if (y < 1e9) {
      const frac = y - Math.floor(y);
      if (frac < 0.499999 || frac > 0.500001) {
        const r = Math.round(y);
        const ip = Math.floor(r / p);
        const fs = String(r - ip * p);
        return `${ip}.${fs.length < digits ? '0'.repeat(digits - fs.length) : ''}${fs}`;
      }
    }
  }
  return x.toFixed(digits);
}
