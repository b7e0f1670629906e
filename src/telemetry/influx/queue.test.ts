import { describe, expect, it } from 'vitest';
import type { HostSample } from '../../domain';
import { Kind, WriteQueue } from './queue';

const s = (t: number) => ({ hostId: 'h', time: t, watts: 1, cpuUtil: 0, memUtil: 0 }) as unknown as HostSample;
const times = (q: WriteQueue, max = 1e9) => {
  const out: number[] = [];
  q.take(max, (_k, v) => out.push((v as HostSample).time));
  return out;
};

describe('WriteQueue bounds', () => {
  it.each([
    // maxPoints maxBytes  pushes (10 B each)  kept (oldest first)     dropped   worked out
    [5, 1e9, 8, [3, 4, 5, 6, 7], 3], //                                 8 − 5 by count
    [100, 35, 8, [5, 6, 7], 5], //                                      35 B hold 3 points of 10 B
    [8, 80, 8, [0, 1, 2, 3, 4, 5, 6, 7], 0], //                         exactly full: nothing dropped
  ])('maxPoints %i, maxBytes %i, %i pushes → keeps %j, drops %i', (maxPoints, maxBytes, n, kept, dropped) => {
    const q = new WriteQueue({ maxPoints, maxBytes });
    for (let t = 0; t < n; t++) q.push(Kind.Sample, s(t), 10);
    expect(q.droppedTotal).toBe(dropped);
    expect(q.dropped).toEqual([dropped, 0, 0]);
    expect(q.points).toBe(kept.length);
    expect(q.bytes).toBe(kept.length * 10);
    expect(times(q)).toEqual(kept);
  });

  it('never drops the batch in flight; a failed batch is offered again first, in order', () => {
    const q = new WriteQueue({ maxPoints: 4, maxBytes: 1e9 });
    for (let t = 0; t < 4; t++) q.push(Kind.Sample, s(t), 10);
    expect(times(q, 2)).toEqual([0, 1]); // in flight: 0, 1 — queued: 2, 3
    q.push(Kind.Sample, s(4), 10); // full: drops 2 (oldest queued), not 0
    q.push(Kind.Sample, s(5), 10); // drops 3
    expect(q.dropped[0]).toBe(2);
    expect(times(q, 2)).toEqual([0, 1]); // the write failed: the same batch again
    q.commit();
    expect(times(q)).toEqual([4, 5]);
    q.commit();
    expect(q.points).toBe(0);
    expect(q.bytes).toBe(0);
  });

  it('when only the in-flight batch is held and it fills the bound, the new point is the one dropped (counted by kind)', () => {
    const q = new WriteQueue({ maxPoints: 2, maxBytes: 1e9 });
    q.push(Kind.Sample, s(0), 10);
    q.push(Kind.Sample, s(1), 10);
    times(q);
    expect(q.push(Kind.Carbon, { site: 'a', time: 2, gramsCo2PerKwh: 1 } as never, 10)).toBe(1);
    expect(q.dropped).toEqual([0, 0, 1]);
    expect(q.points).toBe(2);
  });
});
