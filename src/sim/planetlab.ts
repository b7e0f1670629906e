import { createPowerModel } from '../power';
import { catalogSpec } from '../power/catalog';
import { buildFleet, type Fleet, type HostTypeSpec } from './cluster';

/** A host type from the SPECpower catalog. */
export function catalogHostType(
  catalog: string,
  coreMips: number,
  cores: number,
  opts: Partial<Omit<HostTypeSpec, 'model' | 'coreMips' | 'cores'>> = {},
): HostTypeSpec {
  const spec = catalogSpec(catalog, opts.standbyWatts ?? 0);
  if (!spec) throw new Error(`unknown host catalog entry ${catalog}`);
  return {
    name: opts.name ?? catalog,
    coreMips,
    cores,
    ramMb: opts.ramMb ?? 4096,
    bwMbps: opts.bwMbps ?? 1000,
    model: createPowerModel(spec, 'hostTypes'),
    standbyWatts: opts.standbyWatts ?? 0,
    site: opts.site ?? 'default',
    carbon: opts.carbon ?? NaN,
    cost: opts.cost ?? 0,
  };
}

export const HP_G4 = (): HostTypeSpec => catalogHostType('hp-ml110-g4', 1860, 2);
export const HP_G5 = (): HostTypeSpec => catalogHostType('hp-ml110-g5', 2660, 2);

/** CloudSim's PlanetLab fleet: n hosts, host i of type i mod 2 (G4, G5), 4096 MB, 1 Gbit/s. */
export function cloudsimFleet(n = 800): Fleet {
  return buildFleet(
    [
      { type: HP_G4(), count: Math.ceil(n / 2) },
      { type: HP_G5(), count: Math.floor(n / 2) },
    ],
    true,
  );
}
