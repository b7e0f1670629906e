import { PASS, type FilterPlugin } from '../../types';

/**
 * Draining: a host being drained for STANDBY (its workloads are being
 * live-migrated away before it is powered off) takes nothing new, whatever
 * its power state. Hosts that are not draining pass.
 */
export const drainingFilter: FilterPlugin = {
  name: 'Draining',
  filter: (_d, host) => (host.draining !== 0 ? 1 : PASS),
  explain: () => 'host is draining for standby',
};
