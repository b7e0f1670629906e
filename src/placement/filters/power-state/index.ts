import { PowerState } from '../../../domain';
import { PASS, type FilterPlugin } from '../../types';

/**
 * Power state: a host in MAINTENANCE takes nothing new. ON and STANDBY pass
 * (waking a STANDBY host is priced by the marginal-power score).
 */
export const powerStateFilter: FilterPlugin = {
  name: 'PowerState',
  filter: (_d, host) => (host.state === PowerState.MAINTENANCE ? 1 : PASS),
  explain: () => 'host is in MAINTENANCE',
};
