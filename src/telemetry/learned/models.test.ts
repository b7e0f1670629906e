import { describe, expect, it } from 'vitest';
import { cpuMillis, epochMs, memBytes, PowerState, watts, type HostSpec } from '../../domain';
import { MemoryStore } from '../store';
import { DEFAULT_LEARNED_CONFIG, LearnedPowerModels, type LearnedConfig } from './models';

const host = (id: string, state = PowerState.ON): HostSpec => ({
  id,
  site: 'default',
  capacity: { cpuMillis: cpuMillis(8000), memBytes: memBytes(1 << 30) },
  power: { kind: 'linear', idleWatts: 100, maxWatts: 200, standbyWatts: 5 },
  state,
  labels: {},
});

function setup(over: Partial<LearnedConfig> = {}) {
  const store = new MemoryStore({ maxClockSkewMs: 5_000 });
  let changes = 0;
  const learned = new LearnedPowerModels({ ...DEFAULT_LEARNED_CONFIG, mode: 'use', refitMs: 0, ...over }, store, () => changes++);
  store.addListener(learned);
  store.registerHosts([host('a')]);
  const report = (t: number, u: number, w: number) => store.reportOne({ hostId: 'a', time: epochMs(t), cpuUtil: u, memUtil: 0.1, watts: watts(w) }, 1e15);
  return { store, learned, report, changes: () => changes };
}

describe('LearnedPowerModels window', () => {
  it('keeps the newest `window` pairs, oldest first, across the ring wrap', () => {
    const { learned, report } = setup({ window: 16 });
    // 40 samples: pair i = (i/100, 100 + i); the window holds i = 24 … 39.
    for (let i = 0; i < 40; i++) report(1000 + i, i / 100, 100 + i);
    const p = learned.pairs(0);
    expect(p.n).toBe(16);
    expect(Array.from(p.w)).toEqual(Array.from({ length: 16 }, (_, k) => 124 + k));
    expect(p.u[0]).toBeCloseTo(0.24, 6); // Float32 storage
  });

  it('history fills the room left by live samples, older than the oldest live one, without duplicates', () => {
    const { learned, report } = setup({ window: 8 });
    report(5000, 0.5, 150); // live: t = 5000 (e.g. the restored latest sample)
    report(5001, 0.6, 160);
    // History newest first: t = 5001, 5000 (already live), 4999 … 4990.
    const t = [5001, 5000, 4999, 4998, 4997, 4996, 4995, 4994, 4993, 4992, 4991, 4990];
    const u = t.map((x) => (x - 4990) / 100);
    const w = t.map((x) => x - 4900); // 101 … 90
    learned.seed('a', u, w, t);
    // Room 6: the six newest history pairs older than 5000 (4999 … 4994), then the two live ones.
    expect(Array.from(learned.pairs(0).w)).toEqual([94, 95, 96, 97, 98, 99, 150, 160]);
    // A second seed finds no room.
    learned.seed('a', u, w, t);
    expect(learned.pairs(0).n).toBe(8);
  });

  it.each([
    ['5 samples', 5, () => 0.5, 'not enough data to fit: 5 samples (at least 8)'],
    ['50 samples within 0.01', 50, (i: number) => 0.5 + (i % 2) * 0.01, 'cannot fit: the 50 samples span less than 0.05'],
  ])('no fit from %s: the reason says why', (_n, n, u, reason) => {
    const { learned, report } = setup();
    for (let i = 0; i < n; i++) report(1000 + i, u(i), 100);
    learned.refit(0);
    expect(learned.describe('a')!.reason).toContain(reason);
    expect(learned.describe('a')!.fit).toBeUndefined();
  });

  it('ignores STANDBY and MAINTENANCE hosts, and starts counting when one comes ON', () => {
    const { store, learned, report } = setup();
    store.setPowerState('a', PowerState.STANDBY);
    report(1000, 0, 5);
    expect(learned.pairs(0).n).toBe(0);
    store.setPowerState('a', PowerState.ON);
    report(1001, 0.3, 130);
    expect(learned.pairs(0).n).toBe(1);
  });
});

describe('LearnedPowerModels in the store', () => {
  /** P(u) = 80 + 40u exactly, u = 0, 0.004, … (250 pairs): R² 1, RMSE 0. */
  const feed = (report: (t: number, u: number, w: number) => unknown, n = 250) => {
    for (let i = 0; i < n; i++) report(1000 + i, i / n, 80 + (40 * i) / n);
  };

  it('a good fit replaces the declared model in snapshots; an inventory update keeps it', () => {
    const { store, learned, report, changes } = setup();
    feed(report);
    expect(store.snapshot().models[0].watts(0.5)).toBe(150); // declared 100 + 100·0.5
    learned.refit(0);
    expect(changes()).toBe(1);
    expect(store.snapshot().models[0].watts(0.5)).toBeCloseTo(100, 6); // learned 80 + 40·0.5
    expect(store.snapshot().models[0].standbyWatts).toBe(5); // the declared standby kept
    expect(store.snapshot().specs[0].power).toEqual(host('a').power); // the spec is untouched
    store.registerHosts([{ ...host('a'), labels: { x: 'y' } }]);
    expect(store.snapshot().models[0].watts(0.5)).toBeCloseTo(100, 6);
  });

  it('withdraws the learned model when a later fit fails the thresholds', () => {
    const { store, learned, report } = setup({ window: 256 });
    feed(report);
    learned.refit(0);
    expect(learned.describe('a')!.inUse).toBe(true);
    // 256 new pairs at u = 0.4, 0.5, 0.6 only: the spread (p95 − p5 = 0.2) is below 0.5.
    for (let i = 0; i < 256; i++) report(5000 + i, 0.4 + 0.1 * (i % 3), 96 + 4 * (i % 3));
    learned.refit(0);
    const d = learned.describe('a')!;
    expect(d.inUse).toBe(false);
    expect(d.reason).toContain('utilization spread');
    expect(store.snapshot().models[0].watts(0.5)).toBe(150);
  });

  it('refits on its timer without being asked', async () => {
    const { learned, report } = setup({ refitMs: 50 });
    learned.start();
    try {
      feed(report);
      const end = Date.now() + 5_000;
      while (!learned.describe('a')!.inUse && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      expect(learned.describe('a')!.inUse).toBe(true);
    } finally {
      learned.close();
    }
  });
});
