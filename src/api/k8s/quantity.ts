/**
 * Kubernetes resource quantities (k8s.io/apimachinery resource.Quantity),
 * parsed exactly with integer arithmetic: no floating point touches a value.
 *
 * Grammar (apimachinery/pkg/api/resource/quantity.go):
 *   <quantity>        ::= <signedNumber><suffix>
 *   <signedNumber>    ::= <number> | <sign><number>
 *   <sign>            ::= "+" | "-"
 *   <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
 *   <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
 *   <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
 *   <decimalSI>       ::= n | u | m | "" | k | M | G | T | P | E
 *   <decimalExponent> ::= "e" <signedNumber> | "E" <signedNumber>   (an integer exponent)
 * "E" alone is exa (10^18); "E" followed by digits is an exponent ("1E3" = 1000).
 * Suffixes are case-sensitive: "2k" is 2000, "2K" is malformed, "1Ki" is 1024.
 *
 * As Quantity.UnmarshalJSON does, a JSON number is accepted too, and
 * surrounding white space is ignored. Conversions round up (away from zero),
 * like Quantity.MilliValue() and Value(): "0.1m" CPU is 1 millicore,
 * "0.5" bytes is 1 byte. The one deliberate difference: a sign with no digits
 * ("-", "."), which the Go parser reads as 0, is refused as malformed.
 */

const GRAMMAR = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(?:(Ki|Mi|Gi|Ti|Pi|Ei)|[eE]([+-]?[0-9]+)|(n|u|m|k|M|G|T|P|E)?)$/;
const DECIMAL_SI: Readonly<Record<string, number>> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY_SI: Readonly<Record<string, number>> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
/** Longest quantity text accepted (the API server's own values are far shorter). */
export const MAX_QUANTITY_CHARS = 64;

/** value = sign × mantissa × 10^exp10 × 2^exp2, mantissa a non-negative integer. */
export interface ParsedQuantity {
  readonly negative: boolean;
  readonly mantissa: bigint;
  readonly exp10: number;
  readonly exp2: number;
}

export class QuantityError extends Error {}

/** Parses a quantity as it appears in Kubernetes JSON; throws QuantityError with the problem. */
export function parseQuantity(raw: unknown): ParsedQuantity {
  let text: string;
  if (typeof raw === 'number') {
    if (!Number.isFinite(raw)) throw new QuantityError(`not a finite number: ${raw}`);
    text = String(raw);
  } else if (typeof raw === 'string') {
    text = raw.trim();
  } else {
    throw new QuantityError(`must be a quantity string such as "500m" or "1Gi", got ${raw === null ? 'null' : typeof raw}`);
  }
  if (text.length > MAX_QUANTITY_CHARS) throw new QuantityError(`longer than ${MAX_QUANTITY_CHARS} characters`);
  const m = GRAMMAR.exec(text);
  const intPart = m?.[2] ?? '';
  const fracPart = m?.[3] ?? '';
  if (!m || intPart.length + fracPart.length === 0) {
    throw new QuantityError(`${JSON.stringify(text)} is not a Kubernetes quantity (e.g. "100m", "1.5", "2Gi", "500M", "1e3")`);
  }
  let exp10 = -fracPart.length;
  let exp2 = 0;
  if (m[4] !== undefined) exp2 = BINARY_SI[m[4]];
  else if (m[5] !== undefined) {
    const e = Number(m[5]);
    // Go keeps the exponent in an int32; beyond that the text is malformed there too.
    if (!Number.isSafeInteger(e) || Math.abs(e) > 2 ** 31 - 1) throw new QuantityError(`exponent out of range in ${JSON.stringify(text)}`);
    exp10 += e;
  } else exp10 += DECIMAL_SI[m[6] ?? ''];
  const digits = (intPart + fracPart).replace(/^0+/, '');
  return { negative: m[1] === '-' && digits !== '', mantissa: BigInt(digits === '' ? '0' : digits), exp10, exp2 };
}

/**
 * The quantity in units of 10^scale (scale −3: milli-units), rounded up away
 * from zero, as a safe integer; QuantityError when it does not fit.
 */
export function scaledValue(q: ParsedQuantity, scale: number): number {
  if (q.mantissa === 0n) return 0;
  const e = q.exp10 - scale;
  const mantissaDigits = q.mantissa.toString().length;
  // |value| ≥ 10^(digits−1+e) × 2^exp2: anything with more than ~20 digits is far past 2^53.
  if (mantissaDigits + e + Math.ceil(q.exp2 * Math.LOG10E * Math.LN2) > 20) throw new QuantityError('too large');
  let n: bigint;
  const pow2 = 1n << BigInt(q.exp2);
  if (e >= 0) n = q.mantissa * pow2 * 10n ** BigInt(e);
  else if (-e > mantissaDigits + 20) n = 1n; // 0 < value < 1 unit: rounds up to one
  else {
    const num = q.mantissa * pow2;
    const den = 10n ** BigInt(-e);
    n = (num + den - 1n) / den;
  }
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new QuantityError('too large');
  const v = Number(n);
  return q.negative ? -v : v;
}

/** CPU quantity → millicores (MilliValue: "100m" → 100, "1.5" → 1500, "0.0001" → 1). */
export function cpuMillisOf(raw: unknown): number {
  return scaledValue(parseQuantity(raw), -3);
}

/** Memory quantity → bytes (Value: "2Gi" → 2147483648, "500M" → 500000000, "0.5" → 1). */
export function bytesOf(raw: unknown): number {
  return scaledValue(parseQuantity(raw), 0);
}
