import { PowerState } from '../../../domain';
import { PASS, type FilterPlugin } from '../../types';

// A module constant: `PowerState.MAINTENANCE` through the domain barrel is a getter call per host.
const MAINTENANCE: number = PowerState.MAINTENANCE;

/**
 * Power state: a host in MAINTENANCE takes nothing new. ON and STANDBY pass
 * (waking a STANDBY host is priced by the marginal-power score).
 */
export const powerStateFilter: FilterPlugin = {
  name: 'PowerState',
  filter: (_d, host) => (host.state === MAINTENANCE ? 1 : PASS),
  explain: () => 'host is in MAINTENANCE',
};
