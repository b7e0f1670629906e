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

describe('wattplace_capacity_misses_total', () => {
  it('counts the engine’s capacity misses, read at scrape time; a fresh registry starts at 0', async () => {
    const now = Date.now();
    const wp = new Wattplace({ ...DEFAULT_CORE_CONFIG, snapshotRefreshMs: 0, cpuCeiling: 1 }, () => now);
    const wl = (id: string, cpu: number) => ({ id, demand: { cpuMillis: cpuMillis(cpu), memBytes: memBytes(0) }, selector: {} });
    // a miss before the Metrics exist is not counted by it
    wp.registerHosts([hostSpec('h', { capacity: { cpuMillis: cpuMillis(4000), memBytes: memBytes(1 << 30) } })]);
    expect(() => wp.engine.place({ workload: wl('early', 5000) })).toThrow();
    const m = new Metrics(wp, { defaultMetrics: false });
    const count = async () => (await m.text()).split('\n').find((l) => l.startsWith('wattplace_capacity_misses_total '));
    expect(await count()).toBe('wattplace_capacity_misses_total 0');
    // 5 000 m > 4 000 m: Place and Evaluate both miss; 1 000 m fits: no miss
    expect(() => wp.engine.place({ workload: wl('p', 5000) })).toThrow();
    wp.engine.evaluate({ workload: wl('e', 5000) });
    wp.engine.evaluate({ workload: wl('ok', 1000) });
    expect(await count()).toBe('wattplace_capacity_misses_total 2');
    expect(await count()).toBe('wattplace_capacity_misses_total 2'); // a second scrape adds nothing
    wp.setDraining('h', true);
    wp.engine.screen({ workload: wl('s', 1000) });
    expect(await count()).toBe('wattplace_capacity_misses_total 3');
  });
});
