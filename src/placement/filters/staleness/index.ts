import { PowerState } from '../../../domain';
import { PASS, type FilterPlugin } from '../../types';
import { toFixed } from '../../format';

// A module constant: `PowerState.STANDBY` through the domain barrel is a getter call per host.
const STANDBY: number = PowerState.STANDBY;

/**
 * Staleness: rejected when now − lastSample > staleAfter, unless the request
 * allows stale hosts. A host that never reported is not stale (its score uses
 * its allocation) until its first sample ages out. A STANDBY host is never
 * stale: it is powered off, so it sends nothing, and its state is known from
 * whoever put it there (the applier, or the operator); choosing it means
 * waking it (PlaceResponse.wake).
 */
export const stalenessFilter: FilterPlugin = {
  name: 'Staleness',
  filter: (d, host) => (!d.allowStale && host.state !== STANDBY && d.nowMs - host.lastMs > d.config.staleAfterMs ? 1 : PASS),
  explain: (_c, d, host) =>
    `stale telemetry: last sample ${toFixed((d.nowMs - host.lastMs) / 1000, 1)} s ago, bound ${toFixed(d.config.staleAfterMs / 1000, 1)} s`,
};
