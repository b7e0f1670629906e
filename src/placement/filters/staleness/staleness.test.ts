import { describe, expect, it } from 'vitest';
import { demand, host, NOW_MS } from '../../../../test/fixtures/placement';
import { PowerState } from '../../../domain';
import { PASS } from '../../types';
import { stalenessFilter } from '.';

describe('Staleness filter (bound 60 s)', () => {
  it.each([
    // last sample            allowStale  verdict   reason
    ['never reported', NaN, false, 'pass', ''],
    ['1 s ago', NOW_MS - 1_000, false, 'pass', ''],
    ['exactly 60 s ago (bound is inclusive)', NOW_MS - 60_000, false, 'pass', ''],
    ['60.001 s ago', NOW_MS - 60_001, false, 'reject', 'stale telemetry: last sample 60.0 s ago, bound 60.0 s'],
    ['90 s ago', NOW_MS - 90_000, false, 'reject', 'stale telemetry: last sample 90.0 s ago, bound 60.0 s'],
    ['90 s ago, request allows stale hosts', NOW_MS - 90_000, true, 'pass', ''],
    ['one day ago, request allows stale hosts', NOW_MS - 86_400_000, true, 'pass', ''],
    // a powered-off host sends no telemetry: its state, not its samples, says what it is
    ['one day ago, host in STANDBY', NOW_MS - 86_400_000, false, 'pass', '', PowerState.STANDBY],
    ['90 s ago, host in MAINTENANCE', NOW_MS - 90_000, false, 'reject', 'stale telemetry: last sample 90.0 s ago, bound 60.0 s', PowerState.MAINTENANCE],
  ])('%s → %s', (_name, lastMs, allowStale, verdict, reason, state = PowerState.ON) => {
    const d = demand({ allowStale, config: { staleAfterMs: 60_000 } });
    const h = host({ lastMs, state });
    const code = stalenessFilter.filter(d, h);
    if (verdict === 'pass') expect(code).toBe(PASS);
    else {
      expect(code).not.toBe(PASS);
      expect(stalenessFilter.explain(code, d, h)).toBe(reason);
    }
  });

  it('uses the configured bound: 10 s ago is stale under a 5 s bound', () => {
    const d = demand({ config: { staleAfterMs: 5_000 } });
    const h = host({ lastMs: NOW_MS - 10_000 });
    const code = stalenessFilter.filter(d, h);
    expect(code).not.toBe(PASS);
    expect(stalenessFilter.explain(code, d, h)).toBe('stale telemetry: last sample 10.0 s ago, bound 5.0 s');
  });
});
