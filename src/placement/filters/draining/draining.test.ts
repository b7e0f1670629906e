import { describe, expect, it } from 'vitest';
import { PowerState } from '../../../domain';
import { demand, host } from '../../../../test/fixtures/placement';
import { PASS } from '../../types';
import { drainingFilter } from '.';

describe('Draining filter', () => {
  it.each([
    // state                    draining  verdict   reason
    [PowerState.ON, 0, 'pass', ''],
    [PowerState.ON, 1, 'reject', 'host is draining for standby'],
    [PowerState.STANDBY, 0, 'pass', ''],
    [PowerState.STANDBY, 1, 'reject', 'host is draining for standby'], // already powered off, flag not yet cleared
    [PowerState.MAINTENANCE, 0, 'pass', ''], // the PowerState filter rejects it, not this one
    [PowerState.MAINTENANCE, 1, 'reject', 'host is draining for standby'],
  ])('state %s, draining %s → %s', (state, draining, verdict, reason) => {
    const d = demand();
    const h = host({ state, draining });
    const code = drainingFilter.filter(d, h);
    if (verdict === 'pass') expect(code).toBe(PASS);
    else {
      expect(code).not.toBe(PASS);
      expect(drainingFilter.explain(code, d, h)).toBe(reason);
    }
  });
});
