import type { PowerModelSpec } from '../domain';

/**
 * SPECpower_ssj2008 tables (watts at 0 %, 10 %, … 100 % load) for hosts used
 * in published energy-aware placement studies. Source: CloudSim's
 * PowerModelSpecPower* classes (Beloglazov & Buyya, CCPE 2012).
 */
export const SPECPOWER_TABLES: Readonly<Record<string, readonly number[]>> = {
  'hp-ml110-g4': [86, 89.4, 92.6, 96, 99.5, 102, 106, 108, 112, 114, 117],
  'hp-ml110-g5': [93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133, 135],
  'ibm-x3250-x3470': [41.6, 46.7, 52.3, 57.9, 65.4, 73, 80.7, 89.5, 99.6, 105, 113],
  'ibm-x3250-x3480': [42.3, 46.7, 49.7, 55.4, 61.8, 69.3, 76.1, 87, 96.1, 106, 113],
  'ibm-x3550-x5670': [66, 107, 120, 131, 143, 156, 173, 191, 211, 229, 247],
  'ibm-x3550-x5675': [58.4, 98, 109, 118, 128, 140, 153, 170, 189, 205, 222],
};

/** The catalog entry as a table spec, or undefined for an unknown name. */
export function catalogSpec(name: string, standbyWatts = 0): PowerModelSpec | undefined {
  const w = SPECPOWER_TABLES[name];
  return w ? { kind: 'table', watts: w, standbyWatts } : undefined;
}
