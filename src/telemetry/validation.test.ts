import { describe, expect, it } from 'vitest';
import { cpuMillis, epochMs, memBytes, watts, type HostSample } from '../domain';
import { NOW_MS } from '../../test/fixtures/placement';
import { checkCarbon, checkSample } from './validation';

const LIMITS = { maxClockSkewMs: 5_000 };
const ok: HostSample = { hostId: 'h1', time: epochMs(NOW_MS - 1_000), watts: watts(120), cpuUtil: 0.4, memUtil: 0.5 };
const LAST = NOW_MS - 10_000; // the host's last accepted sample

describe('checkSample: one reason per malformed sample', () => {
  const rows: [string, Partial<HostSample>, number, string | null, RegExp | null][] = [
    // name, change, last accepted ms, field, reason
    ['a good sample', {}, LAST, null, null],
    ['first sample of a host (no last)', {}, NaN, null, null],
    ['zero watts, util exactly 0 and 1', { watts: watts(0), cpuUtil: 0, memUtil: 1 }, LAST, null, null],
    ['missing host id', { hostId: '' }, LAST, 'host_id', /^required$/],
    ['missing time', { time: epochMs(NaN) }, LAST, 'time', /^required$/],
    // now + 5 s is still allowed; now + 5.001 s is not
    ['exactly at the allowed skew', { time: epochMs(NOW_MS + 5_000) }, LAST, null, null],
    ['future beyond the skew', { time: epochMs(NOW_MS + 5_001) }, LAST, 'time', /^in the future: 5001 ms ahead of the server clock \(allowed skew 5000 ms\)$/],
    ['out of order (older than the last)', { time: epochMs(LAST - 1) }, LAST, 'time', /^out of order: .* is not after the last accepted sample/],
    ['duplicate time (equal to the last)', { time: epochMs(LAST) }, LAST, 'time', /^out of order/],
    ['NaN watts', { watts: watts(NaN) }, LAST, 'watts', /^must be a finite number$/],
    ['infinite watts', { watts: watts(Infinity) }, LAST, 'watts', /^must be a finite number$/],
    ['negative watts', { watts: watts(-3) }, LAST, 'watts', /^must be ≥ 0, got -3$/],
    ['cpu util NaN', { cpuUtil: NaN }, LAST, 'cpu_util', /^must be within 0–1, got NaN$/],
    ['cpu util above 1', { cpuUtil: 1.01 }, LAST, 'cpu_util', /^must be within 0–1, got 1.01$/],
    ['cpu util below 0', { cpuUtil: -0.1 }, LAST, 'cpu_util', /^must be within 0–1, got -0.1$/],
    ['mem util above 1', { memUtil: 2 }, LAST, 'mem_util', /^must be within 0–1, got 2$/],
    ['allocated cpu negative', { allocated: { cpuMillis: cpuMillis(-1), memBytes: memBytes(0) } }, LAST, 'allocated.cpu_millis', /whole number ≥ 0, got -1/],
    ['allocated memory fractional', { allocated: { cpuMillis: cpuMillis(0), memBytes: memBytes(1.5) } }, LAST, 'allocated.mem_bytes', /whole number ≥ 0, got 1.5/],
    ['allocated memory beyond 2^53', { allocated: { cpuMillis: cpuMillis(0), memBytes: memBytes(2 ** 54) } }, LAST, 'allocated.mem_bytes', /whole number/],
  ];
  it.each(rows.map(([name, change, last, field, reason]) => ({ name, change, last, field, reason })))('$name', ({ change, last, field, reason }) => {
    const p = checkSample({ ...ok, ...change }, last, NOW_MS, LIMITS);
    if (field === null) expect(p).toBeNull();
    else {
      expect(p?.field).toBe(field);
      expect(p?.reason).toMatch(reason!);
    }
  });

  it('a configured skew of 0 refuses any future stamp', () => {
    expect(checkSample({ ...ok, time: epochMs(NOW_MS + 1) }, NaN, NOW_MS, { maxClockSkewMs: 0 })?.field).toBe('time');
    expect(checkSample({ ...ok, time: epochMs(NOW_MS) }, NaN, NOW_MS, { maxClockSkewMs: 0 })).toBeNull();
  });
});

describe('checkCarbon', () => {
  const c = { site: 's1', time: epochMs(NOW_MS - 1_000), gramsCo2PerKwh: 300 as never };
  it.each([
    ['good', {}, null],
    ['missing site', { site: '' }, 'site'],
    ['missing time', { time: epochMs(NaN) }, 'time'],
    ['future beyond skew', { time: epochMs(NOW_MS + 6_000) }, 'time'],
    ['negative intensity', { gramsCo2PerKwh: -1 }, 'grams_co2_per_kwh'],
    ['NaN intensity', { gramsCo2PerKwh: NaN }, 'grams_co2_per_kwh'],
  ] as [string, object, string | null][])('%s', (_n, change, field) => {
    expect(checkCarbon({ ...c, ...change }, NaN, NOW_MS, LIMITS)?.field ?? null).toBe(field);
  });
  it('out of order against the site’s last value', () => {
    expect(checkCarbon(c, NOW_MS - 500, NOW_MS, LIMITS)?.field).toBe('time');
  });
});
