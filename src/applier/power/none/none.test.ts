import { describe, expect, it } from 'vitest';
import { NoPowerDriver } from './none';

describe('power driver none (power managed elsewhere)', () => {
  it.each([
    { name: 'status before anything', steps: [] as ('on' | 'off')[] },
    { name: 'status after off (nothing was switched)', steps: ['off'] as const },
    { name: 'status after off then on', steps: ['off', 'on'] as const },
  ])('$name is unmanaged', async ({ steps }) => {
    const d = new NoPowerDriver();
    for (const s of steps) expect(await d[s]('host1')).toEqual({ ok: true, value: undefined });
    expect(await d.status('host1')).toEqual({ ok: true, value: 'unmanaged' });
  });

  it('says which kind it is, so the applier skips waiting for a power change', () => {
    expect(new NoPowerDriver().kind).toBe('none');
  });
});
