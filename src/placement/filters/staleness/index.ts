import { PASS, type FilterPlugin } from '../../types';
import { toFixed } from '../../format';

/**
 * Staleness: rejected when now − lastSample > staleAfter, unless the request
 * allows stale hosts. A host that never reported is not stale (its score uses
 * its allocation) until its first sample ages out.
 */
export const stalenessFilter: FilterPlugin = {
  name: 'Staleness',
  filter: (d, host) => (!d.allowStale && d.nowMs - host.lastMs > d.config.staleAfterMs ? 1 : PASS),
  explain: (_c, d, host) =>
    `stale telemetry: last sample ${toFixed((d.nowMs - host.lastMs) / 1000, 1)} s ago, bound ${toFixed(d.config.staleAfterMs / 1000, 1)} s`,
};
