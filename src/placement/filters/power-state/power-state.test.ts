import { describe, expect, it } from 'vitest';
import { PowerState } from '../../../domain';
import { demand, host } from '../../../../test/fixtures/placement';
import { PASS } from '../../types';
import { powerStateFilter } from '.';

describe('PowerState filter', () => {
  it.each([
    // state                    verdict   reason
    [PowerState.ON, 'pass', ''],
    [PowerState.STANDBY, 'pass', ''], // waking is priced by the marginal-power score, not refused
    [PowerState.MAINTENANCE, 'reject', 'host is in MAINTENANCE'],
  ])('state %s → %s', (state, verdict, reason) => {
    const d = demand();
    const h = host({ state });
    const code = powerStateFilter.filter(d, h);
    if (verdict === 'pass') expect(code).toBe(PASS);
    else {
      expect(code).not.toBe(PASS);
      expect(powerStateFilter.explain(code, d, h)).toBe(reason);
    }
  });
});
