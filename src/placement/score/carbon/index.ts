import type { HostCursor, PreparedDemand } from '../../types';

/**
 * Carbon weighting: score = −ΔP × I_site / 1000, i.e. grams CO2 per hour added
 * (W × g/kWh / 1000 = g/h). A site that never reported uses the configured
 * default intensity. Without weighting the factor is 1 and the score is −ΔP.
 */
export function carbonFactor(d: PreparedDemand, h: HostCursor): number {
  if (!d.config.carbonWeighting) return 1;
  const i = h.carbon === h.carbon ? h.carbon : d.config.defaultCarbonIntensity;
  return i / 1000;
}
