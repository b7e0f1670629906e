/**
 * A small deterministic PRNG (mulberry32): uniform in [0, 1), the same
 * sequence for the same seed. For reproducible search (solver neighbourhoods),
 * scenario fixtures and benchmarks — never for anything secret.
 */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A uniform and a standard normal stream (Box–Muller) from one seeded rng. */
export function gaussianRng(seed: number): { uniform: () => number; normal: () => number } {
  const uniform = rng(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return { uniform, normal };
}
