import { describe, expect, it } from 'vitest';
import { NotFoundError } from '../domain';
import { NOW_MS } from '../../test/fixtures/placement';
import { ReservationBook, type ReservationEnd } from './reservations';

const GiB = 1024 ** 3;

function book(ttlMs = 120_000) {
  const b = new ReservationBook(ttlMs);
  const ended: [string, ReservationEnd][] = [];
  b.onEnd = (r, how) => ended.push([r.workloadId, how]);
  return { b, ended };
}

describe('ReservationBook', () => {
  it('reserve adds demand to the host; release takes it away again', () => {
    const { b, ended } = book();
    const r1 = b.reserve('w1', 2, 'h2', 1000, GiB, NOW_MS, { cpu: 0, mem: 0 });
    const r2 = b.reserve('w2', 2, 'h2', 500, 2 * GiB, NOW_MS, { cpu: 0, mem: 0 });
    expect([b.cpu[2], b.mem[2], b.size]).toEqual([1500, 3 * GiB, 2]);
    expect(b.release(r1.id).hostId).toBe('h2');
    expect([b.cpu[2], b.mem[2], b.size]).toEqual([500, 2 * GiB, 1]);
    b.release(r2.id);
    expect([b.cpu[2], b.mem[2], b.size]).toEqual([0, 0, 0]);
    expect(ended).toEqual([['w1', 'released'], ['w2', 'released']]);
  });

  it('releasing an unknown or already released reservation is NotFound', () => {
    const { b } = book();
    expect(() => b.release('no-such-id')).toThrow(NotFoundError);
    const r = b.reserve('w', 0, 'h0', 1, 1, NOW_MS, { cpu: 0, mem: 0 });
    b.release(r.id);
    expect(() => b.release(r.id)).toThrow(`reservation "${r.id}" not found`);
  });

  it('expires exactly at created + TTL, oldest first, and only those', () => {
    const { b, ended } = book(120_000);
    b.reserve('early', 0, 'h0', 1000, 0, NOW_MS, { cpu: 0, mem: 0 }); //       expires NOW + 120 s
    b.reserve('late', 0, 'h0', 2000, 0, NOW_MS + 30_000, { cpu: 0, mem: 0 }); // expires NOW + 150 s
    expect(b.expire(NOW_MS + 119_999)).toBe(0);
    expect(b.cpu[0]).toBe(3000);
    expect(b.expire(NOW_MS + 120_000)).toBe(1);
    expect(b.cpu[0]).toBe(2000);
    expect(b.expire(NOW_MS + 150_000)).toBe(1);
    expect([b.cpu[0], b.size]).toEqual([0, 0]);
    expect(ended).toEqual([['early', 'expired'], ['late', 'expired']]);
  });

  it('an allocation report that reaches the expected allocation confirms the reservations made before it', () => {
    const { b, ended } = book();
    // host allocated 4000 m / 8 GiB when w1 was placed: expect 4000 + 1000 = 5000 m, 8 + 1 = 9 GiB
    const w1 = b.reserve('w1', 0, 'h0', 1000, GiB, NOW_MS, { cpu: 4000, mem: 8 * GiB });
    // w2 after it: expect 4000 + 1000 (w1) + 2000 = 7000 m, 8 + 1 + 2 = 11 GiB
    b.reserve('w2', 0, 'h0', 2000, 2 * GiB, NOW_MS + 10, { cpu: 4000, mem: 8 * GiB });
    expect(w1.expectCpu).toBe(5000);

    expect(b.confirm(0, NOW_MS - 1, 9000, 20 * GiB)).toBe(0); // a report older than both: confirms nothing
    expect(b.confirm(0, NOW_MS + 5, 4999, 9 * GiB)).toBe(0); //   w1 not in it yet (cpu 4999 < 5000)
    expect(b.confirm(0, NOW_MS + 5, 5000, 9 * GiB - 1)).toBe(0); // memory one byte short
    expect(b.confirm(0, NOW_MS + 5, 5000, 9 * GiB)).toBe(1); //   w1 in it; w2 was made after the report
    expect([b.cpu[0], b.mem[0]]).toEqual([2000, 2 * GiB]);
    expect(b.confirm(1, NOW_MS + 20, 1e9, 1e15)).toBe(0); //      another host's report touches nothing here
    expect(b.confirm(0, NOW_MS + 20, 7000, 11 * GiB)).toBe(1);
    expect([b.cpu[0], b.mem[0], b.size]).toEqual([0, 0, 0]);
    expect(ended).toEqual([['w1', 'confirmed'], ['w2', 'confirmed']]);
    expect(() => b.release(w1.id)).toThrow(NotFoundError); // a confirmed reservation is gone
  });

  it('grows its per-host arrays for host indices beyond the initial size', () => {
    const { b } = book();
    b.reserve('w', 5000, 'h5000', 250, 0, NOW_MS, { cpu: 0, mem: 0 });
    expect(b.cpu[5000]).toBe(250);
  });
});
