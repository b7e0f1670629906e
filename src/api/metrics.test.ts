import { describe, expect, it } from 'vitest';
import { cpuMillis, epochMs, memBytes, watts } from '../domain';
import { DEFAULT_CORE_CONFIG, Wattplace } from '../decision';
import { hostSpec } from '../../test/fixtures/placement';
import { Metrics } from './metrics';

describe('wattplace_host_watts exposition', () => {
  it('one line per host with a sample, labels escaped, refreshed when hosts or samples change', async () => {
    const now = Date.now();
    const wp = new Wattplace({ ...DEFAULT_CORE_CONFIG, snapshotRefreshMs: 0 }, () => now);
    const m = new Metrics(wp, { defaultMetrics: false });
    wp.registerHosts([hostSpec('plain', { site: 'fra' }), hostSpec('odd"id\\x', { site: 'ber\nlin' }), hostSpec('silent')]);
    const sample = (hostId: string, w: number, t: number) => ({ hostId, time: epochMs(t), watts: watts(w), cpuUtil: 0.1, memUtil: 0.1 });
    wp.report([sample('plain', 110, now - 2000), sample('odd"id\\x', 95.5, now - 2000)]);
    const lines = (await m.text()).split('\n').filter((l) => l.startsWith('wattplace_host_watts'));
    // Prometheus text format: \ → \\, " → \", newline → \n inside label values.
    expect(lines).toEqual(['wattplace_host_watts{host="plain",site="fra"} 110', 'wattplace_host_watts{host="odd\\"id\\\\x",site="ber\\nlin"} 95.5']);
    wp.report([sample('plain', 120, now - 1000)]);
    wp.registerHosts([hostSpec('late', { site: 'fra', capacity: { cpuMillis: cpuMillis(4000), memBytes: memBytes(1 << 30) } })]);
    wp.report([sample('late', 70, now - 500)]);
    const again = (await m.text()).split('\n').filter((l) => l.startsWith('wattplace_host_watts{'));
    expect(again).toEqual(['wattplace_host_watts{host="plain",site="fra"} 120', 'wattplace_host_watts{host="odd\\"id\\\\x",site="ber\\nlin"} 95.5', 'wattplace_host_watts{host="late",site="fra"} 70']);
  });
});
