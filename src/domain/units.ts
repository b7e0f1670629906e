/**
 * Unit-safe scalar types. Each is a branded number: the compiler refuses to add
 * watts to millicores, while at run time they are plain numbers (no boxing on
 * the hot path, which stores them in Float64Arrays anyway).
 */
declare const brand: unique symbol;
type Branded<T, B extends string> = T & { readonly [brand]: B };

/** Electrical power in watts. */
export type Watts = Branded<number, 'W'>;
/** CPU in millicores: 1000 = one core. */
export type CpuMillis = Branded<number, 'cpuMillis'>;
/** Memory in bytes. */
export type MemBytes = Branded<number, 'memBytes'>;
/** A utilization fraction in [0, 1]. */
export type Util = Branded<number, 'util'>;
/** Carbon intensity in grams CO2 per kWh. */
export type GramsPerKwh = Branded<number, 'gCO2/kWh'>;
/** Milliseconds since the Unix epoch. */
export type EpochMs = Branded<number, 'epochMs'>;

export const watts = (n: number): Watts => n as Watts;
export const cpuMillis = (n: number): CpuMillis => n as CpuMillis;
export const memBytes = (n: number): MemBytes => n as MemBytes;
export const epochMs = (n: number): EpochMs => n as EpochMs;
export const gramsPerKwh = (n: number): GramsPerKwh => n as GramsPerKwh;

/** Clamps to [0, 1]; NaN becomes 0. */
export function util(n: number): Util {
  return (n > 1 ? 1 : n > 0 ? n : 0) as Util;
}

/** The share of `capacity` that `used` represents (0 for a zero capacity). */
export function fractionOf(used: number, capacity: number): number {
  return capacity > 0 ? used / capacity : 0;
}

/** Energy in kWh for `w` watts drawn for `seconds`. */
export function kwh(w: Watts, seconds: number): number {
  return (w * seconds) / 3.6e6;
}
