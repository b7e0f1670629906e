import { describe, expect, it } from 'vitest';
import { demand, host } from '../../../../test/fixtures/placement';
import { PASS } from '../../types';
import { labelsFilter } from '.';

describe('Labels filter (exact-match selector)', () => {
  it.each([
    // selector                               host labels                          verdict   reason
    [{}, {}, 'pass', ''],
    [{}, { zone: 'a' }, 'pass', ''],
    [{ zone: 'a' }, { zone: 'a', gpu: 'no' }, 'pass', ''],
    [{ zone: 'a', gpu: 'yes' }, { zone: 'a', gpu: 'yes' }, 'pass', ''],
    [{ zone: 'a' }, { zone: 'b' }, 'reject', "label selector: host's label zone has another value"],
    [{ zone: 'a' }, {}, 'reject', 'label selector: host has no label zone'],
    [{ zone: 'a' }, { Zone: 'a' }, 'reject', 'label selector: host has no label zone'], // keys are case-sensitive
    [{ zone: 'a', gpu: 'yes' }, { zone: 'a', gpu: 'no' }, 'reject', "label selector: host's label gpu has another value"], // names the key that failed
    [{ zone: 'a', gpu: 'yes' }, { zone: 'b' }, 'reject', "label selector: host's label zone has another value"], // the first failing key
    [{ tier: '' }, { tier: 'gold' }, 'reject', "label selector: host's label tier has another value"],
  ] as [Record<string, string>, Record<string, string>, string, string][])('%j on %j → %s', (selector, labels, verdict, reason) => {
    const d = demand({ selector });
    const h = host({ labels });
    const code = labelsFilter.filter(d, h);
    if (verdict === 'pass') expect(code).toBe(PASS);
    else {
      expect(code).not.toBe(PASS);
      expect(labelsFilter.explain(code, d, h)).toBe(reason);
    }
  });
});
