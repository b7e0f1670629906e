import type { Logger } from 'pino';
import type { Wattplace } from '../../decision';
import type { Metrics } from '../metrics';
import { KeplerCollector, parseKeplerTargets } from './collector';

export * from './collector';
export { readExposition, type ExpositionReadings, type PowerSeries } from './readings';

/** The Kepler configuration keys (src/config.ts). */
export interface KeplerConfig {
  readonly keplerUrls: string;
  readonly keplerIntervalMs: number;
  readonly keplerTimeoutMs: number;
}

/** A collector for the configured exporters, not yet started; undefined when keplerUrls is empty. */
export function keplerFromConfig(cfg: KeplerConfig, deps: { core: Wattplace; log?: Logger; metrics?: Metrics }): KeplerCollector | undefined {
  const targets = parseKeplerTargets(cfg.keplerUrls);
  if (targets.length === 0) return undefined;
  return new KeplerCollector(deps.core, { targets, intervalMs: cfg.keplerIntervalMs, timeoutMs: cfg.keplerTimeoutMs }, deps.log, deps.metrics);
}
