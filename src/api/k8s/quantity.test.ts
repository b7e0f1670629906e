import { describe, expect, it } from 'vitest';
import { bytesOf, cpuMillisOf, parseQuantity, QuantityError } from './quantity';

// value = mantissa × 10^exp10 × 2^exp2; CPU in millicores and memory in bytes, both rounded up.
describe('Kubernetes quantities', () => {
  it.each([
    // text,        millicores,        bytes              worked out
    ['100m', 100, 1], //                 0.1 B rounds up to 1
    ['1.5', 1500, 2], //                 1.5 B → 2
    ['2', 2000, 2],
    ['2Gi', 2 * 2 ** 30 * 1000, 2147483648], // 2 × 2^30
    ['0.5Gi', 536870912000, 536870912], // 5 × 2^30 / 10
    ['1.5Gi', 1610612736000, 1610612736],
    ['1Ki', 1024000, 1024],
    ['512Mi', 536870912000, 536870912],
    ['500M', 500e9, 500000000],
    ['2k', 2000000, 2000],
    ['1e3', 1000000, 1000],
    ['1E3', 1000000, 1000], //           "E" + digits is an exponent, not exa
    ['12e+2', 1200000, 1200],
    ['1e-3', 1, 1], //                   0.001 → 1 m; 0.001 B → 1 B
    ['1e-4', 1, 1], //                   0.0001 cores → 0.1 m → 1 m (rounds up, like MilliValue)
    ['128974848', 128974848000, 128974848],
    ['0.1m', 1, 1],
    ['1n', 1, 1],
    ['5u', 1, 1],
    ['250u', 1, 1],
    ['1500u', 2, 1], //                  1.5 m → 2 m
    ['+1', 1000, 1],
    ['.5', 500, 1],
    ['5.', 5000, 5],
    ['007', 7000, 7],
    ['0', 0, 0],
    ['0.000', 0, 0],
    [' 250m ', 250, 1], //               Quantity.UnmarshalJSON trims white space
    ['1e-1000', 1, 1], //                tiny but positive
    ['9007199254740991', 9007199254740991000, 9007199254740991],
  ])('%j → %d m, %d B', (text, milli, bytes) => {
    if (Number.isSafeInteger(milli)) expect(cpuMillisOf(text)).toBe(milli);
    else expect(() => cpuMillisOf(text)).toThrow('too large');
    expect(bytesOf(text)).toBe(bytes);
  });

  it.each([
    [2, 2000, 2],
    [0.5, 500, 1],
    [1e21, NaN, NaN], // "1e+21" → too large
  ])('JSON number %d', (n, milli, bytes) => {
    if (Number.isNaN(milli)) {
      expect(() => cpuMillisOf(n)).toThrow('too large');
      expect(() => bytesOf(n)).toThrow('too large');
    } else {
      expect(cpuMillisOf(n)).toBe(milli);
      expect(bytesOf(n)).toBe(bytes);
    }
  });

  it('keeps the sign', () => {
    expect(cpuMillisOf('-1')).toBe(-1000);
    expect(bytesOf('-1.5')).toBe(-2); // away from zero
    expect(parseQuantity('-0').negative).toBe(false);
  });

  it.each(['', ' ', 'm', '.', '-', '+', '1.5.3', '2K', '1gi', '1 Gi', '1KiB', '0x10', '1e', '1e1.5', 'Inf', 'NaN', '1,5', '١', 'Gi', '1mm', '1Gi1', 'e3'])(
    'refuses %j',
    (text) => {
      expect(() => bytesOf(text)).toThrow(QuantityError);
      expect(() => bytesOf(text)).toThrow(/is not a Kubernetes quantity/);
    },
  );

  it.each([
    [null, 'got null'],
    [true, 'got boolean'],
    [{}, 'got object'],
    [Infinity, 'not a finite number'],
    ['1'.repeat(65), 'longer than 64 characters'],
    ['1e99999999999', 'exponent out of range'],
    ['1E', 'too large'], // exa: 10^18 B is past 2^53
    ['9007199254740992', 'too large'],
    ['8Ei', 'too large'],
  ])('refuses %j (%s)', (v, msg) => {
    expect(() => bytesOf(v)).toThrow(msg);
  });
});
