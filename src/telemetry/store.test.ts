import { describe, expect, it } from 'vitest';
import { cpuMillis, epochMs, memBytes, PowerState, ValidationError, watts, type HostSample } from '../domain';
import { GiB, hostSpec, NOW_MS } from '../../test/fixtures/placement';
import { G4_WATTS, TABLE_G4 } from '../../test/fixtures/power';
import { MemoryStore } from './store';
import { SnapshotCollector } from './collector';

const s = (hostId: string, dtMs: number, change: Partial<HostSample> = {}): HostSample => ({
  hostId,
  time: epochMs(NOW_MS + dtMs),
  watts: watts(100),
  cpuUtil: 0.3,
  memUtil: 0.4,
  ...change,
});

function store() {
  const st = new MemoryStore({ maxClockSkewMs: 5_000 });
  st.registerHosts([hostSpec('a'), hostSpec('b'), hostSpec('c')]);
  return st;
}

describe('MemoryStore.report: bad samples are rejected one by one, the rest of the batch is kept', () => {
  it('returns the counts and a reason per rejected sample, with its index and field', () => {
    const st = store();
    const batch: HostSample[] = [
      s('a', -3_000, { cpuUtil: 0.25 }), //  0 ok
      s('a', -4_000), //                     1 out of order: older than sample 0 (accepted just before)
      s('b', -2_000, { watts: watts(NaN) }), // 2 NaN watts
      s('b', -1_000, { watts: watts(-5) }), //  3 negative watts
      s('c', -1_000, { cpuUtil: 1.2 }), //   4 util outside 0–1
      s('c', -900, { memUtil: -0.01 }), //   5 util outside 0–1
      s('zz', -1_000), //                    6 unknown host
      s('b', 60_000), //                     7 60 s in the future, beyond the 5 s skew
      s('b', -500, { cpuUtil: 0.5, allocated: { cpuMillis: cpuMillis(2000), memBytes: memBytes(GiB) } }), // 8 ok
      s('c', -800, { cpuUtil: 0.75 }), //    9 ok (c's earlier samples were rejected, so there is no "last")
    ];
    const r = st.report(batch, [], NOW_MS);
    expect([r.accepted, r.rejected]).toEqual([3, 7]);
    expect(r.errors.map((e) => [e.index, e.hostId, e.field])).toEqual([
      [1, 'a', 'samples[1].time'],
      [2, 'b', 'samples[2].watts'],
      [3, 'b', 'samples[3].watts'],
      [4, 'c', 'samples[4].cpu_util'],
      [5, 'c', 'samples[5].mem_util'],
      [6, 'zz', 'samples[6].host_id'],
      [7, 'b', 'samples[7].time'],
    ]);
    expect(r.errors[1].reason).toBe('must be a finite number');
    expect(r.errors[5].reason).toBe('unknown host "zz": register it first');
    expect(r.errors[6].reason).toMatch(/^in the future: 60000 ms ahead/);

    const snap = st.snapshot();
    const i = (id: string) => snap.indexOf(id);
    expect(snap.cpuUtil[i('a')]).toBe(0.25);
    expect(snap.lastSampleMs[i('a')]).toBe(NOW_MS - 3_000);
    expect(snap.cpuUtil[i('b')]).toBe(0.5);
    expect([snap.allocCpu[i('b')], snap.allocMem[i('b')]]).toEqual([2000, GiB]);
    expect(snap.cpuUtil[i('c')]).toBe(0.75);
  });

  it('a host that never reported has NaN measurements and no allocation', () => {
    const snap = store().snapshot();
    expect(Number.isNaN(snap.lastSampleMs[0])).toBe(true);
    expect(Number.isNaN(snap.cpuUtil[0])).toBe(true);
    expect(snap.allocCpu[0]).toBe(0);
  });

  it('reportOne gives the same verdicts as a batch (streaming ingest)', () => {
    const st = store();
    expect(st.reportOne(s('a', -1000), NOW_MS)).toBeNull();
    expect(st.reportOne(s('a', -1000), NOW_MS)?.field).toBe('time'); // duplicate time
    expect(st.reportOne(s('nobody', -1000), NOW_MS)).toEqual({ field: 'host_id', reason: 'unknown host "nobody": register it first' });
  });

  it('carbon: a bad value is rejected without creating a site; a good one is kept per site', () => {
    const st = store();
    const r = st.report(
      [],
      [
        { site: 'fra', time: epochMs(NOW_MS - 1000), gramsCo2PerKwh: 350 as never },
        { site: 'ams', time: epochMs(NOW_MS - 1000), gramsCo2PerKwh: -1 as never },
      ],
      NOW_MS,
    );
    expect([r.sitesAccepted, r.sitesRejected]).toEqual([1, 1]);
    expect(r.errors[0].field).toBe('sites[1].grams_co2_per_kwh');
    const snap = st.snapshot();
    expect(snap.sites).toEqual(['default', 'fra']);
    expect(snap.siteCarbon[1]).toBe(350);
  });
});

describe('MemoryStore.registerHosts', () => {
  it('re-registering updates the inventory and keeps the telemetry', () => {
    const st = store();
    st.report([s('a', -1000, { cpuUtil: 0.6 })], [], NOW_MS);
    const r = st.registerHosts([
      hostSpec('a', { capacity: { cpuMillis: cpuMillis(16_000), memBytes: memBytes(64 * GiB) }, power: TABLE_G4, state: PowerState.STANDBY, labels: { zone: 'x' }, site: 'fra' }),
      hostSpec('d'),
    ]);
    expect(r).toEqual({ registered: 1, updated: 1 });
    const snap = st.snapshot();
    const a = snap.indexOf('a');
    expect(a).toBe(0); // index is stable
    expect(snap.capCpu[a]).toBe(16_000);
    expect(snap.state[a]).toBe(PowerState.STANDBY);
    expect(snap.specs[a].labels).toEqual({ zone: 'x' });
    expect(snap.sites[snap.siteIndex[a]]).toBe('fra');
    expect(snap.models[a].watts(0.5)).toBe(G4_WATTS[5]);
    expect(snap.cpuUtil[a]).toBe(0.6);
    expect(snap.size).toBe(4);
  });

  it('one malformed host fails the whole call and registers nothing', () => {
    const st = new MemoryStore({ maxClockSkewMs: 5_000 });
    let err: unknown;
    try {
      st.registerHosts([hostSpec('ok'), hostSpec('bad', { power: { kind: 'linear', idleWatts: 100, maxWatts: 50, standbyWatts: 0 } })]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe('hosts[1].power.linear.max_watts');
    expect(st.hostCount).toBe(0);
    expect(st.snapshot().indexOf('ok')).toBe(-1);
  });

  it('a snapshot is a point-in-time copy: later samples and hosts do not show in it', () => {
    const st = store();
    const before = st.snapshot();
    st.report([s('a', -1000, { cpuUtil: 0.9 })], [], NOW_MS);
    st.registerHosts([hostSpec('late')]);
    expect(Number.isNaN(before.cpuUtil[0])).toBe(true);
    expect(before.indexOf('late')).toBe(-1);
    expect(before.size).toBe(3);
    expect(st.snapshot().cpuUtil[0]).toBe(0.9);
  });
});

describe('SnapshotCollector', () => {
  it('rebuilds at most every refreshMs while samples arrive; refresh() rebuilds at once', () => {
    let now = NOW_MS;
    const st = store();
    const col = new SnapshotCollector(st, 50, () => now);
    st.report([s('a', -2000, { cpuUtil: 0.2 })], [], NOW_MS);
    col.changed(); // nothing built yet since construction: rebuilt at once, at `now`
    expect(col.current().cpuUtil[0]).toBe(0.2);
    const v0 = col.current().version;
    st.report([s('a', -1000, { cpuUtil: 0.4 })], [], NOW_MS);
    col.changed(); // 0 ms after the last build: deferred
    expect(col.current().version).toBe(v0);
    now += 50;
    col.changed(); // 50 ms later → rebuilt now
    expect(col.current().cpuUtil[0]).toBe(0.4);
    st.report([s('a', -500, { cpuUtil: 0.45 })], [], NOW_MS);
    col.refresh();
    expect(col.current().cpuUtil[0]).toBe(0.45);
    const v = col.current().version;
    col.refresh(); // nothing changed: same snapshot
    expect(col.current().version).toBe(v);
    col.close();
  });
});

describe('MemoryStore.setDraining', () => {
  it('keeps the flag per host in the snapshot, bumps changeCount, and refuses an unknown host', () => {
    const st = store();
    const before = st.snapshot();
    const c0 = st.changeCount;
    expect(st.setDraining('b', true)).toBe(true);
    expect(st.changeCount).toBe(c0 + 1);
    expect([...before.draining]).toEqual([0, 0, 0]); // an older snapshot is a copy
    expect([...st.snapshot().draining]).toEqual([0, 1, 0]);
    expect(st.setDraining('zz', true)).toBe(false);
    expect(st.changeCount).toBe(c0 + 1);
    // new hosts past the first columns' 16 entries start not draining; the flag survives re-registering and growth
    st.registerHosts(Array.from({ length: 20 }, (_, i) => hostSpec(`n${i}`)));
    st.registerHosts([hostSpec('b', { state: PowerState.STANDBY })]);
    const snap = st.snapshot();
    expect(snap.size).toBe(23);
    expect(snap.draining[snap.indexOf('b')]).toBe(1);
    expect([...snap.draining].reduce((a, x) => a + x, 0)).toBe(1);
    expect(st.setDraining('b', false)).toBe(true);
    expect(st.snapshot().draining[1]).toBe(0);
  });

  it('the collector rebuilds after setDraining on refresh()', () => {
    const st = store();
    const col = new SnapshotCollector(st, 60_000, () => NOW_MS);
    st.setDraining('a', true);
    expect(col.current().draining[0]).toBe(0); // not yet rebuilt
    expect(col.refresh().draining[0]).toBe(1);
  });
});
