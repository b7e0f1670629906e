import { describe, expect, it } from 'vitest';
import { createPowerModel } from './model';

describe('smoke', () => {
  it('linear', () => {
    expect(createPowerModel({ kind: 'linear', idleWatts: 100, maxWatts: 200, standbyWatts: 0 }).watts(0.5)).toBe(150);
  });
});
